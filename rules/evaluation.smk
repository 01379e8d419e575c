rule evaluate:
    input:
        dataset="<results>/dataset/two_hop.csv",
        model=model_files,
    output:
        evaluation="<results>/{model}/evaluation.csv",
        runtime="<results>/{model}/runtime.json",
        # what the engine's self-check compared (multihop/engine/selfcheck.py)
        check="<results>/{model}/evaluate.check.json",
    log:
        "<results>/logs/{model}/evaluate.log",
    benchmark:
        "<results>/benchmarks/{model}/evaluate.tsv"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        code=code_digest("scripts/evaluate.py"),
        model=model_config,
        batch=batch_of("model"),
        check=ENGINE_CHECK,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        staged=config["evaluation"]["staged"],
        match=config["evaluation"]["match"],
        one_character=config["evaluation"]["one_character"],
    script:
        "../scripts/evaluate.py"


rule split_cases:
    input:
        dataset="<results>/dataset/two_hop.csv",
        evaluation="<results>/{model}/evaluation.csv",
    output:
        correct="<results>/{model}/cases/correct.csv",
        incorrect="<results>/{model}/cases/incorrect.csv",
        funnel="<results>/{model}/funnel.csv",
    log:
        "<results>/logs/{model}/split_cases.log",
    localrule: True
    params:
        code=code_digest("scripts/split_cases.py"),
        max_per_e2_type=config["splits"]["max_per_e2_type"],
        seed=config["splits"]["seed"],
    script:
        "../scripts/split_cases.py"
