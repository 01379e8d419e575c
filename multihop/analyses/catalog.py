"""The catalog of analyses: what each one is, declared without running anything.

An entry names its module (multihop/analyses/<name>.py, whose `run(context, case)` gives one
case's rows), its columns, how its table is cut into output files (parts), the settings it reads
(only those reach its jobs, so changing another setting reruns nothing of it), whether the stage
table summarizes it, and its figure and table with their captions (report/<caption>.rst).

The workflow's rules and targets, the report, the runner and the tests are all made from CATALOG:
adding an analysis is a module, an entry here and a caption. Light on purpose (no torch, no
engine): the Snakefile reads it at start-up.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from multihop.errors import UserError

POSITIONS = ("t1", "t2")  # last token of e1; last token of the prompt
SUBLAYERS = ("attention", "mlp")
KNOCKOUT_TARGETS = ("e1", "r1", "r2")  # the tokens attention knockout blocks (see knockout.py)
CONTROLS = ("noise", "other_case")  # back-patching's controls (see controls.py)


@dataclass(frozen=True)
class Product:
    """A figure or table of the report: `function` ("module:name", called with a
    multihop.report.products.Inputs) and its caption, report/<caption>.rst."""

    function: str
    caption: str
    title: str = ""  # a table's heading on its web page
    uses: tuple[str, ...] = ()  # the analyses whose tables it reads (empty: its own analysis's)
    stages: bool = False  # it also reads each split's stages.csv
    groups: bool = False  # it also reads each split's studied.csv (which cases share an answer)
    reads: tuple[str, ...] = ()  # settings it reads beyond its analysis's (changing them reruns it alone)

    @property
    def module_file(self) -> str:
        return self.function.split(":")[0].replace(".", "/") + ".py"


@dataclass(frozen=True)
class Analysis:
    name: str  # also its module's: multihop.analyses.<name>
    columns: tuple[str, ...]
    # its settings -> {part name: the column values of its rows}
    parts: Callable[[dict], dict[str, dict[str, Any]]]
    # the settings it reads: keys of the config's `analyses` section, and `match` (from
    # `evaluation`); every analysis reads its cases' names (`evaluation.one_character`)
    reads: tuple[str, ...]
    stages: bool = False  # stages.csv summarizes it
    draws_on_others: bool = False  # its cases draw on other cases of the split (Context.pool)
    figure: Product | None = None
    table: Product | None = None

    def settings(self, settings: dict) -> dict:
        """The settings it reads, out of all the analyses' settings."""
        missing = [key for key in self.reads if key not in settings]
        if missing:
            raise UserError(f"analysis {self.name}: no setting {', '.join(missing)} (see config.yaml, analyses:)")
        return {key: settings[key] for key in self.reads}

    def part_names(self, settings: dict) -> list[str]:
        return list(self.parts(self.settings(settings)))

    def cut(self, table: pd.DataFrame, part: str, settings: dict) -> pd.DataFrame:
        """The rows of one part of the table."""
        rows = pd.Series(True, index=table.index)
        for column, value in self.parts(self.settings(settings))[part].items():
            rows &= table[column] == value
        return table[rows].reset_index(drop=True)

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame(columns=list(self.columns))

    @property
    def module(self) -> str:
        return f"multihop.analyses.{self.name}"

    @property
    def module_file(self) -> str:
        return f"multihop/analyses/{self.name}.py"


def _one_column(column, values):
    return lambda settings: {value: {column: value} for value in values}


def _patchscopes_parts(settings):
    seeds = settings["patchscopes_seeds"]
    return {f"{p}_s{s}": {"position": p, "seed": s} for p in POSITIONS for s in seeds}


FIGURES, TABLES = "multihop.report.products", "multihop.report.products"
NULLS_COMPARED = ("backpatching", "forwardpatching", "controls")  # back-patching and its nulls

CATALOG = {
    analysis.name: analysis
    for analysis in (
        Analysis(
            "patchscopes",
            ("id", "position", "seed", "source_layer", "target_layer", "generation", "classification"),
            _patchscopes_parts,
            reads=("patchscopes_seeds", "sampling", "max_new_tokens", "patchscopes_reading"),
            stages=True,
            figure=Product(f"{FIGURES}:patchscopes_figure", "patchscopes", reads=("patchscopes_dedupe",)),
        ),
        Analysis(
            "projection",
            ("id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"),
            _one_column("sublayer", SUBLAYERS),
            reads=("projection_tokens", "projection_space"),
            stages=True,
            figure=Product(f"{FIGURES}:projection_figure", "projection"),
            table=Product(f"{TABLES}:projection_table", "projection_table", "sublayer projection at t2"),
        ),
        Analysis(
            "knockout",
            ("id", "target", "layer", "generation", "correct", "changed", "clean_generation", "clean_correct"),
            _one_column("target", KNOCKOUT_TARGETS),
            reads=("knockout_window", "knockout_relation", "max_new_tokens", "match"),
            stages=True,
            figure=Product(f"{FIGURES}:knockout_figure", "knockout"),
        ),
        Analysis(
            "backpatching",
            ("id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"),
            _one_column("position", POSITIONS),
            reads=("max_new_tokens", "match"),
            stages=True,
            figure=Product(f"{FIGURES}:backpatching_figure", "backpatching_heatmaps"),
            table=Product(
                f"{TABLES}:backpatching_table",
                "backpatching_table",
                "back-patching: fixable share of cases",
                stages=True,
            ),
        ),
        Analysis(
            "forwardpatching",
            ("id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"),
            _one_column("position", POSITIONS),
            reads=("max_new_tokens", "match"),
            figure=Product(
                f"{FIGURES}:forwardpatching_figure", "forwardpatching", uses=("backpatching", "forwardpatching")
            ),
        ),
        Analysis(
            "controls",
            (
                *("id", "control", "position", "source_layer", "target_layer", "generation", "correct"),
                *("unedited_correct", "donor"),
            ),
            _one_column("control", CONTROLS),
            reads=("seed", "max_new_tokens", "match"),
            draws_on_others=True,
            figure=Product(f"{FIGURES}:controls_figure", "controls", uses=NULLS_COMPARED, groups=True),
            table=Product(
                f"{TABLES}:controls_table",
                "controls_table",
                "back-patching against its nulls, and a patch chosen on other cases",
                uses=NULLS_COMPARED,
                groups=True,
            ),
        ),
    )
}
# the analyses that stages.csv summarizes (the controls are compared with back-patching instead)
STAGE_ANALYSES = tuple(name for name, analysis in CATALOG.items() if analysis.stages)


def product_settings(analysis: Analysis, product: Product, settings: dict) -> dict:
    """The settings a product of `analysis` reads: its analysis's and its own."""
    return {**analysis.settings(settings), **{key: settings[key] for key in product.reads}}


def uses(analysis: Analysis, product: Product) -> tuple[str, ...]:
    """The analyses whose tables a product of `analysis` reads."""
    return product.uses or (analysis.name,)


def case_counts(cases_per_split) -> dict[str, int]:
    """Cases per split for each analysis, from the config's `cases_per_split`: one number for
    all, or one per analysis name, where an analysis not named studies the whole sample (as many
    cases as the largest count), so a new analysis needs no config entry to run."""
    if isinstance(cases_per_split, int):
        return dict.fromkeys(CATALOG, cases_per_split)
    unknown = sorted(set(cases_per_split) - set(CATALOG))
    if unknown or not cases_per_split:
        problem = f"names unknown analyses {unknown}" if unknown else "is empty"
        raise UserError(
            f"config: analyses.cases_per_split {problem}; give one number, or one per analysis: {', '.join(CATALOG)}"
        )
    sample = max(cases_per_split.values())
    return {name: int(cases_per_split.get(name, sample)) for name in CATALOG}
