"""The whole workflow under Snakemake: the .test/ run (tiny excerpt, tiny taught model) in temp dirs.

Each full run costs a minute or more on two cores, so the runs are few and each serves several
assertions: the module's run (offline; everything else starts from a copy of it), a rerun from
scratch up to the splits and Patchscopes (other batches and shards), the killed shard's runs (other batches and shards),
the chain-file run (a second run, of its own name, beside a copy of the module's run) and the SLURM
rerun (from the evaluation on, in a copy of the module's run)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import merged

from multihop.analyses.catalog import CATALOG, CONTROLS
from multihop.evaluation.splits import SPLITS
from multihop.report.summary import VERDICTS

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
MODEL = "tiny-llama"
RESULTS = Path("results", "test")  # the .test run's folder: its config names the run test
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
pytestmark = pytest.mark.workflow


def _test_settings() -> dict:
    """The analyses' settings of the .test run (its config over the project's)."""
    config = merged(
        yaml.safe_load((ROOT / "config.yaml").read_text()), yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    )
    return {**config["analyses"], **{key: config["evaluation"][key] for key in ("match", "one_character")}}


SETTINGS_OF_TEST = _test_settings()


def snakemake_command(workdir, project=ROOT) -> list:
    """Snakemake on the workflow of `project` (this one, or a copy), in `workdir` with its config.yaml."""
    return [SNAKEMAKE, "-s", project / "Snakefile", "-d", workdir, "--configfile", workdir / "config.yaml"]


def snakemake(workdir, *args, cores=2, env=None, project=ROOT):
    command = [*snakemake_command(workdir, project), "--cores", str(cores), *args]
    if project != ROOT:  # the copy's library, not the installed one
        env = {**(env or os.environ), "PYTHONPATH": str(project)}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def offline(log):
    """An environment whose Python processes refuse every network connection (tests/offline/),
    recording attempts in `log`."""
    path = os.pathsep.join(p for p in (str(ROOT / "tests" / "offline"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "MULTIHOP_NETWORK_LOG": str(log)}


def output_hashes(workdir) -> dict:
    """sha256 of every table (CSV, Parquet) and figure (PNG) a run wrote under results/, but the
    shards' files (how many there are is a setting; everything made from them must not differ)."""
    files = sorted(p for p in (workdir / "results").rglob("*") if p.suffix in (".csv", ".parquet", ".png"))
    files = [p for p in files if "shards" not in p.parts and p.name != "engine_check.csv"]  # (a row per job, timed)
    return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


PROJECT = ["Snakefile", "config.yaml", "rules", "scripts", "multihop", "schemas", "report", "profiles"]


def copy_project(folder) -> Path:
    """A copy of the project's workflow and library, to edit without touching the source tree."""
    folder.mkdir(parents=True)
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    return folder


def copy_run(workdir, folder) -> Path:
    """A copy of a finished run (results, resources, Snakemake's records), times kept."""
    shutil.copytree(workdir, folder, symlinks=True, ignore=shutil.ignore_patterns("report.html"))
    return folder


def copy_test_run(workdir, config=None, resources_from=None):
    """A copy of .test/ in `workdir`, its config changed by `config`; the bundled tiny model is
    copied from `resources_from` (an earlier run) rather than built again."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".test" / "tiny.nt", workdir / "tiny.nt")
    settings = merged(yaml.safe_load((ROOT / ".test" / "config.yaml").read_text()), config or {})
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    if resources_from is not None:
        shutil.copytree(resources_from / "resources", workdir / "resources", dirs_exist_ok=True)
    return workdir


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The .test run from nothing, with every network connection refused (tests/offline/)."""
    workdir = copy_test_run(tmp_path_factory.mktemp("workflow"))
    run = snakemake(workdir, env=offline(workdir / "attempts.txt"))
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_the_test_run_goes_end_to_end_offline_and_reruns_nothing(workdir):
    assert not (workdir / "attempts.txt").exists(), (workdir / "attempts.txt").read_text()  # no connection tried
    results = workdir / RESULTS
    # every job checked its generations against generate: all identical
    checks = pd.read_csv(results / MODEL / "tables" / "engine_check.csv")
    assert checks["checked"].sum() >= 16 * 8 and (checks["identical"] == checks["checked"]).all()
    assert len(pd.read_csv(results / "dataset" / "two_hop.csv")) == 6
    evaluation = pd.read_csv(results / MODEL / "evaluation.csv")
    assert len(evaluation) == 6 and evaluation["first_hop_generation"].notna().all()
    funnel = pd.read_csv(results / MODEL / "funnel.csv").set_index("step")["cases"]
    assert funnel.iloc[0] == 6 and funnel.iloc[:5].is_monotonic_decreasing  # the filters, then the splits
    studied = funnel["studied, composition correct"] + funnel["studied, composition incorrect"]
    assert studied == funnel["relation shortcut does not give e3"]
    # the taught model answers its hops, and composes some questions but not all
    assert funnel["second hop correct"] >= 5
    for split in SPLITS:
        studied = pd.read_csv(results / MODEL / split / "studied.csv")
        stages = pd.read_csv(results / MODEL / split / "stages.csv")
        assert len(studied) >= 1 and list(stages["id"]) == list(studied["id"])
        backpatching = pd.read_parquet(results / MODEL / split / "backpatching_t1.parquet")
        assert set(backpatching["id"]) == set(studied["id"]) and len(backpatching) == len(studied) * 6  # 4 layers
        # Patchscopes studies one case per split (.test/config.yaml): the first in the seeded order
        patchscopes = pd.read_parquet(results / MODEL / split / "patchscopes_t1_s0.parquet")
        assert set(patchscopes["id"]) == set(studied.loc[studied["order"] == 0, "id"])
        assert stages["studied_by_patchscopes"].sum() == 1 and stages["studied_by_backpatching"].all()
        assert stages.loc[~stages["studied_by_patchscopes"], "first_hop_resolved"].isna().all()
        # the controls study the first 3 cases of the seeded order (.test/config.yaml), on back-patching's grid
        noise = pd.read_parquet(results / MODEL / split / "controls_noise.parquet")
        assert set(noise["id"]) == set(studied.loc[studied["order"] < 3, "id"])
        assert len(noise) == 12 * noise["id"].nunique()
    assert (results / "logs" / MODEL / "evaluate.log").is_file()
    assert (results / MODEL / "figures" / "backpatching.pdf").read_bytes()[:4] == b"%PDF"
    findings = pd.read_csv(results / MODEL / "tables" / "findings.csv")
    claims = list(findings["claim"].astype(str))
    assert claims.count("4") == 4  # later first hop; back-patching at t1, at t2, at either
    nulls = findings[findings["claim"] == "nulls"]  # against forward patching and the controls
    assert set(nulls["statement"].str.extract(r"(forward patching|matched noise)")[0].dropna()) == {
        "forward patching",
        "matched noise",
    }
    forward = pd.read_parquet(results / MODEL / "incorrect" / "forwardpatching_t2.parquet")
    assert (forward["source_layer"] < forward["target_layer"]).all() and len(forward) == 6 * forward["id"].nunique()
    assert claims.count("chance") == 4  # Patchscopes against another case's names, per stage and split
    assert set(findings["split"]) == {"correct", "incorrect", "both"} and findings["holds_word"].notna().all()
    assert (findings["dtype"] == "float32").all()  # the precision the run used, as its evaluation recorded it
    assert json.loads((results / MODEL / "runtime.json").read_text())["dtype"] == "float32"
    assert (results / MODEL / "figures" / "controls.png").read_bytes()[:4] == b"\x89PNG"
    assert (results / MODEL / "figures" / "forwardpatching.png").read_bytes()[:4] == b"\x89PNG"
    # the run's own results page: every claim of its findings, with its verdict in words
    page = (results / MODEL / "summary.md").read_text()
    assert page.startswith(f"# {MODEL}: ") and re.search(r"code: ([0-9a-f]{7}( \+ changes)?|not a git checkout);", page)
    assert all(statement in page for statement in findings["statement"])
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def dry_run(workdir, *args, project=ROOT) -> str:
    run = snakemake(workdir, "--dry-run", *args, project=project)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def planned_jobs(workdir, *args, project=ROOT) -> dict[str, int]:
    """Rule -> number of jobs a dry run plans (its "Job stats" table); {} when nothing is to be done."""
    lines = dry_run(workdir, *args, project=project).splitlines()
    if "Job stats:" not in lines:
        assert any("Nothing to be done" in line for line in lines), lines[-20:]
        return {}
    table = lines[lines.index("Job stats:") + 3 :]
    rows = [line.split() for line in table[: table.index("")]]
    return {rule: int(count) for rule, count in rows if rule != "total"}


def planned_outputs(workdir, *args) -> set[str]:
    """The output files of every job a dry run plans."""
    return {
        path.strip()
        for line in dry_run(workdir, *args).splitlines()
        if line.strip().startswith("output:")
        for path in line.split("output:", 1)[1].split(",")
    }


def test_reruns_follow_what_code_means(workdir, tmp_path):
    """In a copy of the project and of the finished run: a reworded docstring and a new comment
    in a module every script imports rerun nothing; a code edit in Patchscopes' module reruns
    Patchscopes and what follows from it, nothing upstream and no other analysis."""
    project, run = copy_project(tmp_path / "project"), copy_run(workdir, tmp_path / "run")
    errors = project / "multihop" / "errors.py"
    errors.write_text(errors.read_text().replace('"""', '"""Reworded. ', 1) + "\n# a comment\n")
    scripting = project / "scripts" / "split_cases.py"
    scripting.write_text(scripting.read_text().replace('"""', '"""Reworded. ', 1))
    nothing = snakemake(run, "--dry-run", project=project)
    assert nothing.returncode == 0 and "Nothing to be done" in nothing.stdout + nothing.stderr, nothing.stdout[-2000:]

    module = project / CATALOG["patchscopes"].module_file
    edited = module.read_text().replace(
        "    return sweep(context, case, POSITIONS)\n", "    return sweep(context, case, POSITIONS)  # edited\n"
    )
    assert edited != module.read_text()
    module.write_text(edited)
    assert planned_jobs(run, project=project) == {}  # a comment again
    module.write_text(module.read_text() + "\nEDITED = True\n")
    jobs = planned_jobs(run, project=project)
    shards = len(SPLITS)  # one shard per split
    assert jobs["analysis_shard"] == shards  # Patchscopes only, not the other analyses
    assert jobs["gather_analysis"] == shards * len(CATALOG["patchscopes"].part_names(SETTINGS_OF_TEST))
    assert {"summarize_stages", "plot_stages", "plot_patchscopes", "make_findings"} <= set(jobs)
    assert not {"plot_backpatching", "table_projection", "plot_knockout"} & set(jobs)
    assert not {"extract_wikidata", "build_dataset", "evaluate", "split_cases", "sample_cases"} & set(jobs)
    module.write_text(module.read_text().replace("\nEDITED = True\n", ""))

    # a log message reworded reruns nothing; the catalog's entries and constants rerun what reads them
    selfcheck = project / "multihop" / "engine" / "selfcheck.py"
    reworded = selfcheck.read_text().replace('"engine self-check: %d of %d', '"self-check: %d of %d')
    assert reworded != selfcheck.read_text()
    selfcheck.write_text(reworded)
    assert planned_jobs(run, project=project) == {}
    catalog = project / "multihop" / "analyses" / "catalog.py"
    original = catalog.read_text()
    catalog.write_text(
        original.replace('KNOCKOUT_TARGETS = ("e1", "r1", "r2")', 'KNOCKOUT_TARGETS = ("e1", "r1", "r2", "e2")')
    )
    jobs = planned_jobs(run, project=project)
    # knockout's shards, and its four parts: no other analysis's sweep (the report's quick rules, yes)
    assert jobs["analysis_shard"] == shards and jobs["gather_analysis"] == shards * 4 and "plot_knockout" in jobs
    assert not {"sample_cases", "evaluate"} & set(jobs), jobs
    flipped = original.replace("            draws_on_others=True,\n", "")
    assert flipped != original
    catalog.write_text(flipped)
    jobs = planned_jobs(run, project=project)
    assert jobs["analysis_shard"] == shards and jobs["gather_analysis"] == shards * len(CONTROLS), jobs


def test_settings_reach_only_the_analyses_that_read_them(workdir, tmp_path):
    """Dry runs of the finished run with one setting changed: sampling plans Patchscopes' shards
    and no other analysis's; the batch sizes (which change no output) plan nothing; a case count
    plans its analysis's shards only."""

    def planned(changes) -> dict:
        extra = tmp_path / f"{len(list(tmp_path.iterdir()))}.yaml"
        extra.write_text(yaml.safe_dump(changes))
        return planned_jobs(workdir, "--configfile", workdir / "config.yaml", extra)

    sampling = planned({"analyses": {"sampling": {"temperature": 0.5, "top_k": None, "top_p": None}}})
    assert sampling["analysis_shard"] == len(SPLITS) and "plot_patchscopes" in sampling
    assert not {"plot_backpatching", "plot_knockout", "plot_projection", "sample_cases"} & set(sampling)
    models = [{**yaml.safe_load((workdir / "config.yaml").read_text())["models"][0], "batch_size": 3}]
    assert planned({"analyses": {"batch_size": 5}, "models": models}) == {}
    counts = {**yaml.safe_load((workdir / "config.yaml").read_text())["analyses"]["cases_per_split"], "backpatching": 3}
    fewer = planned({"analyses": {"cases_per_split": counts}})
    assert fewer["analysis_shard"] == len(SPLITS) and "plot_backpatching" in fewer
    assert not {"plot_patchscopes", "plot_knockout", "sample_cases", "evaluate"} & set(fewer)


TOY_MODULE = '''"""A toy stage analysis: the unedited prompt's answer, judged; its stage (a made-up layer where
the answer is right), figure and table live here too."""

import pandas as pd

from multihop.analyses.catalog import CATALOG


def run(context, case):
    text = context.generate(case.ids, [()])[0]
    return pd.DataFrame([(case.id, text, context.judge(text, case.names["e3"]))], columns=CATALOG["toy"].columns)


def answered(tables, stages, settings):
    toy = tables["toy"]
    return pd.Series(settings["toy_layer"], index=toy.loc[toy["correct"], "id"], dtype=float)


def figure(inputs):
    import matplotlib.pyplot as plt

    shares = {split: table["correct"].mean() for split, table in inputs.tables["toy"].items()}
    figure, ax = plt.subplots()
    ax.bar(list(shares), list(shares.values()))
    ax.set_title(f"{inputs.model}: toy")
    return figure


def table(inputs):
    rows = [(split, len(table), int(table["correct"].sum())) for split, table in inputs.tables["toy"].items()]
    return pd.DataFrame(rows, columns=["split", "n", "correct"])
'''
TOY_ENTRY = """        Analysis(
            "toy",
            ("id", "generation", "correct"),
            lambda settings: {"all": {}},
            reads=("max_new_tokens", "match"),
            stages=(
                Stage(
                    "toy_answered",
                    "multihop.analyses.toy:answered",
                    "toy answered",
                    place=5,
                    reads=("toy_layer",),
                    claim=Claim(5, "toy: the answer comes late", (0.5, math.inf), "interval above 0.5"),
                ),
            ),
            figure=Product("multihop.analyses.toy:figure", "toy"),
            table=Product("multihop.analyses.toy:table", "toy", "toy: answers of the unedited prompt"),
            adds={"toy_layer": {"type": "integer", "minimum": 0, "default": 2, "description": "the toy's layer"}},
        ),
"""
# the toy's stages as the stage figure draws them: its x tick labels, from the copy's code
STAGE_LABELS = """
import pandas as pd
from multihop.report.figures import stage_boxplot
from multihop.report.tables import stage_rows
stages = {split: pd.read_csv(f"results/test/tiny-llama/{split}/stages.csv") for split in ("correct", "incorrect")}
figure = stage_boxplot(stage_rows(stages, never=4), {s: len(t) for s, t in stages.items()}, 4, "")
names = [" ".join(label.get_text().split("\\n")[:2]) for label in figure.axes[0].get_xticklabels()]
print("|".join(names))
"""


def test_a_new_analysis_is_a_module_an_entry_and_a_caption(workdir, tmp_path):
    """In a copy of the project: a toy stage analysis (three files: its module, its catalog entry,
    its caption), with a setting of its own declared in its entry, is planned, runs on the .test
    study, is drawn and tabled, is a column of stages.csv, a row of the findings and a box of the
    stage figure, and is in the report with its caption."""
    project, run = copy_project(tmp_path / "project"), copy_run(workdir, tmp_path / "run")
    (project / "multihop" / "analyses" / "toy.py").write_text(TOY_MODULE)
    catalog = project / "multihop" / "analyses" / "catalog.py"
    text = catalog.read_text()
    end = "    )\n}\n# the analyses that stages.csv summarizes"
    assert text.count(end) == 1
    catalog.write_text(text.replace(end, TOY_ENTRY + end))
    (project / "report" / "toy.rst").write_text("Toy answers of {{ snakemake.wildcards.model }}, split by split.\n")

    # with every trigger the workflow uses: no other analysis reruns (the report's cheap rules,
    # whose code imports the catalog, do)
    jobs = planned_jobs(run, project=project)
    assert jobs["analysis_shard"] == 2 and jobs["gather_analysis"] == 2, jobs
    assert jobs["plot_toy"] == jobs["table_toy"] == 1 and "evaluate" not in jobs and "build_dataset" not in jobs
    done = snakemake(run, project=project)
    assert done.returncode == 0, done.stderr[-3000:]
    toy = pd.read_csv(run / RESULTS / MODEL / "tables" / "toy.csv")
    studied = sum(len(pd.read_csv(run / RESULTS / MODEL / split / "studied.csv")) for split in SPLITS)
    assert list(toy["split"]) == list(SPLITS) and toy["n"].sum() == studied
    assert (run / RESULTS / MODEL / "figures" / "toy.png").read_bytes()[:4] == b"\x89PNG"
    report = snakemake(run, "--report", "report.html", project=project)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (run / "report.html").read_text()
    assert "toy.png" in html and "Toy answers of" in html and "toy: answers of the unedited prompt" in html
    # its stage: read with its own setting's default, tested as a claim, drawn in the stage figure
    for split in SPLITS:
        stages = pd.read_csv(run / RESULTS / MODEL / split / "stages.csv").set_index("id")
        answered = pd.read_parquet(run / RESULTS / MODEL / split / "toy_all.parquet").set_index("id")["correct"]
        assert (stages["toy_answered"].notna() == answered.reindex(stages.index)).all()
        assert (stages["toy_answered"].dropna() == 2).all()
    findings = pd.read_csv(run / RESULTS / MODEL / "tables" / "findings.csv")
    toy = findings[findings["statement"] == "toy: the answer comes late"]
    assert list(toy["split"]) == list(SPLITS) and list(toy["claim"].astype(str)) == ["5", "5"]
    env = {**os.environ, "PYTHONPATH": str(project)}
    drawn = subprocess.run(
        [sys.executable, "-c", STAGE_LABELS], cwd=run, env=env, capture_output=True, text=True, check=True
    )
    labels = drawn.stdout.strip().split("|")
    assert labels[-1] == "toy answered" and labels[0] == "first hop resolved", labels
    # its setting, declared once in its entry: changing it reruns its stage's readers, not its shards
    extra = tmp_path / "toy_layer.yaml"
    extra.write_text(yaml.safe_dump({"analyses": {"toy_layer": 3}}))
    changed = planned_jobs(run, "--configfile", run / "config.yaml", extra, project=project)
    assert changed["summarize_stages"] == len(SPLITS) and "analysis_shard" not in changed, changed


def test_the_rules_outputs_derive_from_the_catalog(workdir, tmp_path):
    """The gathered files are the catalog's analyses and parts, for the config's settings."""
    settings = {"patchscopes_seeds": [7]}
    other = copy_test_run(tmp_path / "seeds", {"analyses": settings}, resources_from=workdir)
    outputs = [Path(path) for path in planned_outputs(other, "--forceall")]
    gathered = {path.name for path in outputs if path.parent == RESULTS / MODEL / "correct"}
    gathered = {name for name in gathered if name.endswith(".parquet")}
    settings = {**SETTINGS_OF_TEST, **settings}
    expected = {f"{name}_{part}.parquet" for name, a in CATALOG.items() for part in a.part_names(settings)}
    assert gathered == expected and "patchscopes_t1_s7.parquet" in gathered


def test_make_stage_reruns_one_analysis_and_what_follows_from_it(workdir, tmp_path):
    """`make stage ANALYSIS=knockout` on a copy of the finished run: its first command reruns
    knockout's shards alone, for both splits; its second then plans what follows from them where
    they changed: here nothing (the same code gives the same bytes) but the self-check's table."""
    run = copy_run(workdir, tmp_path / "run")
    args = f"-d {run} --configfile {run / 'config.yaml'}"
    make = ["make", "-s", "-n", "-C", ROOT, "-o", ".venv/.installed", "stage", "ANALYSIS=knockout"]
    printed = subprocess.run([*make, f"SNAKEMAKE_ARGS={args}"], capture_output=True, text=True, check=True).stdout
    commands = [line.split() for line in printed.splitlines() if "snakemake" in line]
    assert len(commands) == 2 and commands[0][-3:] == ["knockout", "--forcerun", "analysis_shard"], printed
    before = {p: p.stat().st_mtime_ns for p in (run / RESULTS / MODEL).rglob("shards/*.parquet")}
    first = subprocess.run([SNAKEMAKE, *commands[0][1:]], capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-3000:]
    rerun = sorted(p.name for p, mtime in before.items() if p.stat().st_mtime_ns != mtime)
    assert rerun == ["knockout_1-of-1.parquet"] * len(SPLITS), rerun
    then = planned_jobs(run, "--configfile", run / "config.yaml")
    # its tables came out byte-identical, so what follows stands (Snakemake compares small files'
    # checksums); only the engine's self-check table, which times each job, is made again
    assert then == {"gather_checks": 1, "all": 1}, then


def test_extra_models_extend_the_models_rather_than_replace_them(workdir, tmp_path):
    """A config file naming `models` replaces the list (Snakemake merges dictionaries, not lists);
    one naming `extra_models` keeps the config's model and adds its own."""
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        yaml.safe_dump({"extra_models": [{"name": "tiny-b", "source": "bundled:tiny-llama", "device": "cpu"}]})
    )
    planned = planned_outputs(workdir, "--forceall", "--configfile", workdir / "config.yaml", extra)
    expected = (f"{MODEL}/summary.md", "tiny-b/summary.md", "comparison/models.png")
    assert {f"{RESULTS}/{path}" for path in expected} <= planned


def test_bad_input_stops_with_a_plain_message_and_no_output(workdir, tmp_path):
    other = copy_test_run(tmp_path / "broken")
    lines = (other / "tiny.nt").read_text().splitlines()
    (other / "tiny.nt").write_text("\n".join(lines[:5] + ["<http://x> not a triple ."] + lines[5:]) + "\n")
    run = snakemake(other, f"{RESULTS}/dataset/two_hop.csv")
    assert run.returncode != 0
    assert "tiny.nt, line 6: malformed N-Triples line" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (other / RESULTS / "dataset" / "entities.csv").exists()


def test_misspelt_config_key_is_named(tmp_path):
    other = copy_test_run(tmp_path, {"evaluation": {"max_new_tokes": 3}})
    run = snakemake(other, "--dry-run")
    assert run.returncode != 0 and "'max_new_tokes' was unexpected" in run.stdout + run.stderr


def all_chains_correct(workdir, other, analyses):
    """A copy of the .test run whose correct split is all six chains (a hand-made split, beside
    the evaluation's record of the dtype it ran in), the config's `analyses` changed by `analyses`."""
    copy_test_run(other, {"analyses": analyses}, workdir)
    cases = other / RESULTS / MODEL / "cases"
    cases.mkdir(parents=True)
    shutil.copy(workdir / RESULTS / MODEL / "runtime.json", cases.parent / "runtime.json")
    (cases / "correct.csv").write_text((workdir / RESULTS / "dataset" / "two_hop.csv").read_text())
    return other


def test_a_killed_shard_resumes_where_it_stopped_and_gathers_the_same_bytes(workdir, tmp_path):
    """The whole run is SIGKILLed once a shard has finished some of its six cases; the rerun
    (`--rerun-incomplete`, as after preemption) runs only the others and gathers tables
    byte-identical to an uninterrupted run's, which ran in two shards of batches of 5 variants
    (512 in the killed one)."""
    analyses = {"shards": 1, "cases_per_split": 6}
    results = f"{RESULTS}/{MODEL}/correct"
    targets = [f"{results}/backpatching_{position}.parquet" for position in ("t1", "t2")]
    rules = ["--allowed-rules", "sample_cases", "analysis_shard", "gather_analysis"]
    killed = all_chains_correct(workdir, tmp_path / "killed", analyses)
    clean = all_chains_correct(workdir, tmp_path / "clean", {**analyses, "shards": 2, "batch_size": 5})
    for other in (killed, clean):  # the cases located first, so that the timed part is the shard
        run = snakemake(other, f"{results}/studied.csv", *rules)
        assert run.returncode == 0, run.stderr[-3000:]
    # beside it, an empty split (hand-made): its analyses and stages run without cases, no error
    cases = clean / RESULTS / MODEL / "cases"
    (cases / "incorrect.csv").write_text((cases / "correct.csv").read_text().splitlines()[0] + "\n")
    empty = snakemake(clean, f"{RESULTS}/{MODEL}/incorrect/stages.csv", *rules, "summarize_stages")
    assert empty.returncode == 0, empty.stderr[-3000:]
    assert pd.read_csv(clean / RESULTS / MODEL / "incorrect" / "stages.csv").empty

    shard = killed / results / "shards" / "backpatching_1-of-1.parquet"
    unfinished = shard.with_name(shard.name + ".unfinished")
    process = subprocess.Popen(
        [*snakemake_command(killed), "--cores", "1", *targets, *rules], start_new_session=True, **QUIET
    )
    deadline = time.monotonic() + 300
    while not list(unfinished.glob("case_*.parquet")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    os.killpg(process.pid, signal.SIGSTOP)  # freeze the run the moment its first case is stored
    kept = len(list(unfinished.glob("case_*.parquet")))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    print(f"the killed shard had stored {kept} of its 6 cases")
    assert 0 < kept < 6 and not shard.exists()

    assert snakemake(killed, "--unlock").returncode == 0  # the killed run's lock, as a user would
    for other in (killed, clean):
        run = snakemake(other, *targets, *rules, "--rerun-incomplete")
        assert run.returncode == 0, run.stderr[-3000:]
    log = (killed / RESULTS / "logs" / MODEL / "correct" / "backpatching_1-of-1.log").read_text()
    assert f"resuming: {kept} of 6 cases were finished by an earlier attempt" in log
    assert not unfinished.exists()
    for target in targets:
        assert (killed / target).read_bytes() == (clean / target).read_bytes()


CHROMIUM = "/usr/bin/chromium"  # Debian's, as make test installs it
REPORT_RULES = ["plot_stages", "make_findings", "write_summary", "write_landing", "compare_models", "describe_model"]
REPORT_RULES += [
    f"{kind}_{name}"
    for name, a in CATALOG.items()
    for kind in ("plot", "table")
    if getattr(a, {"plot": "figure", "table": "table"}[kind])
]
CAPTIONS = ["stages", "first_layers", "findings", "comparison_figure", "comparison_table"]
CAPTIONS += [product.caption for a in CATALOG.values() for product in (a.figure, a.table) if product]


def test_two_models_compared_and_the_report(workdir, tmp_path):
    """A second model reuses the first one's results (copied) with its own back-patching numbers,
    which is enough to draw the comparison; then the report holds every figure and table."""
    models = [{"name": name, "source": "bundled:tiny-llama", "device": "cpu"} for name in (MODEL, "tiny-b")]
    other = copy_test_run(tmp_path / "two", {"models": models}, resources_from=workdir)
    shutil.copytree(workdir / "results", other / "results")
    results = other / RESULTS
    shutil.copytree(results / MODEL, results / "tiny-b")
    marked = pd.read_csv(results / "tiny-b" / "tables" / "backpatching.csv").assign(share=0.125, ci_high=0.25)
    marked.to_csv(results / "tiny-b" / "tables" / "backpatching.csv", index=False)  # tiny-b's own numbers
    # the comparison, and the report's first screen with both models (the copy's has one, and no
    # record of its inputs to tell that a model came)
    (results / "landing.rst").unlink()
    run = snakemake(
        other, f"{RESULTS}/comparison/models.png", f"{RESULTS}/landing.rst", "--allowed-rules", *REPORT_RULES
    )
    assert run.returncode == 0, run.stderr[-3000:]

    compared = pd.read_csv(results / "comparison" / "models.csv")
    a, b = (compared[compared["model"] == m["name"]].drop(columns="model").reset_index(drop=True) for m in models)
    controls = pd.read_csv(results / MODEL / "tables" / "controls.csv")
    assert len(a) == 2 * 7 + len(controls) and set(a["layers"]) == {4}  # 4 stages, 3 fixable shares per split
    assert a["measure"].str.startswith("held-out fix rate at chosen, back-patching minus forward patching").sum() == 1
    fixable = a["measure"].str.fullmatch(r"fixable share at (t1|t2|t1 or t2)")  # back-patching's own table
    assert set(b.loc[fixable, "value"]) == {0.125} and 0.125 not in set(a.loc[fixable, "value"])
    pd.testing.assert_frame_equal(a[~fixable], b[~fixable])  # the same stages, so the same stage rows

    report = snakemake(other, "all", "--report", "report.html", "--allowed-rules", *REPORT_RULES)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (other / "report.html").read_text()
    drawn = [f"{name}.png" for name, a in CATALOG.items() if a.figure]
    for name in ("stages.png", *drawn, "findings.html", "models.png"):
        assert name in html
    for caption in CAPTIONS:  # every caption's first words, as the report renders them
        first_words = " ".join((ROOT / "report" / f"{caption}.rst").read_text().split()[:4])
        assert first_words.split("{{")[0].strip() in html, caption
    assert html.count(" (4 layers)</h2>") == 2  # a section per model (tiny-b: a copy, its model.json too)
    findings = pd.read_csv(results / MODEL / "tables" / "findings.csv")
    first_screen(other / "report.html", findings, tmp_path / "report.png")


def first_screen(report, findings, screenshot):
    """The report in headless Chromium at 1400x900: it opens on the first model's findings, each
    claim's verdict in words on the first screen (no scrolling, down or sideways), and the
    workflow graph after them."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: make test installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(report.as_uri())
        landing = page.locator(".multihop-landing")
        landing.wait_for()
        page.screenshot(path=screenshot)
        verdicts = landing.locator("table").first.locator("td span")
        boxes = [verdicts.nth(i).bounding_box() for i in range(verdicts.count())]
        shown = [verdicts.nth(i).inner_text() for i in range(verdicts.count())]
        graph_top = page.locator("svg, canvas").last.bounding_box()["y"]
        browser.close()
    claims = findings[findings["claim"].astype(str) != "nulls"]
    columns = list(dict.fromkeys(claims["split"]))  # a row per statement, a column per split
    expected = [
        VERDICTS[row.set_index("split").loc[split, "holds"]]
        for _, row in claims.groupby(["claim", "statement"], sort=False)
        for split in columns
        if split in set(row["split"])
    ]
    assert shown == expected, shown
    for box in boxes:
        assert 0 <= box["x"] and box["x"] + box["width"] <= 1400 and 0 <= box["y"] and box["y"] + box["height"] <= 900
    assert graph_top > max(box["y"] for box in boxes)
    assert screenshot.read_bytes()[:4] == b"\x89PNG"


def test_a_chain_file_run_beside_the_test_run_leaves_it_as_it_was(workdir, tmp_path):
    """A second run in a copy of the finished .test run, named chains: dataset.source: file with
    the hand-written file of tests/data/ (34 rows), in a config file of its own. It plans and
    writes only in its own folder, results/chains/: the Wikidata rules never run, and what follows
    two_hop.csv does, through the evaluation, the splits and one analysis (the rest does not depend
    on where the chains came from). The test run's files keep their bytes and times, it has
    nothing left to do, and the bundled model (shared, in resources/) is not built again."""
    run = copy_run(workdir, tmp_path / "two")
    chains = run / "chains.yaml"
    changes = {"dataset": {"source": "file", "file": str(ROOT / "tests" / "data" / "study_two_hop.csv")}}
    chains.write_text(yaml.safe_dump({**changes, "analyses": {"cases_per_split": 1}}))
    second = ["--configfile", run / "config.yaml", chains, "--config", "run=chains"]
    targets = [f"results/chains/{MODEL}/funnel.csv", f"results/chains/{MODEL}/correct/backpatching_t1.parquet"]
    files = [p for p in (run / "results").rglob("*") if p.is_file()] + [run / "resources" / "models" / MODEL]
    before = {p: (p.stat().st_mtime_ns, p.is_file() and p.read_bytes()) for p in files}
    planned = planned_outputs(run, *targets, *second)  # (--config takes every argument after it)
    assert planned and all(path.startswith("results/chains/") for path in planned), sorted(planned)
    done = snakemake(run, *targets, *second)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p: (p.stat().st_mtime_ns, p.is_file() and p.read_bytes()) for p in files} == before
    assert (run / RESULTS / MODEL / "tables" / "findings.csv").is_file() and planned_jobs(run) == {}

    results = run / "results" / "chains"
    assert len(pd.read_csv(results / "dataset" / "two_hop.csv")) == 32
    assert not (results / "dataset" / "facts.csv").exists()  # no Wikidata extraction
    assert len(pd.read_csv(results / "dataset" / "prompt_disagreements.csv")) == 1
    funnel = pd.read_csv(results / MODEL / "funnel.csv").set_index("step")["cases"]
    assert funnel.iloc[0] == 32 and funnel["second hop correct"] >= 5  # the six chains it was taught
    assert len(pd.read_parquet(results / MODEL / "correct" / "backpatching_t1.parquet")) == 6  # one case, 4 layers


def test_the_guard_refuses_connections(tmp_path):
    log = tmp_path / "attempts.txt"
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept OSError as e:\n    print(e)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=offline(log))
    assert "refused by the test's socket guard" in run.stdout and "127.0.0.1" in log.read_text()


def test_a_rerun_from_scratch_in_other_batches_and_shards_writes_the_same_bytes(workdir, tmp_path):
    """The .test run again from nothing (the Wikidata excerpt, the tiny model built and taught
    again), offline, with batches of 3 prompts in the evaluation and 5 variants in the analyses
    (8 and 512 in the first run), up to the splits and Patchscopes, in two shards (more than its
    one case per split: a shard without cases writes an empty table): byte-identical tables. (The
    other analyses in other batches and shards: the killed-shard test.)"""
    models = [{**yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())["models"][0], "batch_size": 3}]
    changes = {"models": models, "analyses": {"batch_size": 5, "shards": 2}}
    again, log = copy_test_run(tmp_path / "again", changes), tmp_path / "attempts.txt"
    patchscopes = [
        f"{RESULTS}/{MODEL}/{split}/patchscopes_{part}.parquet" for split in SPLITS for part in ("t1_s0", "t2_s0")
    ]
    targets = [f"{RESULTS}/{MODEL}/funnel.csv", f"{RESULTS}/dataset/stats.csv", *patchscopes]
    run = snakemake(again, *targets, env=offline(log))
    assert run.returncode == 0, run.stderr[-3000:]
    assert not log.exists(), log.read_text()
    shards = sorted((again / RESULTS / MODEL / "correct" / "shards").glob("patchscopes_*.parquet"))
    assert len(shards) == 2 and min(len(pd.read_parquet(shard)) for shard in shards) == 0
    second = output_hashes(again)
    assert {f"{RESULTS}/{MODEL}/evaluation.csv", f"{RESULTS}/{MODEL}/cases/incorrect.csv", *patchscopes} <= set(second)
    first = output_hashes(workdir)
    assert len(second) >= 11 and second == {name: first[name] for name in second}


CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/rule_(\w+)/")


def why_no_slurm() -> str | None:
    """Why this machine cannot run the SLURM daemons of tests/slurm/cluster.sh, or None."""
    if not sys.platform.startswith("linux"):
        return "the SLURM daemons run on Linux only"
    installed = all(shutil.which(command) for command in ("slurmctld", "slurmd", "sbatch", "munged"))
    if not installed and (os.geteuid() != 0 or not shutil.which("apt-get")):
        return "the Debian packages slurmctld, slurmd, slurm-client and munge are missing; only root can install them"
    # slurmd runs in a mount namespace of its own, where the cluster's folder stands in for /etc/slurm
    namespace = ["unshare", "--mount", "--propagation", "private", "true"]
    if not shutil.which("unshare") or subprocess.run(namespace, capture_output=True).returncode:
        return "slurmd needs a mount namespace of its own (root with CAP_SYS_ADMIN)"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A one-node SLURM cluster on this machine, its configuration and records in its own folder
    (nothing written under /etc), taken down afterwards; the folder."""
    reason = why_no_slurm()
    if reason:
        pytest.skip(f"no SLURM cluster on this machine: {reason}")
    folder = tmp_path_factory.mktemp("slurm")
    up = subprocess.run([CLUSTER, "up", folder], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    yield folder
    subprocess.run([CLUSTER, "down", folder], capture_output=True, timeout=120)


def scheduler_records(jobs_txt, workdir) -> dict[str, str]:
    """SLURM job id -> final state, for the jobs the scheduler ran in `workdir` (its jobcomp records)."""
    records = [dict(field.split("=", 1) for field in line.split() if "=" in field) for line in jobs_txt.open()]
    return {r["JobId"]: r["JobState"] for r in records if r.get("WorkDir") == str(workdir)}


def test_the_study_runs_on_a_real_slurm_cluster_with_the_same_bytes(workdir, slurm_cluster, tmp_path):
    """The .test run through profiles/slurm from the evaluation to back-patching (a copy of the
    local run, its dataset and tiny model kept; each cluster job pays Snakemake's and Python's
    start-up, and the executor polls ever more slowly while jobs run): every job but the light ones
    goes through sbatch (the scheduler's own records say so), and every table it writes again is
    byte-identical to the local run's."""
    cluster_run = copy_run(workdir, tmp_path / "cluster")
    copied = {p: p.stat().st_mtime_ns for p in (cluster_run / "results").rglob("*") if p.is_file()}
    options = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"]  # no sacct here
    targets = [f"{RESULTS}/{MODEL}/{split}/backpatching_{p}.parquet" for split in SPLITS for p in ("t1", "t2")]
    start = time.monotonic()
    run = subprocess.run(
        [*snakemake_command(cluster_run), "--profile", ROOT / "profiles" / "slurm", *options, *targets]
        + ["--forcerun", "evaluate"],  # last: --forcerun takes every word after it as a rule
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "SLURM_CONF": str(slurm_cluster / "slurm.conf")},  # the commands Snakemake calls
    )
    print(f"the SLURM run took {time.monotonic() - start:.0f} s")
    assert run.returncode == 0, run.stderr[-3000:]

    submitted = dict(SUBMITTED.findall(run.stderr))  # SLURM job id -> rule
    expected = {"evaluate": 1, "analysis_shard": len(SPLITS)}
    assert {rule: list(submitted.values()).count(rule) for rule in set(submitted.values())} == expected
    recorded = scheduler_records(slurm_cluster / "jobs.txt", cluster_run)
    assert set(recorded) == set(submitted) and set(recorded.values()) == {"COMPLETED"}

    again = {str(p.relative_to(cluster_run)) for p, mtime in copied.items() if p.stat().st_mtime_ns != mtime}
    written = {name: digest for name, digest in output_hashes(cluster_run).items() if name in again}
    assert {*targets, f"{RESULTS}/{MODEL}/evaluation.csv"} <= set(written), sorted(again)
    local = output_hashes(workdir)
    assert all(local[name] == digest for name, digest in written.items()), written
