"""The analyses from Python, for notebooks: the workflow's own library calls, on cases of your own.

    from multihop import api
    model = api.load_model("bundled:tiny-llama")
    case = api.make_case(model, e1=("Q193580", "Imagine"), r1=("P175", "the performer of {}"),
                         e2=("Q1203", "John Lennon"), r2=("P26", "the spouse of {}"), e3=("Q117012", "Yoko Ono"))
    table = api.run_analysis("backpatching", model, [case])
    api.draw("backpatching", table, model)

An entity is (QID, label) or (QID, label, aliases); a relation is (PID, template with {}). The
settings are those of the project's config.yaml (`analyses`, and `match` from `evaluation`);
`api.analysis_settings(...)` changes some. docs/notebook.ipynb shows all of it on the tiny test model.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from multihop.analyses import runner
from multihop.analyses.cases import Case, load_cases, locate_all
from multihop.analyses.catalog import CATALOG, added_settings
from multihop.dataset.chain_file import import_chains
from multihop.errors import UserError
from multihop.models.adapter import Adapter

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


@dataclass
class Model:
    """A loaded model as the analyses read it, with the prompt prefix its cases start with."""

    name: str
    adapter: Any  # multihop.models.adapter.Adapter
    tokenizer: Any
    prefix: str = ""


def analysis_settings(**changes) -> dict:
    """The analyses' settings of the project's config.yaml (and its `evaluation.match` and
    `evaluation.one_character`), changed by `changes`."""
    config = yaml.safe_load(CONFIG.read_text())
    # the settings analyses add (their defaults live in their catalog entries), then config.yaml's
    analyses = {name: spec["default"] for name, spec in added_settings().items()} | config["analyses"]
    unknown = set(changes) - set(analyses) - {"match", "one_character"}
    if unknown:
        raise UserError(f"no analysis setting named {', '.join(sorted(unknown))} (see config.yaml, analyses:)")
    judging = {key: config["evaluation"][key] for key in ("match", "one_character")}
    return {**analyses, **judging, **changes}


def load_model(source: str, dtype: str = "auto", device: str = "auto", prefix: str = "") -> Model:
    """A model from a hub id, a local directory or `bundled:<name>` (built under resources/ first
    if it is not there yet); `prefix`: demonstrations every prompt starts with."""
    from multihop.models import bundled
    from multihop.models.loading import load

    local = bundled.bundled_dir(source)
    if local and not (Path(local) / "config.json").is_file():
        bundled.prepare(bundled.bundled_name(source), local)
    model, tokenizer = load(source, dtype, device)
    return Model(source, Adapter(model), tokenizer, prefix)


def make_case(model: Model, *, e1, r1, e2, r2, e3, capitalize: bool = False, one_character: str = "alias") -> Case:
    """One two-hop case (e1 -r1-> e2 -r2-> e3): its row read as a chain file's row is
    (`chain_file.import_chains`), its token positions found as the workflow finds them."""
    row = {}
    for slot, (qid, label, *aliases) in {"e1": e1, "e2": e2, "e3": e3}.items():
        row |= {slot: qid, f"{slot}_label": label, f"{slot}_aliases": list(aliases[0]) if aliases else []}
    for slot, (pid, template) in {"r1": r1, "r2": r2}.items():
        row |= {slot: pid, f"{slot}_template": template}
    table = import_chains(pd.DataFrame([row]), {}, capitalize)[0]
    located = locate_all(model.tokenizer, table, model.prefix)
    if located.loc[0, "skipped"]:
        raise UserError(f"cannot locate the case's tokens: {located.loc[0, 'skipped']}")
    return load_cases(model.tokenizer, table.merge(located, on="id"), model.prefix, one_character)[0]


def run_analysis(name: str, model: Model, cases: list[Case], settings: dict | None = None) -> pd.DataFrame:
    """The rows of an analysis of the catalog (`catalog.CATALOG`) for `cases`, as the workflow computes them."""
    if name not in CATALOG:
        raise UserError(f"no analysis named {name!r} (in the catalog: {', '.join(CATALOG)})")
    settings = settings or analysis_settings()
    return runner.run(name, model.adapter, model.tokenizer, cases, settings, batch_size=settings["batch_size"])


def draw(name: str, table: pd.DataFrame, model: Model, label: str = "your"):
    """The analysis's figure for `table` (the workflow draws its splits; here one `label`)."""
    import matplotlib.pyplot as plt

    from multihop.report.products import Inputs, make

    product = CATALOG[name].figure if name in CATALOG else None
    if product is None or product.uses not in ((), (name,)):
        raise UserError(f"analysis {name!r} has no figure drawn from its own table alone")
    inputs = Inputs(
        {name: {label: table}}, model.name, model.adapter.num_layers, CATALOG[name].settings(analysis_settings())
    )
    figure = make(product.function, inputs)
    plt.close(figure)  # returned, not also left open: a notebook then shows it once
    return figure
