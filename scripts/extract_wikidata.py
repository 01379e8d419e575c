"""Rule extract_wikidata: the entity and fact tables from the configured Wikidata source."""

import logging

from multihop.dataset import sparql, wikidata
from multihop.errors import UserError
from multihop.files import write_csv
from multihop.scripting import run


def main(snakemake):
    source = snakemake.params.wikidata
    classes, relations = snakemake.params.entity_types, list(snakemake.params.relations)
    if source["source"] == "dump":
        logging.info("reading %s", source["dump"])
        entities, facts = wikidata.extract_from_dump(
            source["dump"],
            classes,
            relations,
            max_bad_lines=source["max_bad_lines"],
            on_bad_line=lambda n, line: logging.warning("skipped malformed line %d: %r", n, line[:200]),
            progress=lambda n: logging.info("%d lines read", n) if n % 5_000_000 == 0 else None,
        )
    else:
        client = sparql.SparqlClient(
            source["endpoint"], source["cache"], retries=source["retries"], timeout_s=source["timeout_s"]
        )
        entities, facts = sparql.extract_from_endpoint(
            client,
            classes,
            relations,
            page_size=source["page_size"],
            batch_size=source["batch_size"],
            ranked=snakemake.params.ranked,
            progress=logging.info,
        )
        logging.info("%d SPARQL requests sent (the rest came from %s)", client.requests_sent, source["cache"])
    if facts.empty:
        raise UserError(f"the Wikidata source ({source['source']}) yielded no facts between typed, labelled items")
    logging.info("%d entities, %d facts", len(entities), len(facts))
    write_csv(entities, snakemake.output.entities)
    write_csv(facts, snakemake.output.facts)


run(main, snakemake)  # noqa: F821 (snakemake is injected by the script directive)
