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


def relation_phrase(r2_template: str, r1_template: str) -> str:
    """The composed phrase without e1: 'the spouse of the performer' (a trailing ' of' dropped)."""
    phrase = r2_template.format(r1_template.format("")).strip()
    return phrase[: -len(" of")] if phrase.endswith(" of") else phrase


def prompts(e1_label, e2_label, r1_template, r2_template, capitalize=False) -> dict[str, str]:
    """The five prompts of one chain, keyed by prompt kind."""
    texts = {
        "first_hop": r1_template.format(e1_label) + " is",
        "second_hop": r2_template.format(e2_label) + " is",
        "composition": r2_template.format(r1_template.format(e1_label)) + " is",
        "entity_shortcut": r2_template.format(e1_label) + " is",
        "relation_shortcut": relation_phrase(r2_template, r1_template),
    }
    if capitalize:
        texts = {kind: text[:1].upper() + text[1:] for kind, text in texts.items()}
    return texts


def e1_offset(r1_template: str, r2_template: str) -> int:
    """Where e1's name starts in the composition prompt (independent of the name)."""
    return r2_template.index("{}") + r1_template.index("{}")


def require_chains(chains: pd.DataFrame, entities: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """`chains`, or a plain error when the facts make none (no bridge entity links two of them)."""
    if chains.empty:
        raise UserError(
            f"the Wikidata facts ({len(facts)} facts between {len(entities)} items) make no two-hop chain: no "
            "object of one fact is the subject of another; check the dump, or the relations and entity_types in config"
        )
    return chains


def build_chains(entities: pd.DataFrame, facts: pd.DataFrame, relations: dict, capitalize=False) -> pd.DataFrame:
    """Every chain of two facts sharing a bridge entity, three distinct items, relations from config.

    `relations` maps PID -> {"label": ..., "template": "the spouse of {}"}.
    """
    facts = facts[facts["relation"].isin(list(relations))].drop_duplicates()
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
        prompts(row.e1_label, row.e2_label, row.r1_template, row.r2_template, capitalize) for row in chains.itertuples()
    ]
    for kind, column in PROMPT_COLUMNS.items():
        chains[column] = [t[kind] for t in texts]
    chains["id"] = [chain_id(*key) for key in chains[["e1", "r1", "e2", "r2", "e3"]].itertuples(index=False)]
    chains = chains.drop_duplicates("id")
    return chains[DATASET_COLUMNS].sort_values("id").reset_index(drop=True)


def dataset_stats(entities: pd.DataFrame, facts: pd.DataFrame, chains: pd.DataFrame) -> pd.DataFrame:
    """Counts a person checks first: sizes, then chains by relation pair and by entity type."""
    rows = [
        ("total", "entities", len(entities)),
        ("total", "facts", len(facts)),
        ("total", "chains", len(chains)),
    ]
    pairs = chains.groupby(["r1_label", "r2_label"]).size().sort_values(ascending=False)
    rows += [("relation pair", f"{r1} -> {r2}", n) for (r1, r2), n in pairs.items()]
    for slot in ("e1", "e2", "e3"):
        counts = chains[f"{slot}_type"].value_counts().sort_index()
        rows += [(f"{slot} type", t, n) for t, n in counts.items()]
    return pd.DataFrame(rows, columns=["statistic", "value", "count"])


def select_bridges(chains: pd.DataFrame, entities: pd.DataFrame, per_type: int, per_bridge: int, seed: int):
    """The study's selection: as bridge entities e2 only the `per_type` items of each type with the
    most statements (ties: lower QID first), and at most `per_bridge` chains each (a seeded sample)."""
    statements = entities.set_index("qid")["statements"]
    bridges = chains[["e2", "e2_type"]].drop_duplicates().assign(statements=lambda t: t["e2"].map(statements))
    bridges = bridges.assign(number=bridges["e2"].str.slice(1).astype(int))
    bridges = bridges.sort_values(["statements", "number"], ascending=[False, True])
    kept = set(bridges.groupby("e2_type", sort=False).head(per_type)["e2"])
    chosen = chains[chains["e2"].isin(kept)]
    sampled = [group.sample(n=min(len(group), per_bridge), random_state=seed) for _, group in chosen.groupby("e2")]
    if not sampled:
        return chains.iloc[0:0]
    return pd.concat(sampled).sort_values("id").reset_index(drop=True)
