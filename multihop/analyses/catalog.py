"""The catalog of analyses: what each one is, declared without running anything.

An entry names its module (multihop/analyses/<name>.py, whose `run(context, case)` gives one
case's rows), its columns, how its table is cut into output files (parts), the settings it reads
(only those reach its jobs, so changing another setting reruns nothing of it) and any it adds to
the config, the stages of the study it measures per case (columns of stages.csv, each with how a
case's stage is read and the claim the findings test on it), and its figure and table with their
captions (report/<caption>.rst).

The workflow's rules and targets, the stage table, the findings, the stage figure, the report,
the runner and the tests are all made from CATALOG: adding an analysis is a module, an entry here
and a caption. Light on purpose (no torch, no engine): the Snakefile reads it at start-up.
"""

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
    # it also reads each split's studied.csv (which cases share e2 or e3) and the model's cases per split
    groups: bool = False
    reads: tuple[str, ...] = ()  # settings it reads beyond its analysis's (changing them reruns it alone)

    @property
    def module_file(self) -> str:
        return self.function.split(":")[0].replace(".", "/") + ".py"


@dataclass(frozen=True)
class Claim:
    """A claim of the study about when a stage happens, tested per split in the findings
    (multihop.report.findings): `number` is the study's claim (1-4), `region` where the claim puts
    the stage in relative depth (0 = first block, 1 = last), `criterion` the region in words."""

    number: int
    statement: str
    region: tuple[float, float]
    criterion: str


@dataclass(frozen=True)
class Stage:
    """A column of stages.csv that an analysis measures, one value per studied case.

    `read` ("module:function") is called as function(tables, stages, settings): `tables` maps each
    stage analysis to its rows, `stages` holds the columns read so far (index: case id; stages
    without `needs` are read first, in the catalog's order, then those with), `settings` the
    settings named in `reads`. It returns, per case id, the first
    layer of the stage (missing or NaN: never reached), or True/False for a `flag`. A case's value
    counts only where its analysis and every analysis in `needs` studied it."""

    column: str
    read: str
    label: str = ""  # its name in the stage figure ("": not drawn there)
    place: int = 0  # its place in the stage figure, left to right
    needs: tuple[str, ...] = ()  # other analyses whose tables it reads
    reads: tuple[str, ...] = ()  # settings it reads (keys of the config's `analyses`)
    flag: bool = False  # a yes/no per case, not a layer
    claim: Claim | None = None

    @property
    def module_file(self) -> str:
        return self.read.split(":")[0].replace(".", "/") + ".py"


@dataclass(frozen=True)
class Analysis:
    name: str  # also its module's: multihop.analyses.<name>
    columns: tuple[str, ...]
    # its settings -> {part name: the column values of its rows}
    parts: Callable[[dict], dict[str, dict[str, Any]]]
    # the settings it reads: keys of the config's `analyses` section, and `match` (from
    # `evaluation`); every analysis reads its cases' names (`evaluation.one_character`)
    reads: tuple[str, ...]
    stages: tuple[Stage, ...] = ()  # the stages it measures: columns of stages.csv
    draws_on_others: bool = False  # its cases draw on other cases of the split (Context.pool)
    figure: Product | None = None
    table: Product | None = None
    # settings it adds to the config's `analyses` section: name -> JSON schema (with a default and
    # a description); the config's schema takes them in (multihop.configuration.schema)
    adds: dict[str, dict] = field(default_factory=dict)

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

    def described(self, settings: dict) -> dict:
        """What of the entry its shards' rows depend on, as a job's params: its columns, settings
        and whether it draws on other cases (the shards leave the catalog out of their code digest,
        so that editing another entry reruns nothing of this one; its parts are the gathers')."""
        return {
            "columns": list(self.columns),
            "reads": list(self.reads),
            "draws_on_others": self.draws_on_others,
        }

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
            stages=(
                Stage(
                    "first_hop_resolved",
                    "multihop.report.stages:first_hop_resolved",
                    "first hop resolved",
                    place=1,
                    claim=Claim(
                        1,
                        "the bridge entity e2 is resolved early, at the last token of e1 (t1)",
                        (-math.inf, 0.5),
                        "interval below 0.5 (first half of the layers)",
                    ),
                ),
                Stage("e2_decoded_t2", "multihop.report.stages:e2_decoded_t2"),
                Stage(
                    "e3_decoded_t2",
                    "multihop.report.stages:e3_decoded_t2",
                    "second hop resolved",
                    place=3,
                    claim=Claim(
                        3,
                        "the second hop is resolved late, at t2",
                        (0.5, math.inf),
                        "interval above 0.5 (second half of the layers)",
                    ),
                ),
            ),
            figure=Product(f"{FIGURES}:patchscopes_figure", "patchscopes", reads=("patchscopes_dedupe",)),
        ),
        Analysis(
            "projection",
            ("id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"),
            _one_column("sublayer", SUBLAYERS),
            reads=("projection_tokens", "projection_space"),
            stages=(
                Stage("e2_in_attention", "multihop.report.stages:e2_in_attention"),
                Stage(
                    "prediction_extracted",
                    "multihop.report.stages:prediction_extracted",
                    "prediction extracted",
                    place=4,
                    claim=Claim(
                        3,
                        "the answer e3 is extracted in the last layers",
                        (0.75, math.inf),
                        "interval above 0.75 (last quarter of the layers)",
                    ),
                ),
            ),
            figure=Product(f"{FIGURES}:projection_figure", "projection"),
            table=Product(
                f"{TABLES}:projection_table",
                "projection_table",
                "sublayer projection at t2",
                reads=("projection_mean",),
            ),
        ),
        Analysis(
            "knockout",
            ("id", "target", "layer", "generation", "correct", "changed", "clean_generation", "clean_correct"),
            _one_column("target", KNOCKOUT_TARGETS),
            reads=("knockout_window", "knockout_relation", "knockout_occurrence", "max_new_tokens", "match"),
            stages=(
                Stage("knockout_matters", "multihop.report.stages:knockout_matters", reads=("knockout_count",)),
                Stage(
                    "information_propagation",
                    "multihop.report.stages:information_propagation",
                    "information propagation",
                    place=2,
                    needs=("projection", "patchscopes"),
                    reads=("propagation",),
                    claim=Claim(
                        2,
                        "information then propagates to the last token (t2) in middle layers",
                        (0.25, 0.75),
                        "interval within 0.25-0.75 (middle half of the layers)",
                    ),
                ),
            ),
            figure=Product(f"{FIGURES}:knockout_figure", "knockout"),
        ),
        Analysis(
            "backpatching",
            ("id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"),
            _one_column("position", POSITIONS),
            reads=("max_new_tokens", "match"),
            stages=(
                Stage("fixable_t1", "multihop.report.stages:fixable_t1", flag=True),
                Stage("fixable_t2", "multihop.report.stages:fixable_t2", flag=True),
                Stage("unedited_correct", "multihop.report.stages:unedited_correct", flag=True),
            ),
            figure=Product(f"{FIGURES}:backpatching_figure", "backpatching_heatmaps"),
            table=Product(
                f"{TABLES}:backpatching_table",
                "backpatching_table",
                "back-patching: fixable share of cases",
                stages=True,
                groups=True,
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
STAGE_ANALYSES = tuple(
    name
    for name, analysis in CATALOG.items()
    if analysis.stages or any(name in stage.needs for other in CATALOG.values() for stage in other.stages)
)


def added_settings() -> dict[str, dict]:
    """The settings the analyses add to the config's `analyses` section: name -> JSON schema."""
    added = {}
    for analysis in CATALOG.values():
        for name, spec in analysis.adds.items():
            if name in added:
                raise ValueError(f"two analyses add the setting {name}")
            added[name] = spec
    return added


def stages() -> dict[str, tuple[Analysis, Stage]]:
    """Every stage of the catalog, by its stages.csv column, in the catalog's order."""
    return {stage.column: (analysis, stage) for analysis in CATALOG.values() for stage in analysis.stages}


def stage_sources(column: str) -> tuple[str, ...]:
    """The analyses a stage comes from: its case's value counts only where all of them studied it."""
    analysis, stage = stages()[column]
    return (analysis.name, *stage.needs)


def drawn_stages() -> dict[str, str]:
    """stages.csv column -> the stage's name in the stage figure, left to right."""
    drawn = sorted((stage.place, column, stage.label) for column, (_, stage) in stages().items() if stage.label)
    return {column: label for _, column, label in drawn}


def stage_settings(settings: dict) -> dict:
    """The settings that the stages' readers read, out of all the analyses' settings."""
    keys = sorted({key for _, stage in stages().values() for key in stage.reads})
    return {key: settings[key] for key in keys}


def constants_read(files) -> dict:
    """The catalog's constants (POSITIONS, KNOCKOUT_TARGETS, ...) that the Python `files` import,
    with their values: a shard's rows depend on them, and its code digest leaves the catalog out."""
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(Path(path).read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == __name__:
                names.update(alias.name for alias in node.names)
    values = {name: globals()[name] for name in sorted(names) if name in globals()}
    # plain values only: the catalog, its classes and functions are not (the entry itself is a param)
    return {name: value for name, value in values.items() if _plain(value)}


def _plain(value) -> bool:
    """Whether `value` is data made of strings, numbers and booleans (in tuples, lists or dicts)."""
    if isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, tuple | list):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


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
