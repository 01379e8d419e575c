"""What each switch of the ledger (docs/fidelity.md) changes on a finished run, measured by
recomputing from the run's stored tables with the switch flipped: no model is loaded.

    .venv/bin/python docs/fidelity_effects.py [results/{run}] [model]

Measured: the Patchscopes reading, the heatmap dedupe, the knockout count, information
propagation, the stage reading, the projection table's mean layer, the first-layer line plot,
one-character names (evaluation judged again) and the split cap; counted: the cases whose
knockout of r1 or r2 and relation shortcut the P272/P1441 rows concern, and those whose blocked
token has a later copy in the prompt (the tokenizer loaded). Not here: the switches
that change what the model is asked (sampling, projection tokens, the knockout's relation word,
the dataset rules), which need a rerun with the switch flipped.
"""

import sys
from pathlib import Path

import pandas as pd
import yaml

from multihop.analyses.cases import load_cases
from multihop.analyses.catalog import KNOCKOUT_TARGETS, STAGE_ANALYSES, case_counts
from multihop.analyses.knockout import blocked_position
from multihop.analyses.naming import named_at_colon
from multihop.evaluation.evaluate import EXPECTED, read_evaluation
from multihop.evaluation.judging import case_names, entity_names, mentions
from multihop.evaluation.splits import SPLITS, split_cases
from multihop.files import read_json, read_table
from multihop.models.loading import load_tokenizer
from multihop.report.findings import findings
from multihop.report.stages import split_stages
from multihop.report.tables import first_layer_shares, patchscopes_panels, pooled, projection
from multihop.scripting import groups_by_split

SHOWN = ["claim", "split", "reached", "value", "ci_low", "ci_high", "holds"]


def main(results: Path, model: str) -> None:
    config = yaml.safe_load(Path("config.yaml").read_text())
    analyses, evaluation = config["analyses"], config["evaluation"]
    counts = case_counts(analyses["cases_per_split"])
    layers = read_json(results / model / "model.json")["layers"]
    studied = {split: read_table(results / model / split / "studied.csv") for split in SPLITS}
    tables = {
        split: {
            name: pd.concat([pd.read_parquet(p) for p in sorted((results / model / split).glob(f"{name}_*.parquet"))])
            for name in STAGE_ANALYSES
        }
        for split in SPLITS
    }
    groups = groups_by_split(studied)

    def claims(reading=analyses["stage_reading"], **rules) -> pd.DataFrame:
        """findings.csv's stage rows, with the run's settings but for `rules` (and the stage reading)."""
        settings = {key: analyses[key] for key in ("propagation", "knockout_count", "patchscopes_reading")}
        settings |= {"one_character": evaluation["one_character"], **rules}
        stages = {}
        for split in SPLITS:
            own = dict(tables[split])
            if settings["patchscopes_reading"] != analyses["patchscopes_reading"]:
                patterns = settings["patchscopes_reading"]  # (not `reading`: the stage reading)
                own["patchscopes"] = reread(own["patchscopes"], studied[split], patterns, evaluation)
            stages[split] = split_stages(studied[split], counts, own, settings, analyses["seed"])
        return findings(stages, layers, groups=groups, reading=reading)[SHOWN]

    run = claims()
    for name, flipped in {
        "analyses.patchscopes_reading: regex": claims(patchscopes_reading="regex"),
        "analyses.knockout_count: broken": claims(knockout_count="broken"),
        "analyses.propagation: all": claims(propagation="all"),
        "analyses.stage_reading: share": claims(reading="share"),
    }.items():
        print(f"\n## {name}: the findings rows that change (the run's, then flipped)")
        changed = (run.fillna(-1) != flipped.fillna(-1)).any(axis=1)
        print(pd.concat([run[changed], flipped[changed]], keys=["run", "flipped"]).to_string())

    print("\n## analyses.patchscopes_dedupe: false, the heatmap cells")
    for split in SPLITS:
        ps = {split: tables[split]["patchscopes"]}
        deduped, every = patchscopes_panels(ps, layers, True), patchscopes_panels(ps, layers, False)
        for panel in deduped:
            diff = (deduped[panel] - every[panel]).abs()
            print(f"{panel}: largest cell difference {diff.max().max():.3f}, mean {diff.stack().mean():.3f}")

    print("\n## analyses.projection_mean: first, the projection table's mean layer (where it changes)")
    projections = {split: tables[split]["projection"] for split in SPLITS}
    every, first = projection(projections, "every"), projection(projections, "first")
    both = every.rename(columns={"mean_layer": "every"}).assign(first=first["mean_layer"])
    changed = both["every"].fillna(-1) != both["first"].fillna(-1)
    print(both[changed][["split", "sublayer", "token", "cases", "every", "first"]].round(2).to_string(index=False))

    print("\n## analyses.first_layers: per_split, the first-layer line plot")
    stages = {split: pd.read_csv(results / model / split / "stages.csv") for split in SPLITS}
    for name, lines in {"pooled": pooled(stages), "per_split": stages}.items():
        shares = first_layer_shares(lines, layers)
        for (line, event), own in shares.groupby(["split", "event"], sort=False):
            peak = own.loc[own["percent"].idxmax()]
            print(
                f"{name}, {line}, {event}: {own['percent'].sum():.0f}% of its cases reach it; "
                f"the peak {peak['percent']:.0f}% at layer {peak['layer']}"
            )

    print("\n## analyses.knockout_relation: last_word, prompts.relation_shortcut: phrase (P272, P1441)")
    for split in SPLITS:
        own = studied[split][studied[split]["order"] < counts["knockout"]]
        r1, r2 = (own[slot].isin(["P272", "P1441"]) for slot in ("r1", "r2"))
        print(f"{split}: of its {len(own)} knockout cases, {r1.sum()} with r1 and {r2.sum()} with r2 = P272 or P1441")

    print("\n## analyses.knockout_occurrence: located, the knockout cases whose blocked token moves")
    spec = next(entry for entry in config["models"] if entry["name"] == model)
    tokenizer = load_tokenizer(spec["source"])
    for split in SPLITS:
        own = studied[split][studied[split]["order"] < counts["knockout"]]
        cases = load_cases(tokenizer, own, spec["prompt_prefix"])
        for target in KNOCKOUT_TARGETS:
            rule = analyses["knockout_relation"]
            moved = [
                case.id
                for case in cases
                if blocked_position(case, target, rule, "last") != blocked_position(case, target, rule, "located")
            ]
            print(f"{split}, {target}: {len(moved)} of {len(cases)} knockout cases block a later copy {moved}")

    print("\n## evaluation.one_character: any, the evaluation judged again")
    dataset = read_table(results / "dataset" / "two_hop.csv")
    table = read_evaluation(results / model / "evaluation.csv")
    for slot in ("e1", "e2", "e3"):
        short = dataset[dataset[f"{slot}_label"].str.strip().str.len() <= 1]
        print(f"{slot}: {len(short)} chains with a one-character label {sorted(set(short[f'{slot}_label']))}")
    rejudged, rows = table.copy(), dataset.set_index("id")
    flips = 0
    for kind, slot in EXPECTED.items():  # (among the prompts the run asked)
        asked = table[f"{kind}_correct"].notna()
        for i in table.index[asked]:
            row = rows.loc[table.at[i, "id"]]
            names = entity_names(row[f"{slot}_label"], row[f"{slot}_aliases"], "any")
            again = mentions(table.at[i, f"{kind}_generation"], names, evaluation["match"])
            flips += again != bool(table.at[i, f"{kind}_correct"])
            rejudged.at[i, f"{kind}_correct"] = again
    print(f"{flips} judgments change")
    cap, seed = config["splits"]["max_per_e2_type"], config["splits"]["seed"]
    for name, judged in {"run": table, "one_character: any": rejudged}.items():
        correct, incorrect, _ = split_cases(dataset, judged, cap, seed)
        print(f"{name}: {len(correct)} correct, {len(incorrect)} incorrect cases")

    print("\n## splits.max_per_e2_type")
    for cap in (60, 100):
        correct, incorrect, _ = split_cases(dataset, table, cap, seed)
        print(f"{cap} per e2 type: {len(correct)} correct, {len(incorrect)} incorrect cases")

    print("\n## back-patching's drift: incorrect cases whose unedited prompt answers correctly in the batch")
    bp = tables["incorrect"]["backpatching"]
    drift = bp.groupby("id")["unedited_correct"].any()
    print(f"{int(drift.sum())} of {len(drift)} back-patched incorrect cases")


def reread(patchscopes: pd.DataFrame, studied: pd.DataFrame, reading: str, evaluation: dict) -> pd.DataFrame:
    """Patchscopes' rows with `classification` read again by `reading`."""
    names = {row["id"]: case_names(row, evaluation["one_character"]) for row in studied.to_dict("records")}
    out = patchscopes.copy()
    out["classification"] = [
        named_at_colon(text, names[case], reading) for case, text in zip(out["id"], out["generation"], strict=True)
    ]
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else Path("results", "default"), args[1] if len(args) > 1 else "gemma3-270m")
