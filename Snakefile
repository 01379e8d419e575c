# The multi-hop reasoning study ("Hopping Too Late", Biran et al. 2024) as one workflow:
# Wikidata -> two-hop dataset -> per-model evaluation and case splits -> analyses -> report.


configfile: f"{workflow.basedir}/config.yaml"  # the study's settings, wherever the run is


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/dataset.smk"
include: "rules/models.smk"
include: "rules/evaluation.smk"
include: "rules/analyses.smk"
include: "rules/report.smk"


# Light jobs (tables, plots, gathers, reading tokenizers) run where Snakemake runs, not in a
# cluster's queue; so does a SPARQL extraction, as compute nodes often have no network.
localrules:
    all,
    import_dataset,
    split_cases,
    describe_model,
    locate_cases,
    gather_analysis,
    summarize_stages,
    plot_stages,
    plot_heatmaps,
    plot_controls,
    make_tables,
    render_funnel,
    render_dataset_stats,
    compare_models,


if config["wikidata"]["source"] == "sparql":

    localrules:
        extract_wikidata,


rule all:
    input:
        "results/dataset/two_hop.csv",
        "results/dataset/stats.csv",
        expand("results/{model}/cases/{split}.csv", model=MODELS, split=SPLITS),
        expand("results/{model}/funnel.csv", model=MODELS),
        expand("results/{model}/{split}/stages.csv", model=MODELS, split=SPLITS),
        expand(
            "results/{model}/figures/{figure}.{kind}",
            model=MODELS,
            figure=[
                "stages",
                "first_layers",
                "patchscopes",
                "backpatching",
                "controls",
            ],
            kind=["png", "pdf"],
        ),
        expand(
            "results/{model}/tables/{table}.{kind}",
            model=MODELS,
            table=["backpatching", "controls", "projection", "findings", "choices"],
            kind=["csv", "html"],
        ),
        expand("results/{model}/tables/funnel.html", model=MODELS),
        "results/dataset/stats.html",
        # the side-by-side comparison, once there is something to compare
        ["results/comparison/models.png"] if len(MODELS) > 1 else [],
