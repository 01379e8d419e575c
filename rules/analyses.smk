scattergather:
    cases=config["analyses"]["shards"],


rule locate_cases:
    input:
        cases="results/{model}/cases/{split}.csv",
        model=model_files,
        code=code_files("scripts/locate_cases.py"),
    output:
        positions="results/{model}/{split}/positions.csv",
        studied="results/{model}/{split}/studied.csv",
        shards=scatter.cases(
            "results/{{model}}/{{split}}/shards/cases_{scatteritem}.csv"
        ),
    log:
        "results/logs/{model}/{split}/locate_cases.log",
    params:
        model=model_config,
        cases_per_split=config["analyses"]["cases_per_split"],
        seed=config["analyses"]["seed"],
    script:
        "../scripts/locate_cases.py"


rule analysis_shard:
    input:
        cases="results/{model}/{split}/shards/cases_{scatteritem}.csv",
        studied="results/{model}/{split}/studied.csv",
        runtime="results/{model}/runtime.json",
        model=model_files,
        code=lambda wildcards: code_files(
            "scripts/run_analysis.py", ANALYSES[wildcards.analysis].module_file
        ),
    output:
        "results/{model}/{split}/shards/{analysis}_{scatteritem}.parquet",
    log:
        "results/logs/{model}/{split}/{analysis}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/{model}/{split}/{analysis}_{scatteritem}.tsv"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=model_config,
        settings=SETTINGS,
    script:
        "../scripts/run_analysis.py"


rule gather_analysis:
    input:
        shards=gather.cases(
            "results/{{model}}/{{split}}/shards/{{analysis}}_{scatteritem}.parquet"
        ),
        code=code_files("scripts/gather_analysis.py"),
    output:
        "results/{model}/{split}/{analysis}_{part}.parquet",
    log:
        "results/logs/{model}/{split}/gather_{analysis}_{part}.log",
    params:
        settings=config["analyses"],
    script:
        "../scripts/gather_analysis.py"


rule summarize_stages:
    input:
        **{
            name: expand(
                "results/{{model}}/{{split}}/{file}", file=analysis_parts(name)
            )
            for name in STAGE_ANALYSES
        },
        studied="results/{model}/{split}/studied.csv",
        code=code_files("scripts/summarize_stages.py"),
    output:
        "results/{model}/{split}/stages.csv",
    log:
        "results/logs/{model}/{split}/summarize_stages.log",
    params:
        propagation=config["analyses"]["propagation"],
        cases_per_split=config["analyses"]["cases_per_split"],
    script:
        "../scripts/summarize_stages.py"
