scattergather:
    cases=config["analyses"]["shards"],


# the studied cases of a split: their token positions, one seeded sample, cut into shards
rule sample_cases:
    input:
        cases="<results>/{model}/cases/{split}.csv",
        model=model_files,
    output:
        positions="<results>/{model}/{split}/positions.csv",
        studied="<results>/{model}/{split}/studied.csv",
        shards=scatter.cases(
            "<results>/{{model}}/{{split}}/shards/cases_{scatteritem}.csv"
        ),
    log:
        "<results>/logs/{model}/{split}/sample_cases.log",
    localrule: True
    params:
        code=code_digest("scripts/sample_cases.py"),
        model=model_config,
        cases=max(CASES.values()),  # the sample: as many as the analysis with the most
        seed=config["analyses"]["seed"],
    script:
        "../scripts/sample_cases.py"


# one analysis of the catalog on one shard (the runner imports the analysis's module by name)
rule analysis_shard:
    input:
        cases="<results>/{model}/{split}/shards/cases_{scatteritem}.csv",
        studied="<results>/{model}/{split}/studied.csv",
        runtime="<results>/{model}/runtime.json",
        model=model_files,
    output:
        table="<results>/{model}/{split}/shards/{analysis}_{scatteritem}.parquet",
        # what the engine's self-check compared in this job (multihop/engine/selfcheck.py)
        check="<results>/{model}/{split}/shards/{analysis}_{scatteritem}.check.json",
    log:
        "<results>/logs/{model}/{split}/{analysis}_{scatteritem}.log",
    benchmark:
        "<results>/benchmarks/{model}/{split}/{analysis}_{scatteritem}.tsv"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        # the catalog is left out of the digest: adding or changing one analysis's entry reruns
        # no other analysis (its entry and the catalog's constants it imports are params)
        code=lambda wildcards: code_digest(
            "scripts/run_analysis.py",
            CATALOG[wildcards.analysis].module_file,
            leave_out=[CATALOG_FILE],
        ),
        entry=lambda wildcards: ENTRIES[wildcards.analysis],
        model=model_config,
        batch=batch_of("analyses"),
        check={**ENGINE_CHECK, "seed": config["analyses"]["seed"]},
        cases=lambda wildcards: CASES[wildcards.analysis],
        settings=settings_of,
        # which names a case's entities have: every analysis reads them
        one_character=config["evaluation"]["one_character"],
    script:
        "../scripts/run_analysis.py"


rule gather_analysis:
    input:
        shards=gather.cases(
            "<results>/{{model}}/{{split}}/shards/{{analysis}}_{scatteritem}.parquet"
        ),
    output:
        "<results>/{model}/{split}/{analysis}_{part}.parquet",
    log:
        "<results>/logs/{model}/{split}/gather_{analysis}_{part}.log",
    localrule: True
    params:
        code=code_digest("scripts/gather_analysis.py", leave_out=[CATALOG_FILE]),
        settings=settings_of,
        parts=lambda wildcards: CATALOG[wildcards.analysis].parts(
            settings_of(wildcards)
        ),
    script:
        "../scripts/gather_analysis.py"


rule summarize_stages:
    input:
        **{
            name: expand(
                "<results>/{{model}}/{{split}}/{file}", file=analysis_parts(name)
            )
            for name in STAGE_ANALYSES
        },
        studied="<results>/{model}/{split}/studied.csv",
    output:
        stages="<results>/{model}/{split}/stages.csv",
        stages_word="<results>/{model}/{split}/stages_word.csv",  # every verdict under both judges
    log:
        "<results>/logs/{model}/{split}/summarize_stages.log",
    localrule: True
    params:
        # the script, and the modules whose functions read each stage (named in the catalog)
        code=code_digest("scripts/summarize_stages.py", *STAGE_READERS),
        settings={
            **stage_settings(SETTINGS),
            **{key: SETTINGS[key] for key in CHANCE_READS},
        },
        cases=CASES,
        seed=config["analyses"]["seed"],  # the chance baseline's donors
    script:
        "../scripts/summarize_stages.py"


# One target rule per analysis of the catalog, named after it: its gathered parts, for every model
# and split. `make stage ANALYSIS=<name>` reruns its shards alone (`snakemake <name> --forcerun
# analysis_shard`), then what follows from them.
for name in CATALOG:

    rule:
        name:
            name
        input:
            [
                f"<results>/{model}/{split}/{file}"
                for model in MODELS
                for split in SPLITS
                for file in analysis_parts(name)
            ],
        localrule: True
