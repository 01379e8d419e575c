rule prepare_bundled_model:
    output:
        directory(f"{RESOURCES}/{{bundled}}"),
    log:
        "<results>/logs/prepare_bundled_model/{bundled}.log",
    benchmark:
        "<results>/benchmarks/prepare_bundled_model/{bundled}.tsv"
    resources:
        mem_mb=8000,  # the GGUF is dequantized to float32 in memory
        runtime=30,
    params:
        code=lambda wildcards: code_digest(
            "scripts/prepare_bundled_model.py", bundled_module_file(wildcards.bundled)
        ),
    script:
        "../scripts/prepare_bundled_model.py"


rule describe_model:
    input:
        model=model_files,
    output:
        "<results>/{model}/model.json",
    log:
        "<results>/logs/{model}/describe_model.log",
    localrule: True
    params:
        code=code_digest("scripts/describe_model.py"),
        name=lambda wildcards: wildcards.model,
        source=lambda wildcards: MODELS[wildcards.model]["source"],  # only what the depth depends on
    script:
        "../scripts/describe_model.py"
