"""Rules list the library files their scripts run, so an edit reruns exactly what uses it."""

from multihop.analyses.registry import ANALYSES
from multihop.dependencies import ROOT, code_files
from multihop.models.bundled import module_file as bundled_module_file


def relative(paths):
    return {str(p).removeprefix(str(ROOT) + "/") for p in paths}


def test_a_script_depends_on_what_it_imports_transitively():
    files = relative(code_files("scripts/build_dataset.py"))
    assert {"scripts/build_dataset.py", "multihop/dataset/chains.py", "multihop/files.py"} <= files
    assert "multihop/scripting.py" in files and "multihop/errors.py" in files  # imported by scripting
    assert not any(f.startswith(("multihop/engine/", "multihop/analyses/")) for f in files)


def test_an_analysis_depends_on_its_own_module_not_on_the_others():
    runner = relative(code_files("scripts/run_analysis.py"))
    assert "multihop/analyses/registry.py" in runner
    assert not {analysis.module_file for analysis in ANALYSES.values()} & runner
    patchscopes = relative(code_files("scripts/run_analysis.py", ANALYSES["patchscopes"].module_file))
    assert {
        "multihop/analyses/patchscopes.py",
        "multihop/engine/decoding.py",
        "multihop/engine/edits.py",
    } <= patchscopes
    assert "multihop/analyses/knockout.py" not in patchscopes


def test_every_analysis_module_exists():
    for analysis in ANALYSES.values():
        assert (ROOT / analysis.module_file).is_file()
        assert callable(analysis.runner())


def test_each_bundled_model_depends_on_its_own_builder_only():
    common = relative(code_files("scripts/prepare_bundled_model.py"))
    assert "multihop/models/bundled.py" in common
    assert not {"multihop/models/tiny.py", "multihop/models/gemma_gguf.py"} & common
    assert (ROOT / bundled_module_file("tiny-llama")).is_file() and (
        ROOT / bundled_module_file("gemma3-270m")
    ).is_file()
