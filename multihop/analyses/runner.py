"""Running an analysis of the catalog on cases: its module's `run(context, case)` for each case,
or its `run_cases(context, cases)` for groups of cases where it takes several at once, with the
model, its settings and the engine's shared caches (imports torch: call it only where the model
runs)."""

import functools
import importlib
import logging
from dataclasses import KW_ONLY, dataclass
from typing import Any

import pandas as pd

from multihop.analyses.cases import by_length
from multihop.analyses.catalog import CATALOG


@dataclass
class Context:
    """What every analysis's `run` gets besides the case: the model and the run's settings."""

    adapter: Any  # multihop.models.adapter.Adapter
    tokenizer: Any
    settings: dict  # the settings the analysis reads (its catalog entry's `reads`)
    caches: Any  # multihop.engine.decoding.PrefixCaches, shared by all cases of the run
    _: KW_ONLY  # the run's settings, by name
    batch_size: int = 512  # variants per forward pass: changes speed, never outputs
    pool: tuple = ()  # every case of the split this analysis studies, whichever shard runs (donors)
    path: str = "fast"  # the engine, or "reference": transformers' generate per variant
    self_check: Any = None  # a multihop.engine.selfcheck.SelfCheck, offered what the engine generates
    case: str = ""  # the id of the case being run (names a generation the self-check finds different)

    def generate(self, ids, variants, seeds=None) -> list[str]:
        """Continuations of prompt `ids` under each variant, with the run's settings: greedy, or
        sampled with per-variant `seeds` as the config's `sampling` says."""
        return self.generate_cases([(self.case, ids, variants, seeds)])[0]

    def generate_cases(self, calls) -> list[list[str]]:
        """`generate` for several cases' prompts at once, (case id, ids, variants, seeds) each, their
        prompts of one token length (seeds all None or all given): their variants share batches."""
        from multihop.engine.decoding import generate_calls, reference_generate
        from multihop.engine.sampling import sampling_settings

        max_new_tokens = self.settings["max_new_tokens"]
        sampling = None
        if calls[0][3] is not None:  # only a sampling analysis reads (and declares) `sampling`
            sampling = sampling_settings(self.adapter.model.generation_config, self.settings["sampling"])
        if self.path == "reference":
            return [
                reference_generate(
                    self.adapter,
                    self.tokenizer,
                    ids,
                    variants,
                    max_new_tokens=max_new_tokens,
                    seeds=seeds,
                    sampling=sampling,
                )
                for _, ids, variants, seeds in calls
            ]
        engine_calls = [(ids, variants, seeds) for _, ids, variants, seeds in calls]
        texts = generate_calls(
            self.adapter,
            self.tokenizer,
            engine_calls,
            max_new_tokens=max_new_tokens,
            batch_size=self.batch_size,
            caches=self.caches,
            sampling=sampling,
        )
        if self.self_check is not None and self.self_check.wanted:  # one reference batch for the calls' sample
            reference = functools.partial(self._reference, sampling)
            for (case, ids, variants, seeds), call_texts in zip(calls, texts, strict=True):
                self.self_check.offer(reference, self._samples(case, ids, variants, seeds, call_texts))
        return texts

    def _samples(self, case, ids, variants, seeds, texts):
        """What the self-check may recompute: each variant's text, its prompt, variant and seed."""
        from multihop.engine.selfcheck import Sample

        for i, text in enumerate(texts):
            seed = None if seeds is None else seeds[i]
            label = f"case {case}, variant {i} of a call" + ("" if seed is None else f", seed {seed}")
            yield Sample(label, text, (ids, variants[i], seed))

    def _reference(self, sampling, items) -> list[str]:
        """The texts of (prompt, variant, seed) `items`, prompts of one token length, as one batch
        through transformers' generate (a full forward of each row's own prompt)."""
        from multihop.engine.decoding import reference_rows

        prompts, variants, seeds = zip(*items, strict=True)
        seeds = None if seeds[0] is None else list(seeds)
        return reference_rows(
            self.adapter,
            self.tokenizer,
            list(prompts),
            list(variants),
            max_new_tokens=self.settings["max_new_tokens"],
            seeds=seeds,
            sampling=sampling,
        )

    def judge(self, generation: str, names) -> bool:
        """Whether the generation names the entity, by the run's rule (`evaluation.match`)."""
        from multihop.evaluation.judging import mentions

        return mentions(generation, names, self.settings["match"])


def cases_runner(name: str, context):
    """`run_cases(cases) -> [rows of each case]` for the analysis, and `groups(cases) -> [[index]]`,
    the cases it takes at once: its module's own (`run_cases`, `cases_at_once`) where it batches
    cases together, else `run` one case at a time. A module with `ONE_LENGTH` batches only cases
    whose prompts have one token length (no padding)."""
    module = importlib.import_module(CATALOG[name].module)
    if hasattr(module, "run_cases"):
        at_once, one_length = module.cases_at_once(context), getattr(module, "ONE_LENGTH", False)
        return functools.partial(module.run_cases, context), functools.partial(_groups, at_once, one_length)

    def one_at_a_time(cases):
        rows = []
        for case in cases:
            context.case = case.id  # names a generation the self-check finds different
            rows.append(module.run(context, case))
        return rows

    return one_at_a_time, functools.partial(_groups, 1, False)


def _groups(at_once, one_length, cases) -> list[list[int]]:
    """The indices of `cases` in groups of up to `at_once`, shortest prompts first (cases of one
    length batch unpadded); with `one_length`, a group holds one length only."""
    alike = by_length(cases) if one_length else [[i for group in by_length(cases) for i in group]]
    return [group[start : start + at_once] for group in alike for start in range(0, len(group), at_once)]


def run(
    name: str,
    adapter,
    tokenizer,
    cases,
    settings: dict,
    *,
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
    soon as its group is done, groups whose cases were all stored by an earlier attempt are not
    run again, and the table is read back from the stored rows, so a resumed run gives the same
    table as an uninterrupted one (its groups are the same: they are formed over all the cases,
    whichever are left).
    """
    from tqdm.auto import tqdm

    from multihop.engine.decoding import PrefixCaches
    from multihop.engine.selfcheck import EngineMismatch

    analysis = CATALOG[name]
    own = analysis.settings(settings)
    everyone = tuple(cases if pool is None else pool)
    context = Context(
        adapter,
        tokenizer,
        own,
        PrefixCaches(adapter),
        batch_size=batch_size,
        pool=everyone,
        path=path,
        self_check=self_check,
    )
    run_cases, groups = cases_runner(name, context)
    finished = _Unstored() if finished is None else finished
    if kept := finished.count():
        logging.info("resuming: %d of %d cases were finished by an earlier attempt", kept, len(cases))
    pending = [index for index in range(len(cases)) if not finished.has(index)]
    with tqdm(total=len(cases), initial=len(cases) - len(pending), desc=name, unit="case") as bar:
        for group in groups(cases):
            left = [index for index in group if not finished.has(index)]
            if not left:
                continue
            for index, rows in zip(group, run_cases([cases[i] for i in group]), strict=True):
                if index in left:
                    finished.put(index, rows[list(analysis.columns)])
            if self_check is not None and self_check.ready():  # early: a wrong engine stops the job at once
                try:
                    self_check.check()
                except EngineMismatch:
                    finished.remove()  # what the failed engine computed is not resumed by a rerun
                    raise
            bar.update(len(left))
    frames = [finished.get(index) for index in range(len(cases))]
    table = pd.concat(frames, ignore_index=True) if frames else analysis.empty()
    return table[list(analysis.columns)]


class _Unstored(dict):
    """Finished cases' rows kept in memory only (a run without `finished`)."""

    def count(self):
        return len(self)

    def has(self, index):
        return index in self

    def put(self, index, rows):
        self[index] = rows

    def remove(self):
        self.clear()
