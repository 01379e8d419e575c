# The multi-hop reasoning study ("Hopping Too Late", Biran et al. 2024) as one workflow:
# Wikidata -> two-hop dataset -> per-model evaluation and case splits -> analyses -> report.


configfile: f"{workflow.basedir}/config.yaml"  # the study's settings, wherever the run is


include: "rules/common.smk"
include: "rules/dataset.smk"
include: "rules/models.smk"
include: "rules/evaluation.smk"
include: "rules/analyses.smk"
include: "rules/report.smk"


# the report opens on the findings (rule write_landing) once a run has written them
report: report_text()


# Light jobs (tables, plots, gathers, reading tokenizers) are marked `localrule: True`: they run
# where Snakemake runs, not in a cluster's queue.


rule all:
    input:
        final_outputs(),
