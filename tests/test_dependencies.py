"""Rules depend on what their code means: the library files their scripts run, by abstract syntax."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture
def digest_after(tmp_path, monkeypatch):
    """A copy of the project's code digested in place of the project's: `digest_after(path, change,
    script)` rewrites `path` by `change` (text to text) in the copy, then digests `script` there."""
    import multihop.dependencies as dependencies

    shutil.copytree(ROOT / "multihop", tmp_path / "multihop", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    monkeypatch.setattr(dependencies, "ROOT", tmp_path)

    def digest_after(path, change, script="scripts/split_cases.py"):
        (tmp_path / path).write_text(change((tmp_path / path).read_text()))
        dependencies._imported.cache_clear(), dependencies._meaning.cache_clear()
        return code_digest(script)

    yield digest_after
    dependencies._imported.cache_clear(), dependencies._meaning.cache_clear()  # none of the copy's files


def replace(old, new):
    """A change that rewrites `old` (which must be there) as `new`."""

    def change(text):
        assert old in text
        return text.replace(old, new)

    return change


def test_the_digest_follows_code_not_comments_or_docstrings(digest_after):
    """In a copy of the project: rewording a docstring or adding a comment in a module a script
    imports leaves the script's digest as it was; a code change there, or in the script, does not."""
    before = digest_after("multihop/errors.py", lambda text: text)
    assert before == code_digest("scripts/split_cases.py") and len(before) == 16
    assert digest_after("multihop/errors.py", lambda text: text.replace('"""', '"""Reworded. ', 1)) == before
    assert digest_after("multihop/errors.py", lambda text: text + "\n# a comment\n\n") == before
    assert digest_after("scripts/split_cases.py", lambda text: text.replace('"""', '"""Reworded. ', 1)) == before
    assert digest_after("multihop/engine/head.py", lambda text: text + "\nLIMIT = 2\n") == before  # not imported
    assert digest_after("multihop/errors.py", lambda text: text + "\nLIMIT = 1\n") != before


def test_the_digest_leaves_log_messages_out(digest_after):
    """Rewording a logging call's message (its str literals, an f-string's literal parts) leaves the
    digest as it was; what the message formats is code, and so is every other string: an exception's
    message (the self-check's hint on how to rerun), a dict's key."""
    script, selfcheck = "scripts/evaluate.py", "multihop/engine/selfcheck.py"
    before, split = digest_after(script, lambda text: text, script), digest_after("scripts/split_cases.py", str)
    assert digest_after(script, replace("evaluated in %.0f s", "done in %.1f seconds"), script) == before
    assert digest_after(selfcheck, replace("engine self-check: only %d of", "self-check: just %d of"), script) == before
    assert digest_after(selfcheck, replace('"engine self-check: %d of %d', '"checked: %d of %d'), script) == before
    assert digest_after("scripts/split_cases.py", replace('"funnel:\\n%s"', '"the funnel: %s"')) == split

    notes = """
def _notes(x, logger, log):
    logging.info(f"noted {x!r} at {len(x):>{4}} and {x=}")
    logger.warning("said %s", x)
    log.log(10, "said")
    print("not a logging call")
"""
    noted = digest_after(selfcheck, lambda text: text + notes, script)
    assert noted != before
    reworded = notes.replace("noted ", "saw ").replace(" at ", ": ").replace("said", "told")
    assert digest_after(selfcheck, lambda text: text.replace(notes, reworded), script) == noted
    assert digest_after(selfcheck, replace("{len(x):>{4}}", "{len(x) + 1:>{4}}"), script) != noted  # formatted
    assert digest_after(selfcheck, replace('print("not a', 'print("no'), script) != noted

    assert digest_after(selfcheck, replace("rerun with `engine:", "run again with `engine:"), script) != noted
    assert digest_after(selfcheck, replace('"identical": identical', '"same": identical'), script) != noted


def _python(version):
    """The command of a Python `version` ("3.13") that runs, from the PATH (a pyenv shim there may
    refuse to run) or pyenv's versions folder; None if there is none. Also: where it looked."""
    candidates, roots = [shutil.which(f"python{version}")], []
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
        roots += [found.stdout.strip()] if found.returncode == 0 and found.stdout.strip() else []
    roots.append(os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv"))
    for root in dict.fromkeys(roots):
        candidates += sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"), reverse=True)
    asks = "import sys; print('%d.%d' % sys.version_info[:2])"
    for candidate in filter(None, candidates):
        ran = subprocess.run([candidate, "-c", asks], capture_output=True, text=True, timeout=60)
        if ran.returncode == 0 and ran.stdout.strip() == version:
            return str(candidate), roots
    return None, roots


# run by file path with -I -B: the stdlib only, and no bytecode written beside the module
DIGESTS_ELSEWHERE = """
import ast, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("dependencies", sys.argv[1])
dependencies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dependencies)
scripts, snippets = json.loads(sys.argv[2])
print(json.dumps({
    "digests": {script: dependencies.code_digest(script) for script in scripts},
    "snippets": [dependencies._canonical(dependencies._without_log_messages(ast.parse(s))) for s in snippets],
}))
"""

# f-strings' syntax trees differ between Pythons: 3.12.1 ends a format spec with a field by an empty str
SNIPPETS = [
    'f"{x!r:^{w}} tail {y:>3} {x=} {{}} {x:}" "and" f""',
    'logging.warning(f"a {x:>{w}.2f} b", "c %s", x)',
    "def f(*, a=None, **k) -> None:\n    {**k, 'a': a}",
]


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_the_digest_is_the_same_under_another_python(version):
    """Every script's digest (its imports' included) is the same under Python `version` as here,
    though `ast.dump` (once the digest's text) is not."""
    import multihop.dependencies as dependencies

    python, roots = _python(version)
    if python is None:
        pytest.skip(f"no Python {version}: no python{version} that runs on the PATH or in {', '.join(roots)}/versions")
    scripts = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "scripts").glob("*.py"))
    ran = subprocess.run(
        [
            python,
            "-I",
            "-B",
            "-c",
            DIGESTS_ELSEWHERE,
            str(ROOT / "multihop/dependencies.py"),
            json.dumps([scripts, SNIPPETS]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    elsewhere = json.loads(ran.stdout)
    assert len(scripts) > 10 and elsewhere["digests"] == {script: code_digest(script) for script in scripts}
    here = [dependencies._canonical(dependencies._without_log_messages(ast.parse(s))) for s in SNIPPETS]
    assert elsewhere["snippets"] == here, sys.version
