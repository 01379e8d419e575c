"""Two-hop chains (e1 -r1-> e2 -r2-> e3) and their prompts, from the entity and fact tables."""

import hashlib
import json

import pandas as pd

from multihop.errors import UserError

PROMPT_KINDS = ["first_hop", "second_hop", "composition", "entity_shortcut", "relation_shortcut"]
PROMPT_COLUMNS = {
    "composition": "source_prompt",
    "first_hop": "first_hop_prompt",
    "second_hop": "second_hop_prompt",
    "entity_shortcut": "entity_shortcut_prompt",
    "relation_shortcut": "relation_shortcut_prompt",
}
DATASET_COLUMNS = [
    "id", "e1", "r1", "e2", "r2", "e3",
    "e1_label", "e2_label", "e3_label", "e1_aliases", "e2_aliases", "e3_aliases",
    "e1_type", "e2_type", "e3_type", "r1_label", "r2_label",
    "e1_popularity", "e2_popularity", "e3_popularity", "r1_template", "r2_template",
    *PROMPT_COLUMNS.values(),
]  # fmt: skip


def aliases_json(aliases, label: str) -> str:
    """An entity's aliases as the dataset stores them: a JSON list, sorted, once each, without the label."""
    return json.dumps(sorted(set(aliases) - {label}), ensure_ascii=False)


def chain_id(e1, r1, e2, r2, e3) -> str:
    """A stable id: the same chain always gets the same id, whatever else is in the dataset."""
    return "c" + hashlib.sha1(f"{e1}|{r1}|{e2}|{r2}|{e3}".encode()).hexdigest()[:12]


def relation_phrase(r2_template: str, r1_template: str, shortcut: str = "cut") -> str:
    """The composed phrase without e1, 'the spouse of the performer': the study's (`cut`,
    evaluate_dataset.py 42, `r2_template.format(r1_template.format(''))[:-4]`) cuts its last four
    characters, meant for " of ", so "the spouse of the company that produced " becomes "the
    spouse of the company that produ"; ours (`phrase`) drops a trailing " of" only."""
    phrase = r2_template.format(r1_template.format(""))
    if shortcut == "cut":
        return phrase[:-4]
    phrase = phrase.strip()
    return phrase[: -len(" of")] if phrase.endswith(" of") else phrase


def prompts(e1_label, e2_label, r1_template, r2_template, *, capitalize=False, shortcut="cut") -> dict[str, str]:
    """The five prompts of one chain, keyed by prompt kind (`shortcut`: see `relation_phrase`)."""
    texts = {
        "first_hop": r1_template.format(e1_label) + " is",
        "second_hop": r2_template.format(e2_label) + " is",
        "composition": r2_template.format(r1_template.format(e1_label)) + " is",
        "entity_shortcut": r2_template.format(e1_label) + " is",
        "relation_shortcut": relation_phrase(r2_template, r1_template, shortcut),
    }
    if capitalize:
        texts = {kind: text[:1].upper() + text[1:] for kind, text in texts.items()}
    return texts


def e1_offset(r1_template: str, r2_template: str) -> int:
    """Where e1's name starts in the composition prompt (independent of the name)."""
    return r2_template.index("{}") + r1_template.index("{}")


def require_chains(chains: pd.DataFrame, entities: pd.DataFrame, facts: pd.DataFrame, after=()) -> pd.DataFrame:
    """`chains`, or a plain error when the facts make none (no bridge entity links two of them),
    or when the dataset's rules (`after`: the (step, chains left) of each) keep none."""
    if chains.empty and after:
        steps = "; ".join(f"{step}: {count}" for step, count in after)
        raise UserError(
            f"the dataset's rules keep no chain ({steps}); see dataset.selection and dataset.aliases in config"
        )
    if chains.empty:
        raise UserError(
            f"the Wikidata facts ({len(facts)} facts between {len(entities)} items) make no two-hop chain: no "
            "object of one fact is the subject of another; check the dump, or the relations and entity_types in config"
        )
    return chains


def build_chains(
    entities: pd.DataFrame, facts: pd.DataFrame, relations: dict, capitalize=False, shortcut="cut"
) -> pd.DataFrame:
    """Every chain of two facts sharing a bridge entity, three distinct items, relations from config.

    `relations` maps PID -> {"label": ..., "template": "the spouse of {}"}; facts between items of
    `entities` only.
    """
    known = set(entities["qid"])
    facts = facts[facts["relation"].isin(list(relations)) & facts["subject"].isin(known) & facts["object"].isin(known)]
    facts = facts.drop_duplicates()
    hop1 = facts.rename(columns={"subject": "e1", "relation": "r1", "object": "e2"})
    hop2 = facts.rename(columns={"subject": "e2", "relation": "r2", "object": "e3"})
    chains = hop1.merge(hop2, on="e2")
    distinct = (chains["e1"] != chains["e2"]) & (chains["e2"] != chains["e3"]) & (chains["e1"] != chains["e3"])
    chains = chains[distinct]

    info = entities.set_index("qid")[["label", "aliases", "type", "popularity"]]
    for slot in ("e1", "e2", "e3"):
        chains = chains.join(info.add_prefix(f"{slot}_"), on=slot)
    for slot in ("r1", "r2"):
        chains[f"{slot}_label"] = chains[slot].map(lambda pid: relations[pid]["label"])
        chains[f"{slot}_template"] = chains[slot].map(lambda pid: relations[pid]["template"])

    texts = [
        prompts(row.e1_label, row.e2_label, row.r1_template, row.r2_template, capitalize=capitalize, shortcut=shortcut)
        for row in chains.itertuples()
    ]
    for kind, column in PROMPT_COLUMNS.items():
        chains[column] = [t[kind] for t in texts]
    chains["id"] = [chain_id(*key) for key in chains[["e1", "r1", "e2", "r2", "e3"]].itertuples(index=False)]
    chains = chains.drop_duplicates("id")
    return chains[DATASET_COLUMNS].sort_values("id").reset_index(drop=True)


def entity_rules(entities: pd.DataFrame, rules: dict, entity_types: dict) -> pd.DataFrame:
    """The entity table as the dataset's rules name and type its items (`rules`: the config's
    `dataset` section).

    `unlabelled`: an item without an English label is named by its QID, as the authors' label
    service answers (`id`, the study's: create_dataset.py, get_labels, "[AUTO_LANGUAGE],en"), or
    left out with its facts (`drop`, ours). `entity_type`: an item in several classes of the study
    is typed by the first its source lists, as the authors' first row (`source_order`, the study's:
    the table's `type`), or by the first in `entity_types`' order (`config_order`, ours)."""
    unlabelled = entities["label"] == ""
    if rules["unlabelled"] == "drop":
        entities = entities[~unlabelled]
    else:
        entities = entities.assign(label=entities["label"].mask(unlabelled, entities["qid"]))
    if rules["entity_type"] == "config_order":
        first = [next(c for c in entity_types if c in classes.split("|")) for classes in entities["classes"]]
        entities = entities.assign(type=[entity_types[c] for c in first])
    return entities.reset_index(drop=True)


def dataset_stats(entities: pd.DataFrame, facts: pd.DataFrame, chains: pd.DataFrame, funnel=()) -> pd.DataFrame:
    """Counts a person checks first: sizes, the chains each of the dataset's rules keeps (`funnel`:
    (step, chains left)), then chains by relation pair and by entity type."""
    rows = [
        ("total", "entities", len(entities)),
        ("total", "facts", len(facts)),
        ("total", "chains", len(chains)),
    ]
    rows += [("funnel", step, count) for step, count in funnel]
    pairs = chains.groupby(["r1_label", "r2_label"]).size().sort_values(ascending=False)
    rows += [("relation pair", f"{r1} -> {r2}", n) for (r1, r2), n in pairs.items()]
    for slot in ("e1", "e2", "e3"):
        counts = chains[f"{slot}_type"].value_counts().sort_index()
        rows += [(f"{slot} type", t, n) for t, n in counts.items()]
    return pd.DataFrame(rows, columns=["statistic", "value", "count"])


def select_bridges(chains: pd.DataFrame, entities: pd.DataFrame, per_type: int, per_bridge: int, seed: int):
    """The study's selection (create_dataset.py, main): as bridge entities e2 only items among the
    `per_type` members of some class of the study with the most statements (each class ranked on
    its own, among all its members: `class_ranks`), and at most `per_bridge` chains each.

    The authors' cap is a LIMIT on their query's rows, in the endpoint's order, before the other
    filters; a seeded sample of the chains is the reproducible stand-in."""
    ranks = entities.set_index("qid")["class_ranks"].fillna("")
    kept = {qid for qid, text in ranks.items() if any(_rank(part) <= per_type for part in text.split("|") if part)}
    chosen = chains[chains["e2"].isin(kept)]
    sampled = [group.sample(n=min(len(group), per_bridge), random_state=seed) for _, group in chosen.groupby("e2")]
    if not sampled:
        return chains.iloc[0:0]
    return pd.concat(sampled).sort_values("id").reset_index(drop=True)


def _rank(part: str) -> int:
    return int(part.split(":")[1])


def with_aliases(chains: pd.DataFrame) -> pd.DataFrame:
    """The chains whose e1, e2 and e3 each have an English alias: the study's dataset drops the
    others (create_dataset.py, main: aliases merged with a left join, then `dataset.dropna()`)."""
    has = [
        chains[f"{slot}_aliases"].fillna("[]").map(lambda text: bool(json.loads(text))) for slot in ("e1", "e2", "e3")
    ]
    return chains[has[0] & has[1] & has[2]].reset_index(drop=True)


def dataset_rules(chains: pd.DataFrame, entities: pd.DataFrame, rules: dict):
    """(the chains the dataset's rules keep, [(step, chains left)] from all of them), in the
    authors' order: the selection of bridge entities and its cap first, then the alias filter.
    `rules`: the config's `dataset` section."""
    funnel = [("chains from the facts", len(chains))]
    if rules["selection"] == "study":
        chains = select_bridges(chains, entities, rules["bridges_per_type"], rules["chains_per_bridge"], rules["seed"])
        funnel.append(("with a top bridge entity, capped per bridge (study)", len(chains)))
    if rules["aliases"] == "required":
        chains = with_aliases(chains)
        funnel.append(("with an alias for e1, e2 and e3 (study)", len(chains)))
    return chains, funnel
