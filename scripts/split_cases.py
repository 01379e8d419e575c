"""Rule split_cases: the studied cases of one model, split by composition correctness."""

import logging

from multihop.evaluation.evaluate import read_evaluation
from multihop.evaluation.splits import split_cases
from multihop.files import read_table, write_csv
from multihop.scripting import run


def main(snakemake):
    dataset = read_table(snakemake.input.dataset)
    evaluation = read_evaluation(snakemake.input.evaluation)
    correct, incorrect, funnel = split_cases(
        dataset, evaluation, snakemake.params.max_per_e2_type, snakemake.params.seed
    )
    logging.info("funnel:\n%s", funnel.to_string(index=False))
    write_csv(correct, snakemake.output.correct)
    write_csv(incorrect, snakemake.output.incorrect)
    write_csv(funnel, snakemake.output.funnel)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
