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
        name=lambda wildcards: wildcards.model,
        source=lambda wildcards: MODELS[wildcards.model]["source"],  # only what the depth depends on
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
        backpatching="results/{model}/tables/backpatching.csv",
        backpatching_html=reported_table("backpatching", "backpatching_table"),
        projection="results/{model}/tables/projection.csv",
        projection_html=reported_table("projection", "projection_table"),
        findings="results/{model}/tables/findings.csv",
        findings_html=reported_table("findings"),
    log:
        "results/logs/{model}/make_tables.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/make_tables.py"


rule render_funnel:
    input:
        "results/{model}/funnel.csv",
    output:
        reported_table("funnel"),
    log:
        "results/logs/{model}/render_funnel.log",
    conda:
        "../environment.yml"
    params:
        title=lambda wildcards: f"{wildcards.model}: which cases are studied",
    script:
        "../scripts/render_table.py"


rule render_dataset_stats:
    input:
        "results/dataset/stats.csv",
    output:
        report(
            "results/dataset/stats.html",
            caption="../report/dataset_stats.rst",
            category="dataset",
        ),
    log:
        "results/logs/render_dataset_stats.log",
    conda:
        "../environment.yml"
    params:
        title="two-hop cases by relation pair and entity type",
    script:
        "../scripts/render_table.py"


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
        table="results/comparison/models.csv",
        table_html=report(
            "results/comparison/models.html",
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
