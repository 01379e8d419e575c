"""Rule import_dataset: the two-hop chains from a file (dataset.source: file), with what could
not be used and where the file's own prompts differ from the recomputed ones."""

import logging

from multihop.dataset.chain_file import chain_stats, import_chains, read_chain_file
from multihop.files import write_csv
from multihop.scripting import run


def main(snakemake):
    table = read_chain_file(snakemake.input.chains)
    params = snakemake.params
    chains, dropped, disagreements = import_chains(table, params.relations, params.capitalize, params.shortcut)
    for reason, rows in dropped[dropped["rows"] > 0].itertuples(index=False):
        logging.warning("%d rows left out: %s", rows, reason)
    if len(disagreements):
        logging.warning(
            "%d rows' own source_prompt differs from the one recomputed from their templates (see %s)",
            len(disagreements),
            snakemake.output.disagreements,
        )
    logging.info("%d chains from %d rows of %s", len(chains), len(table), snakemake.input.chains)
    write_csv(chains, snakemake.output.dataset)
    write_csv(chain_stats(chains), snakemake.output.stats)
    write_csv(dropped, snakemake.output.dropped)
    write_csv(disagreements, snakemake.output.disagreements)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
