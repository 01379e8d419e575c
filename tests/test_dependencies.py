"""Rules depend on what their code means: the library files their scripts run, by abstract syntax."""

import shutil

from multihop.analyses.catalog import CATALOG
from multihop.dependencies import ROOT, code_digest, code_files
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
    assert "multihop/analyses/catalog.py" in runner
    assert not {analysis.module_file for analysis in CATALOG.values()} & runner
    patchscopes = relative(code_files("scripts/run_analysis.py", CATALOG["patchscopes"].module_file))
    assert {
        "multihop/analyses/patchscopes.py",
        "multihop/engine/decoding.py",
        "multihop/engine/edits.py",
    } <= patchscopes
    assert "multihop/analyses/knockout.py" not in patchscopes


def test_figures_and_tables_do_not_depend_on_the_engine():
    for analysis in CATALOG.values():
        for product in (analysis.figure, analysis.table):
            if product is not None:
                files = relative(code_files("scripts/draw_product.py", product.module_file))
                assert not any(f.startswith("multihop/engine/") for f in files), files


def test_every_analysis_module_and_product_exists():
    for analysis in CATALOG.values():
        assert (ROOT / analysis.module_file).is_file()
        for product in (analysis.figure, analysis.table):
            if product is not None:
                assert (ROOT / product.module_file).is_file() and (ROOT / "report" / f"{product.caption}.rst").is_file()


def test_each_bundled_model_depends_on_its_own_builder_only():
    common = relative(code_files("scripts/prepare_bundled_model.py"))
    assert "multihop/models/bundled.py" in common
    assert not {"multihop/models/tiny.py", "multihop/models/gemma_gguf.py"} & common
    assert (ROOT / bundled_module_file("tiny-llama")).is_file() and (
        ROOT / bundled_module_file("gemma3-270m")
    ).is_file()


def test_the_digest_follows_code_not_comments_or_docstrings(tmp_path, monkeypatch):
    """In a copy of the project: rewording a docstring or adding a comment in a module a script
    imports leaves the script's digest as it was; a code change there, or in the script, does not."""
    import multihop.dependencies as dependencies

    shutil.copytree(ROOT / "multihop", tmp_path / "multihop", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    monkeypatch.setattr(dependencies, "ROOT", tmp_path)

    def digest_after(path, change):
        (tmp_path / path).write_text(change((tmp_path / path).read_text()))
        dependencies._imported.cache_clear(), dependencies._meaning.cache_clear()
        return code_digest("scripts/split_cases.py")

    before = digest_after("multihop/errors.py", lambda text: text)
    assert before == code_digest("scripts/split_cases.py") and len(before) == 16
    assert digest_after("multihop/errors.py", lambda text: text.replace('"""', '"""Reworded. ', 1)) == before
    assert digest_after("multihop/errors.py", lambda text: text + "\n# a comment\n\n") == before
    assert digest_after("scripts/split_cases.py", lambda text: text.replace('"""', '"""Reworded. ', 1)) == before
    assert digest_after("multihop/engine/head.py", lambda text: text + "\nLIMIT = 2\n") == before  # not imported
    assert digest_after("multihop/errors.py", lambda text: text + "\nLIMIT = 1\n") != before
