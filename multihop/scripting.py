"""What every scripts/ entry point does around its work: logging to the rule's log, clean errors, reading inputs."""

import logging
import sys

from multihop.errors import UserError


def run(main, snakemake):
    """Call `main(snakemake)` with logging to the rule's log file and stderr.

    A UserError ends the job with its message alone (no traceback); anything else is a bug and
    keeps its traceback.
    """
    handlers = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True)
    try:
        main(snakemake)
    except UserError as error:
        logging.error("error: %s", error)
        sys.exit(1)


def batch_size(snakemake, model: str | None = None) -> int:
    """The batch size of a model's evaluation, or of the analyses, read from the config: it is a
    param (`batch`) only where it can change outputs (not on a CPU in float32, where the engine
    promises the same outputs whatever the batch; rules/common.smk, batch_of)."""
    if model is None:
        return snakemake.config["analyses"]["batch_size"]
    return next(entry for entry in snakemake.config["models"] if entry["name"] == model)["batch_size"]


def by_split(inputs, name: str, read) -> dict:
    """One table per split from a rule's named inputs `{name}_{split}` (see rules/common.smk, per_split)."""
    import pandas as pd

    from multihop.evaluation.splits import SPLITS

    return {split: pd.concat([read(path) for path in inputs[f"{name}_{split}"]], ignore_index=True) for split in SPLITS}


def split_sizes(case_files) -> dict:
    """split -> the model's cases in it, from its cases/{split}.csv files (in SPLITS' order)."""
    from multihop.evaluation.splits import SPLITS
    from multihop.files import read_table

    return {split: len(read_table(path)) for split, path in zip(SPLITS, case_files, strict=True)}


def groups_by_split(studied: dict) -> dict:
    """split -> {case id: its group}, from each split's studied.csv: cases joined by a shared e2
    or e3, across both splits (multihop.report.stats.connected_groups). The statistics resample a
    group's cases together, as they are not independent."""
    from multihop.report.stats import connected_groups

    return connected_groups(studied)
