rule extract_wikidata:
    input:
        dump_input,
        code=code_files("scripts/extract_wikidata.py"),
    output:
        entities="results/dataset/entities.csv",
        facts="results/dataset/facts.csv",
    log:
        "results/logs/extract_wikidata.log",
    benchmark:
        "results/benchmarks/extract_wikidata.tsv"
    params:
        wikidata=config["wikidata"],
        entity_types=config["entity_types"],
        relations=config["relations"],
    script:
        "../scripts/extract_wikidata.py"


rule build_dataset:
    input:
        entities="results/dataset/entities.csv",
        facts="results/dataset/facts.csv",
        code=code_files("scripts/build_dataset.py"),
    output:
        dataset="results/dataset/two_hop.csv",
        stats="results/dataset/stats.csv",
    log:
        "results/logs/build_dataset.log",
    params:
        relations=config["relations"],
        capitalize=config["prompts"]["capitalize"],
        selection=config["dataset"],
    script:
        "../scripts/build_dataset.py"
