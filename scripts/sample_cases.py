"""Rule sample_cases: token positions of each case (or why not), the studied sample, and its shards."""

import logging

from multihop.analyses.cases import locate_all, sample_studied
from multihop.files import read_table, write_csv
from multihop.models.loading import load_tokenizer
from multihop.scripting import run


def main(snakemake):
    spec = snakemake.params.model
    cases = read_table(snakemake.input.cases)
    tokenizer = load_tokenizer(spec["source"])
    positions = locate_all(tokenizer, cases, spec["prompt_prefix"])
    for row in positions[positions["skipped"] != ""].itertuples():
        logging.warning("skipped %s: %s", row.id, row.skipped)
    write_csv(positions, snakemake.output.positions)

    studied = sample_studied(cases, positions, snakemake.params.cases, snakemake.params.seed)
    located = int((positions["skipped"] == "").sum())
    logging.info("%d cases, %d located, %d studied", len(cases), located, len(studied))
    write_csv(studied, snakemake.output.studied)
    # shards take turns along the seeded order, so each analysis's cases spread evenly over them
    ordered, shards = studied.sort_values("order"), snakemake.output.shards
    for i, path in enumerate(shards):
        write_csv(ordered.iloc[i :: len(shards)].sort_values("id"), path)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
