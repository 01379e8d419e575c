"""The registry of analyses: each one's name, the module that runs it, its columns, and how its
table is cut into output files (parts).

The rules, scripts and tests all read `ANALYSES`; adding an analysis is one module with
`run(context, case) -> DataFrame`, named after the analysis, plus one entry here. Light on purpose (no torch): the
Snakefile reads it at start-up, and gathering shards needs nothing heavier than pandas.
"""

import importlib
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
class Analysis:
    name: str  # also its module's: multihop.analyses.<name>, whose run(context, case) gives one case's rows
    columns: tuple[str, ...]
    # settings (the config's `analyses` section) -> {part name: the column values of its rows}
    parts: Callable[[dict], dict[str, dict[str, Any]]]
    draws_on_others: bool = False  # its cases draw on other cases of the split (Context.pool)

    def part_names(self, settings: dict) -> list[str]:
        return list(self.parts(settings))

    def cut(self, table: pd.DataFrame, part: str, settings: dict) -> pd.DataFrame:
        """The rows of one part of the table."""
        rows = pd.Series(True, index=table.index)
        for column, value in self.parts(settings)[part].items():
            rows &= table[column] == value
        return table[rows].reset_index(drop=True)

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame(columns=list(self.columns))

    @property
    def module_file(self) -> str:
        return f"multihop/analyses/{self.name}.py"

    def runner(self):
        """The analysis's `run(context, case)` (imports torch: call it only where the model runs)."""
        return importlib.import_module(f"multihop.analyses.{self.name}").run


def _one_column(column, values):
    return lambda settings: {value: {column: value} for value in values}


def _patchscopes_parts(settings):
    seeds = settings["patchscopes_seeds"]
    return {f"{p}_s{s}": {"position": p, "seed": s} for p in POSITIONS for s in seeds}


ANALYSES = {
    analysis.name: analysis
    for analysis in (
        Analysis(
            "patchscopes",
            ("id", "position", "seed", "source_layer", "target_layer", "generation", "classification"),
            _patchscopes_parts,
        ),
        Analysis(
            "projection",
            ("id", "sublayer", "layer", "e2_rank", "e3_rank", "prediction_rank", "top_tokens"),
            _one_column("sublayer", SUBLAYERS),
        ),
        Analysis(
            "knockout",
            ("id", "target", "layer", "generation", "correct", "changed"),
            _one_column("target", KNOCKOUT_TARGETS),
        ),
        Analysis(
            "backpatching",
            ("id", "position", "source_layer", "target_layer", "generation", "correct", "unedited_correct"),
            _one_column("position", POSITIONS),
        ),
        Analysis(
            "controls",
            (
                *("id", "control", "position", "source_layer", "target_layer", "generation", "correct"),
                *("unedited_correct", "donor"),
            ),
            _one_column("control", CONTROLS),
            draws_on_others=True,
        ),
    )
}
# the analyses that stages.csv summarizes (the controls are compared with back-patching instead)
STAGE_ANALYSES = ("patchscopes", "projection", "knockout", "backpatching")


def case_counts(cases_per_split) -> dict[str, int]:
    """Cases per split for each analysis, from the config's `cases_per_split`: one number for
    all, or one per analysis name."""
    if isinstance(cases_per_split, int):
        return dict.fromkeys(ANALYSES, cases_per_split)
    unknown = sorted(set(cases_per_split) - set(ANALYSES))
    missing = [name for name in ANALYSES if name not in cases_per_split]
    if unknown or missing:
        problem = f"names unknown analyses {unknown}" if unknown else f"has no count for {missing}"
        raise UserError(
            f"config: analyses.cases_per_split {problem}; give one number, or one per analysis: {', '.join(ANALYSES)}"
        )
    return {name: int(cases_per_split[name]) for name in ANALYSES}


@dataclass
class Context:
    """What every analysis's `run` gets besides the case: the model and the run's settings."""

    adapter: Any  # multihop.models.adapter.Adapter
    tokenizer: Any
    settings: dict  # the config's `analyses` section, and `match` from `evaluation`
    caches: Any  # multihop.engine.decoding.PrefixCaches, shared by all cases of the run
    pool: tuple = ()  # every case of the split this analysis studies, whichever shard runs (donors)

    def generate(self, ids, variants, seeds=None) -> list[str]:
        """Continuations of prompt `ids` under each variant, with the run's settings: greedy, or
        sampled with per-variant `seeds` as the config's `sampling` says."""
        from multihop.engine.decoding import generate_variants
        from multihop.engine.sampling import sampling_settings

        n, batch = self.settings["max_new_tokens"], self.settings["batch_size"]
        sampling = sampling_settings(self.adapter.model.generation_config, self.settings["sampling"])
        return generate_variants(self.adapter, self.tokenizer, ids, variants, n, seeds, batch, self.caches, sampling)

    def judge(self, generation: str, names) -> bool:
        """Whether the generation names the entity, by the run's rule (`evaluation.match`)."""
        from multihop.evaluation.judging import mentions

        return mentions(generation, names, self.settings["match"])


def run(name: str, adapter, tokenizer, cases, settings: dict, finished=None, pool=None) -> pd.DataFrame:
    """The rows of analysis `name` for every case, in its registered columns. `pool`: every case
    of the split that the analysis studies (default: `cases`), for analyses that draw on others.

    With `finished` (a multihop.analyses.finished.FinishedCases), each case's rows are stored as
    soon as it is done, cases stored by an earlier attempt are not run again, and the table is
    read back from the stored rows, so a resumed run gives the same table as an uninterrupted one.
    """
    import logging

    from tqdm.auto import tqdm

    from multihop.engine.decoding import PrefixCaches

    analysis = ANALYSES[name]
    run_case = analysis.runner()
    context = Context(adapter, tokenizer, settings, PrefixCaches(adapter), tuple(cases if pool is None else pool))
    if finished is None:
        frames = [run_case(context, case) for case in tqdm(cases, desc=name, unit="case")]
    else:
        if kept := finished.count():
            logging.info("resuming: %d of %d cases were finished by an earlier attempt", kept, len(cases))
        for index, case in enumerate(tqdm(cases, desc=name, unit="case")):
            if not finished.has(index):
                finished.put(index, run_case(context, case)[list(analysis.columns)])
        frames = [finished.get(index) for index in range(len(cases))]
    table = pd.concat(frames, ignore_index=True) if frames else analysis.empty()
    return table[list(analysis.columns)]
