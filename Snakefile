# The multi-hop reasoning study ("Hopping Too Late", Biran et al. 2024) as one workflow:
# Wikidata -> two-hop dataset -> per-model evaluation and case splits -> analyses -> report.


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/dataset.smk"


rule all:
    input:
        "results/dataset/two_hop.csv",
        "results/dataset/stats.csv",
