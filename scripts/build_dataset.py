"""Rule build_dataset: the two-hop chains with their prompts (the study's selection of them by default),
and counts of what they hold."""

import logging

from multihop.dataset.chains import build_chains, dataset_rules, dataset_stats, entity_rules, require_chains
from multihop.files import read_table, write_csv
from multihop.scripting import run


def main(snakemake):
    params = snakemake.params
    rules = params.selection
    entities = read_table(snakemake.input.entities)
    unlabelled = int((entities["label"] == "").sum())
    logging.info(
        "%d of %d entities have no English label (unlabelled: %s)", unlabelled, len(entities), rules["unlabelled"]
    )
    entities = entity_rules(entities, rules, params.entity_types)
    facts = read_table(snakemake.input.facts)
    chains = build_chains(entities, facts, params.relations, params.capitalize, params.shortcut)
    require_chains(chains, entities, facts)
    logging.info("%d chains from %d entities and %d facts", len(chains), len(entities), len(facts))
    chains, funnel = dataset_rules(chains, entities, rules)
    for step, count in funnel:
        logging.info("%s: %d", step, count)
    require_chains(chains, entities, facts, after=funnel[1:])
    write_csv(chains, snakemake.output.dataset)
    write_csv(dataset_stats(entities, facts, chains, funnel), snakemake.output.stats)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
