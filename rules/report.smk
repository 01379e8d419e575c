rule plot_stages:
    input:
        unpack(per_split(stages=["stages.csv"])),
        model="results/{model}/model.json",
        code=code_files("scripts/plot_stages.py"),
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
    script:
        "../scripts/plot_stages.py"


rule plot_heatmaps:
    input:
        unpack(
            per_split(
                patchscopes=analysis_parts("patchscopes"),
                backpatching=analysis_parts("backpatching"),
            )
        ),
        model="results/{model}/model.json",
        code=code_files("scripts/plot_heatmaps.py"),
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
    script:
        "../scripts/plot_heatmaps.py"


rule make_tables:
    input:
        unpack(
            per_split(
                stages=["stages.csv"],
                projection=analysis_parts("projection"),
                backpatching=analysis_parts("backpatching"),
                controls=analysis_parts("controls"),
            )
        ),
        model="results/{model}/model.json",
        runtime="results/{model}/runtime.json",
        code=code_files("scripts/make_tables.py"),
    output:
        backpatching="results/{model}/tables/backpatching.csv",
        backpatching_html=reported_table("backpatching", "backpatching_table"),
        projection="results/{model}/tables/projection.csv",
        projection_html=reported_table("projection", "projection_table"),
        controls="results/{model}/tables/controls.csv",
        controls_html=reported_table("controls", "controls_table"),
        findings="results/{model}/tables/findings.csv",
        findings_html=reported_table("findings"),
        choices="results/{model}/tables/choices.csv",
        choices_html=reported_table("choices"),
    log:
        "results/logs/{model}/make_tables.log",
    params:
        config={key: config[key] for key in ("evaluation", "analyses")},
    script:
        "../scripts/make_tables.py"


rule plot_controls:
    input:
        table="results/{model}/tables/controls.csv",
        model="results/{model}/model.json",
        code=code_files("scripts/plot_controls.py"),
    output:
        figure=report(
            "results/{model}/figures/controls.png",
            caption="../report/controls.rst",
            category="{model}",
            subcategory="figures",
        ),
        figure_pdf="results/{model}/figures/controls.pdf",
    log:
        "results/logs/{model}/plot_controls.log",
    script:
        "../scripts/plot_controls.py"


rule render_funnel:
    input:
        table="results/{model}/funnel.csv",
        code=code_files("scripts/render_table.py"),
    output:
        reported_table("funnel"),
    log:
        "results/logs/{model}/render_funnel.log",
    params:
        title=lambda wildcards: f"{wildcards.model}: which cases are studied",
    script:
        "../scripts/render_table.py"


rule render_dataset_stats:
    input:
        table="results/dataset/stats.csv",
        code=code_files("scripts/render_table.py"),
    output:
        report(
            "results/dataset/stats.html",
            caption="../report/dataset_stats.rst",
            category="dataset",
        ),
    log:
        "results/logs/render_dataset_stats.log",
    params:
        title="two-hop cases by relation pair and entity type",
    script:
        "../scripts/render_table.py"


rule compare_models:
    input:
        # in the order of params: model by model, split by split
        stages=expand("results/{model}/{split}/stages.csv", model=MODELS, split=SPLITS),
        models=expand("results/{model}/model.json", model=MODELS),
        backpatching=expand("results/{model}/tables/backpatching.csv", model=MODELS),
        controls=expand("results/{model}/tables/controls.csv", model=MODELS),
        code=code_files("scripts/compare_models.py"),
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
    params:
        models=list(MODELS),
        splits=SPLITS,
    script:
        "../scripts/compare_models.py"
