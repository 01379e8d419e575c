# dataset.source: wikidata builds the chains from Wikidata facts (a dump or a SPARQL endpoint);
# file takes them from a file (the study's released two_hop.csv, or this project's). Everything
# downstream of <results>/dataset/two_hop.csv runs the same either way.
if config["dataset"]["source"] == "file":

    rule import_dataset:
        input:
            chains=config["dataset"]["file"],
        output:
            dataset="<results>/dataset/two_hop.csv",
            stats="<results>/dataset/stats.csv",
            dropped="<results>/dataset/dropped.csv",
            disagreements="<results>/dataset/prompt_disagreements.csv",
        log:
            "<results>/logs/import_dataset.log",
        localrule: True
        params:
            code=code_digest("scripts/import_dataset.py"),
            relations=config["relations"],
            capitalize=config["prompts"]["capitalize"],
            shortcut=config["prompts"]["relation_shortcut"],
        script:
            "../scripts/import_dataset.py"

else:

    rule extract_wikidata:
        input:
            dump_input,
        output:
            entities="<results>/dataset/entities.csv",
            facts="<results>/dataset/facts.csv",
        log:
            "<results>/logs/extract_wikidata.log",
        benchmark:
            "<results>/benchmarks/extract_wikidata.tsv"
        # a SPARQL extraction runs where Snakemake runs: compute nodes often have no network
        localrule: config["wikidata"]["source"] == "sparql"
        resources:
            mem_mb=8000,
            runtime=240,  # minutes: a full dump is read once, line by line
        params:
            code=code_digest("scripts/extract_wikidata.py"),
            wikidata=config["wikidata"],
            entity_types=config["entity_types"],
            relations=config["relations"],
            # SPARQL ranks only each class's most-stated members that the dataset may use (a dump
            # ranks all of them in its one pass, so a new value does not reread it)
            ranked=(
                config["dataset"]["bridges_per_type"]
                if config["wikidata"]["source"] == "sparql"
                else None
            ),
        script:
            "../scripts/extract_wikidata.py"

    rule build_dataset:
        input:
            entities="<results>/dataset/entities.csv",
            facts="<results>/dataset/facts.csv",
        output:
            dataset="<results>/dataset/two_hop.csv",
            stats="<results>/dataset/stats.csv",
        log:
            "<results>/logs/build_dataset.log",
        resources:
            mem_mb=8000,
            runtime=60,
        params:
            code=code_digest("scripts/build_dataset.py"),
            relations=config["relations"],
            capitalize=config["prompts"]["capitalize"],
            shortcut=config["prompts"]["relation_shortcut"],
            selection=config["dataset"],
            entity_types=config["entity_types"],
        script:
            "../scripts/build_dataset.py"
