rule evaluate:
    input:
        dataset="results/dataset/two_hop.csv",
        model=model_files,
    output:
        "results/{model}/evaluation.csv",
    log:
        "results/logs/{model}/evaluate.log",
    benchmark:
        "results/benchmarks/{model}/evaluate.tsv"
    conda:
        "../environment.yml"
    threads: workflow.cores  # torch uses them all; model jobs run one at a time
    params:
        model=model_config,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        staged=config["evaluation"]["staged"],
    script:
        "../scripts/evaluate.py"


rule split_cases:
    input:
        dataset="results/dataset/two_hop.csv",
        evaluation="results/{model}/evaluation.csv",
    output:
        correct="results/{model}/cases/correct.csv",
        incorrect="results/{model}/cases/incorrect.csv",
        funnel="results/{model}/funnel.csv",
    log:
        "results/logs/{model}/split_cases.log",
    conda:
        "../environment.yml"
    params:
        max_per_e2_type=config["splits"]["max_per_e2_type"],
        seed=config["splits"]["seed"],
    script:
        "../scripts/split_cases.py"
