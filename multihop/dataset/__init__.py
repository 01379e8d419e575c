"""Stage 1, the dataset: Wikidata facts (dump or SPARQL) -> two-hop chains and their prompts."""
