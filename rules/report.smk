rule describe_model:
    input:
        model=model_files,
    output:
        "results/{model}/model.json",
    log:
        "results/logs/{model}/describe_model.log",
    conda:
        "../environment.yml"
    params:
        model=model_config,
    script:
        "../scripts/describe_model.py"


rule plot_stages:
    input:
        layers=per_split(["layers.csv"]),
        model="results/{model}/model.json",
    output:
        stages=report(
            "results/{model}/figures/stages.png",
            caption="../report/stages.rst",
            category="{model}",
            subcategory="figures",
        ),
        stages_pdf="results/{model}/figures/stages.pdf",
        first_layers=report(
            "results/{model}/figures/first_layers.png",
            caption="../report/first_layers.rst",
            category="{model}",
            subcategory="figures",
        ),
        first_layers_pdf="results/{model}/figures/first_layers.pdf",
    log:
        "results/logs/{model}/plot_stages.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/plot_stages.py"


rule plot_heatmaps:
    input:
        patchscopes=per_split(analysis_parts("patchscopes")),
        backpatch=per_split(analysis_parts("backpatch")),
        model="results/{model}/model.json",
    output:
        patchscopes=report(
            "results/{model}/figures/patchscopes.png",
            caption="../report/patchscopes.rst",
            category="{model}",
            subcategory="figures",
        ),
        patchscopes_pdf="results/{model}/figures/patchscopes.pdf",
        backpatching=report(
            "results/{model}/figures/backpatching.png",
            caption="../report/backpatching_heatmaps.rst",
            category="{model}",
            subcategory="figures",
        ),
        backpatching_pdf="results/{model}/figures/backpatching.pdf",
    log:
        "results/logs/{model}/plot_heatmaps.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/plot_heatmaps.py"


rule make_tables:
    input:
        layers=per_split(["layers.csv"]),
        projection=per_split(analysis_parts("projection")),
        model="results/{model}/model.json",
    output:
        backpatching=report(
            "results/{model}/tables/backpatching.csv",
            caption="../report/backpatching_table.rst",
            category="{model}",
            subcategory="tables",
        ),
        projection=report(
            "results/{model}/tables/projection.csv",
            caption="../report/projection_table.rst",
            category="{model}",
            subcategory="tables",
        ),
        findings=report(
            "results/{model}/tables/findings.csv",
            caption="../report/findings.rst",
            category="{model}",
            subcategory="tables",
        ),
    log:
        "results/logs/{model}/make_tables.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/make_tables.py"


rule compare_models:
    input:
        layers=expand("results/{model}/{split}/layers.csv", model=MODELS, split=SPLITS),
        models=expand("results/{model}/model.json", model=MODELS),
        backpatching=expand("results/{model}/tables/backpatching.csv", model=MODELS),
    output:
        figure=report(
            "results/comparison/models.png",
            caption="../report/comparison_figure.rst",
            category="models compared",
        ),
        figure_pdf="results/comparison/models.pdf",
        table=report(
            "results/comparison/models.csv",
            caption="../report/comparison_table.rst",
            category="models compared",
        ),
    log:
        "results/logs/compare_models.log",
    conda:
        "../environment.yml"
    params:
        models=list(MODELS),
    script:
        "../scripts/compare_models.py"
