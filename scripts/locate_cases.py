"""Rule locate_cases: token positions of each case (or why not), and the cases cut into shards."""

import logging

from multihop.cases import locate_all
from multihop.io import read_table, write_csv
from multihop.models import load_tokenizer
from multihop.scripting import run


def main(snakemake):
    spec = snakemake.params.model
    cases = read_table(snakemake.input.cases)
    tokenizer = load_tokenizer(spec["source"])
    positions = locate_all(tokenizer, cases, spec["prompt_prefix"])
    for row in positions[positions["skipped"] != ""].itertuples():
        logging.warning("skipped %s: %s", row.id, row.skipped)
    write_csv(positions, snakemake.output.positions)

    located = cases.merge(positions[positions["skipped"] == ""], on="id")
    studied = located.sample(n=min(len(located), snakemake.params.cases_per_split), random_state=snakemake.params.seed)
    studied = studied.sort_values("id").reset_index(drop=True)
    logging.info("%d cases, %d located, %d studied", len(cases), len(located), len(studied))
    shards = snakemake.output.shards
    for i, path in enumerate(shards):
        write_csv(studied.iloc[i :: len(shards)], path)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
