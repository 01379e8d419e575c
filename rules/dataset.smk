rule extract_wikidata:
    input:
        dump_input,
    output:
        entities="results/dataset/entities.csv",
        facts="results/dataset/facts.csv",
    log:
        "results/logs/extract_wikidata.log",
    benchmark:
        "results/benchmarks/extract_wikidata.tsv"
    conda:
        "../environment.yml"
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
    output:
        dataset="results/dataset/two_hop.csv",
        stats="results/dataset/stats.csv",
    log:
        "results/logs/build_dataset.log",
    conda:
        "../environment.yml"
    params:
        relations=config["relations"],
        capitalize=config["prompts"]["capitalize"],
    script:
        "../scripts/build_dataset.py"
