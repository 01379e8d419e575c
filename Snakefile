# The multi-hop reasoning study ("Hopping Too Late", Biran et al. 2024) as one workflow:
# Wikidata -> two-hop dataset -> per-model evaluation and case splits -> analyses -> report.


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/dataset.smk"
include: "rules/models.smk"
include: "rules/evaluation.smk"
include: "rules/analyses.smk"


rule all:
    input:
        "results/dataset/two_hop.csv",
        "results/dataset/stats.csv",
        expand(
            "results/{model}/cases/{split}.csv",
            model=MODELS,
            split=["correct", "incorrect"],
        ),
        expand("results/{model}/funnel.csv", model=MODELS),
        expand("results/{model}/{split}/layers.csv", model=MODELS, split=SPLITS),
