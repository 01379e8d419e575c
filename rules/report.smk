rule plot_stages:
    input:
        unpack(per_split(stages=["stages.csv"])),
        model="<results>/{model}/model.json",
    output:
        stages=report(
            "<results>/{model}/figures/stages.png",
            caption="../report/stages.rst",
            category="{model}",
            subcategory="figures",
        ),
        stages_pdf="<results>/{model}/figures/stages.pdf",
        first_layers=report(
            "<results>/{model}/figures/first_layers.png",
            caption="../report/first_layers.rst",
            category="{model}",
            subcategory="figures",
        ),
        first_layers_pdf="<results>/{model}/figures/first_layers.pdf",
    log:
        "<results>/logs/{model}/plot_stages.log",
    localrule: True
    params:
        code=code_digest("scripts/plot_stages.py"),
        first_layers=config["analyses"]["first_layers"],
    script:
        "../scripts/plot_stages.py"


# Each analysis's figure and table, as its catalog entry names them (multihop/analyses/catalog.py):
# rules plot_{analysis} and table_{analysis}, each shown in the report with its own caption.
for name, analysis in CATALOG.items():
    if analysis.figure:

        rule:
            name:
                f"plot_{name}"
            input:
                unpack(product_inputs(analysis, analysis.figure)),
            output:
                png=report(
                    f"<results>/{{model}}/figures/{name}.png",
                    caption=f"../report/{analysis.figure.caption}.rst",
                    category="{model}",
                    subcategory="figures",
                ),
                pdf=f"<results>/{{model}}/figures/{name}.pdf",
            log:
                f"<results>/logs/{{model}}/plot_{name}.log",
            localrule: True
            params:
                code=code_digest("scripts/draw_product.py", analysis.figure.module_file),
                kind="figure",
                function=analysis.figure.function,
                uses=uses(analysis, analysis.figure),
                stages=analysis.figure.stages,
                groups=analysis.figure.groups,
                settings=product_settings(analysis, analysis.figure, SETTINGS),
            script:
                "../scripts/draw_product.py"

    if analysis.table:

        rule:
            name:
                f"table_{name}"
            input:
                unpack(product_inputs(analysis, analysis.table)),
            output:
                csv=f"<results>/{{model}}/tables/{name}.csv",
                html=reported_table(name, analysis.table.caption),
            log:
                f"<results>/logs/{{model}}/table_{name}.log",
            localrule: True
            params:
                code=code_digest("scripts/draw_product.py", analysis.table.module_file),
                kind="table",
                function=analysis.table.function,
                uses=uses(analysis, analysis.table),
                stages=analysis.table.stages,
                groups=analysis.table.groups,
                settings=product_settings(analysis, analysis.table, SETTINGS),
                title=analysis.table.title,
            script:
                "../scripts/draw_product.py"


rule make_findings:
    input:
        unpack(
            per_split(
                stages=["stages.csv"],
                stages_word=["stages_word.csv"],
                studied=["studied.csv"],
                # back-patching and its nulls
                **{name: analysis_parts(name) for name in NULLS_COMPARED},
            )
        ),
        model="<results>/{model}/model.json",
        runtime="<results>/{model}/runtime.json",
        cases=expand("<results>/{{model}}/cases/{split}.csv", split=SPLITS),
    output:
        findings="<results>/{model}/tables/findings.csv",
        findings_html=reported_table("findings"),
        choices="<results>/{model}/tables/choices.csv",
        choices_html=reported_table("choices"),
    log:
        "<results>/logs/{model}/make_findings.log",
    localrule: True
    params:
        code=code_digest("scripts/make_findings.py"),
        seed=config["analyses"]["seed"],  # the held-out test's folds
        config=lambda wildcards: chosen(config, wildcards.model),  # where the study and this project differ
    script:
        "../scripts/make_findings.py"


# the run's results page: code, settings, funnel, each claim's verdict in words, the nulls
rule write_summary:
    input:
        findings="<results>/{model}/tables/findings.csv",
        choices="<results>/{model}/tables/choices.csv",
        funnel="<results>/{model}/funnel.csv",
        model="<results>/{model}/model.json",
    output:
        "<results>/{model}/summary.md",
    log:
        "<results>/logs/{model}/write_summary.log",
    localrule: True
    params:
        code=code_digest("scripts/write_summary.py"),
    script:
        "../scripts/write_summary.py"


# the report's first screen: each model's findings in words, its funnel and stage figure, then the
# workflow's description (the Snakefile's `report:` reads it once it exists)
rule write_landing:
    input:
        models=expand("<results>/{model}/model.json", model=MODELS),
        findings=expand("<results>/{model}/tables/findings.csv", model=MODELS),
        funnels=expand("<results>/{model}/funnel.csv", model=MODELS),
        figures=expand("<results>/{model}/figures/stages.png", model=MODELS),
    output:
        LANDING,
    log:
        "<results>/logs/write_landing.log",
    localrule: True
    params:
        code=code_digest("scripts/write_landing.py"),
        # the text, not its path, which changes wherever the project is copied (a function,
        # since the text holds braces)
        description=lambda wildcards: Path(
            f"{workflow.basedir}/report/workflow.rst"
        ).read_text(),
    script:
        "../scripts/write_landing.py"


rule gather_checks:
    input:
        engine_checks,
    output:
        table="<results>/{model}/tables/engine_check.csv",
        html=reported_table("engine_check"),
    log:
        "<results>/logs/{model}/gather_checks.log",
    localrule: True
    params:
        code=code_digest("scripts/gather_checks.py"),
    script:
        "../scripts/gather_checks.py"


rule render_funnel:
    input:
        table="<results>/{model}/funnel.csv",
    output:
        reported_table("funnel"),
    log:
        "<results>/logs/{model}/render_funnel.log",
    localrule: True
    params:
        code=code_digest("scripts/render_table.py"),
        title=lambda wildcards: f"{wildcards.model}: which cases are studied",
    script:
        "../scripts/render_table.py"


rule render_dataset_stats:
    input:
        table="<results>/dataset/stats.csv",
    output:
        report(
            "<results>/dataset/stats.html",
            caption="../report/dataset_stats.rst",
            category="dataset",
        ),
    log:
        "<results>/logs/render_dataset_stats.log",
    localrule: True
    params:
        code=code_digest("scripts/render_table.py"),
        title="two-hop cases by relation pair and entity type",
    script:
        "../scripts/render_table.py"


rule compare_models:
    input:
        # in the order of params: model by model, split by split
        stages=expand(
            "<results>/{model}/{split}/stages.csv", model=MODELS, split=SPLITS
        ),
        models=expand("<results>/{model}/model.json", model=MODELS),
        backpatching=expand("<results>/{model}/tables/backpatching.csv", model=MODELS),
        controls=expand("<results>/{model}/tables/controls.csv", model=MODELS),
    output:
        figure=report(
            "<results>/comparison/models.png",
            caption="../report/comparison_figure.rst",
            category="models compared",
        ),
        figure_pdf="<results>/comparison/models.pdf",
        table="<results>/comparison/models.csv",
        table_html=report(
            "<results>/comparison/models.html",
            caption="../report/comparison_table.rst",
            category="models compared",
        ),
    log:
        "<results>/logs/compare_models.log",
    localrule: True
    params:
        code=code_digest("scripts/compare_models.py"),
        models=list(MODELS),
        splits=SPLITS,
    script:
        "../scripts/compare_models.py"
