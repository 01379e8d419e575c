scattergather:
    cases=config["analyses"]["shards"],


rule locate_cases:
    input:
        cases="results/{model}/cases/{split}.csv",
        model=model_files,
    output:
        positions="results/{model}/{split}/positions.csv",
        shards=scatter.cases(
            "results/{{model}}/{{split}}/shards/cases_{scatteritem}.csv"
        ),
    log:
        "results/logs/{model}/{split}/locate_cases.log",
    conda:
        "../environment.yml"
    params:
        model=model_config,
        cases_per_split=config["analyses"]["cases_per_split"],
        seed=config["analyses"]["seed"],
    script:
        "../scripts/locate_cases.py"


rule analysis_shard:
    input:
        cases="results/{model}/{split}/shards/cases_{scatteritem}.csv",
        model=model_files,
    output:
        "results/{model}/{split}/shards/{analysis}_{scatteritem}.parquet",
    log:
        "results/logs/{model}/{split}/{analysis}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/{model}/{split}/{analysis}_{scatteritem}.tsv"
    wildcard_constraints:
        analysis="patchscopes|projection|knockout|backpatch",
    conda:
        "../environment.yml"
    threads: workflow.cores  # torch uses them all; model jobs run one at a time
    params:
        model=model_config,
        settings=config["analyses"],
    script:
        "../scripts/run_analysis.py"


rule gather_analysis:
    input:
        gather.cases(
            "results/{{model}}/{{split}}/shards/{{analysis}}_{scatteritem}.parquet"
        ),
    output:
        "results/{model}/{split}/{analysis}_{part}.parquet",
    log:
        "results/logs/{model}/{split}/gather_{analysis}_{part}.log",
    wildcard_constraints:
        analysis="patchscopes|projection|knockout|backpatch",
    conda:
        "../environment.yml"
    script:
        "../scripts/gather_analysis.py"


rule summarize_layers:
    input:
        cases="results/{model}/{split}/positions.csv",
        patchscopes=analysis_files("patchscopes"),
        projection=analysis_files("projection"),
        knockout=analysis_files("knockout"),
        backpatch=analysis_files("backpatch"),
    output:
        "results/{model}/{split}/layers.csv",
    log:
        "results/logs/{model}/{split}/summarize_layers.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/summarize_layers.py"
