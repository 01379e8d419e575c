"""Running an analysis of the catalog on cases: its module's `run(context, case)` for each case,
with the model, its settings and the engine's shared caches (imports torch: call it only where
the model runs)."""

import functools
import importlib
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from multihop.analyses.catalog import CATALOG


@dataclass
class Context:
    """What every analysis's `run` gets besides the case: the model and the run's settings."""

    adapter: Any  # multihop.models.adapter.Adapter
    tokenizer: Any
    settings: dict  # the settings the analysis reads (its catalog entry's `reads`)
    caches: Any  # multihop.engine.decoding.PrefixCaches, shared by all cases of the run
    batch_size: int = 512  # variants per forward pass: changes speed, never outputs
    pool: tuple = ()  # every case of the split this analysis studies, whichever shard runs (donors)
    path: str = "fast"  # the engine, or "reference": transformers' generate per variant
    self_check: Any = None  # a multihop.engine.selfcheck.SelfCheck, offered what the engine generates
    case: str = ""  # the id of the case being run (names a generation the self-check finds different)

    def generate(self, ids, variants, seeds=None) -> list[str]:
        """Continuations of prompt `ids` under each variant, with the run's settings: greedy, or
        sampled with per-variant `seeds` as the config's `sampling` says."""
        from multihop.engine.decoding import generate_variants, reference_generate
        from multihop.engine.sampling import sampling_settings

        n, batch = self.settings["max_new_tokens"], self.batch_size
        sampling = None
        if seeds is not None:  # only a sampling analysis reads (and declares) `sampling`
            sampling = sampling_settings(self.adapter.model.generation_config, self.settings["sampling"])
        if self.path == "reference":
            return reference_generate(self.adapter, self.tokenizer, ids, variants, n, seeds, sampling)
        texts = generate_variants(self.adapter, self.tokenizer, ids, variants, n, seeds, batch, self.caches, sampling)
        if self.self_check is not None and self.self_check.wanted:
            reference = functools.partial(self._reference, ids, sampling)
            self.self_check.offer(reference, self._samples(variants, seeds, texts))
        return texts

    def _samples(self, variants, seeds, texts):
        """What the self-check may recompute: each variant's text, its variant and its seed."""
        from multihop.engine.selfcheck import Sample

        for i, text in enumerate(texts):
            seed = None if seeds is None else seeds[i]
            label = f"case {self.case}, variant {i} of a call" + ("" if seed is None else f", seed {seed}")
            yield Sample(label, text, (variants[i], seed))

    def _reference(self, ids, sampling, items) -> list[str]:
        """The texts of (variant, seed) `items` of prompt `ids`, as one batch through transformers' generate."""
        from multihop.engine.decoding import reference_generate

        variants, seeds = [v for v, _ in items], [s for _, s in items]
        seeds = None if seeds[0] is None else seeds
        n = self.settings["max_new_tokens"]
        return reference_generate(self.adapter, self.tokenizer, ids, variants, n, seeds, sampling, len(items))

    def judge(self, generation: str, names) -> bool:
        """Whether the generation names the entity, by the run's rule (`evaluation.match`)."""
        from multihop.evaluation.judging import mentions

        return mentions(generation, names, self.settings["match"])


def case_runner(name: str):
    """The `run(context, case)` of the analysis's module."""
    return importlib.import_module(CATALOG[name].module).run


def run(
    name: str,
    adapter,
    tokenizer,
    cases,
    settings: dict,
    batch_size=512,
    finished=None,
    pool=None,
    path="fast",
    self_check=None,
) -> pd.DataFrame:
    """The rows of analysis `name` for every case, in its catalog columns. `settings`: the
    analyses' settings (the analysis sees only those it reads). `pool`: every case of the split
    that the analysis studies (default: `cases`), for analyses that draw on others. `path`: the
    engine ("fast") or transformers' generate for every variant ("reference"); `self_check`: a
    multihop.engine.selfcheck.SelfCheck, run as soon as the first cases give it enough variants.

    With `finished` (a multihop.analyses.finished.FinishedCases), each case's rows are stored as
    soon as it is done, cases stored by an earlier attempt are not run again, and the table is
    read back from the stored rows, so a resumed run gives the same table as an uninterrupted one.
    """
    from tqdm.auto import tqdm

    from multihop.engine.decoding import PrefixCaches

    analysis = CATALOG[name]
    run_case = case_runner(name)
    own = analysis.settings(settings)
    everyone = tuple(cases if pool is None else pool)
    context = Context(adapter, tokenizer, own, PrefixCaches(adapter), batch_size, everyone, path, self_check)

    def run_checked(case):
        context.case = case.id
        rows = run_case(context, case)
        if self_check is not None and self_check.ready():  # early: a wrong engine stops the job at once
            self_check.check()
        return rows

    if finished is None:
        frames = [run_checked(case) for case in tqdm(cases, desc=name, unit="case")]
    else:
        if kept := finished.count():
            logging.info("resuming: %d of %d cases were finished by an earlier attempt", kept, len(cases))
        for index, case in enumerate(tqdm(cases, desc=name, unit="case")):
            if not finished.has(index):
                finished.put(index, run_checked(case)[list(analysis.columns)])
        frames = [finished.get(index) for index in range(len(cases))]
    table = pd.concat(frames, ignore_index=True) if frames else analysis.empty()
    return table[list(analysis.columns)]
