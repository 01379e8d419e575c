rule convert_default_model:
    output:
        directory(BUNDLED_DIR),
    log:
        "results/logs/convert_default_model.log",
    benchmark:
        "results/benchmarks/convert_default_model.tsv"
    conda:
        "../environment.yml"
    script:
        "../scripts/convert_default_model.py"
