"""Wikidata facts as two tables, `entities` and `facts`, from a truthy dump (or see `sparql.py`).

Both sources end in `normalize`, so the same facts give the same tables byte for byte, but for the
order in which each lists an item's classes (the dump's lines, the endpoint's rows), whose first is
the type of an item in several (the study's rule: `normalize`).
"""

from dataclasses import dataclass, field

import pandas as pd

from multihop.dataset.chains import aliases_json
from multihop.dataset.ntriples import parse_term, read_triples
from multihop.errors import UserError

ENTITY = "http://www.wikidata.org/entity/"
DIRECT = "http://www.wikidata.org/prop/direct/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ALIAS = "http://www.w3.org/2004/02/skos/core#altLabel"
SITELINKS = "http://wikiba.se/ontology#sitelinks"
ABOUT = "http://schema.org/about"
INSTANCE_OF = "P31"

ENTITY_COLUMNS = ["qid", "label", "aliases", "type", "classes", "popularity", "statements", "class_ranks"]
FACT_COLUMNS = ["subject", "relation", "object"]


class WikidataError(UserError):
    """A problem with the Wikidata source that the user must fix (message says what)."""


@dataclass
class Item:
    """What one item's block of the dump says, as far as the study cares."""

    qid: str
    classes: list = field(default_factory=list)  # study classes, in the order the dump lists them
    label: str = ""
    aliases: set = field(default_factory=set)
    sitelinks: int | None = None
    articles: int = 0
    statements: set = field(default_factory=set)  # (property, value) of its truthy statements
    facts: list = field(default_factory=list)

    @property
    def popularity(self) -> int:
        # wikibase:sitelinks when the dump carries it, else the number of schema:about sitelinks
        return self.sitelinks if self.sitelinks is not None else self.articles


def item_id(token: str) -> str | None:
    """'Q42' for the token <http://www.wikidata.org/entity/Q42>, None for anything else."""
    if token.startswith("<" + ENTITY + "Q") and token[len(ENTITY) + 2 : -1].isdigit():
        return token[len(ENTITY) + 1 : -1]
    return None


class _SeenItems:
    """A bitmap of QIDs whose block has ended, to detect a dump not grouped by item."""

    def __init__(self):
        self.bits = bytearray(1 << 20)

    def add(self, qid: str) -> bool:
        """Mark `qid`; return False if it was marked already."""
        number = int(qid[1:])
        byte, bit = divmod(number, 8)
        if byte >= len(self.bits):
            self.bits.extend(bytearray(max(byte + 1 - len(self.bits), len(self.bits))))
        if self.bits[byte] >> bit & 1:
            return False
        self.bits[byte] |= 1 << bit
        return True


def extract_from_dump(path, classes, relations, *, max_bad_lines=0, on_bad_line=None, progress=None):
    """Read the entity and fact tables from an N-Triples dump.

    `classes`: the study's class QIDs; `relations`: the study's PIDs. The dump must list each
    item's triples together, as Wikidata's dumps do (checked). Returns normalized tables.
    """
    class_tokens = {f"<{ENTITY}{qid}>" for qid in classes}
    relation_tokens = {f"<{DIRECT}{pid}>": pid for pid in relations}
    type_token = f"<{DIRECT}{INSTANCE_OF}>"
    label_token, alias_token = f"<{LABEL}>", f"<{ALIAS}>"
    sitelinks_token, about_token = f"<{SITELINKS}>", f"<{ABOUT}>"
    direct_prefix = f"<{DIRECT}"

    kept, seen = [], _SeenItems()
    current = None

    def flush(item):
        if item is not None and item.classes:
            kept.append(item)

    for number, subject, predicate, obj in read_triples(path, max_bad_lines, on_bad_line):
        if progress is not None and number % 100_000 == 0:
            progress(number)
        key = item_id(obj if predicate == about_token else subject)
        if key is None:
            continue  # statements nodes, articles' own triples, properties, lexemes
        if current is None or key != current.qid:
            flush(current)
            if not seen.add(key):
                raise WikidataError(
                    f"{path}, line {number}: the triples of {key} are not together; the dump format "
                    "lists each item's triples in one block (sort the file by subject to fix it)"
                )
            current = Item(key)
        if predicate.startswith(direct_prefix):
            current.statements.add((predicate, obj))
        if predicate == type_token:
            if obj in class_tokens and item_id(obj) not in current.classes:
                current.classes.append(item_id(obj))
        elif predicate in relation_tokens:
            target = item_id(obj)
            if target is not None:
                current.facts.append((key, relation_tokens[predicate], target))
        elif predicate == label_token or predicate == alias_token:
            term = parse_term(obj)
            if term.kind == "literal" and term.language == "en":
                if predicate == label_token:
                    current.label = term.value
                else:
                    current.aliases.add(term.value)
        elif predicate == sitelinks_token:
            current.sitelinks = int(parse_term(obj).value)
        elif predicate == about_token:
            current.articles += 1
    flush(current)
    if current is None:
        raise WikidataError(f"{path}: no Wikidata item in the dump (is it empty, or not a Wikidata truthy dump?)")
    if not kept:
        raise WikidataError(
            f"{path}: no item in the dump is an instance of the config's entity_types; "
            "is it the truthy dump (wdt: statements), and are the types right?"
        )

    counts = {i.qid: len(i.statements) for i in kept}
    members = {c: [i.qid for i in kept if c in i.classes] for c in classes}
    ranks = class_ranks(members, counts)
    entities = [
        (i.qid, i.label, sorted(i.aliases), i.classes, i.popularity, counts[i.qid], ranks.get(i.qid, {})) for i in kept
    ]
    facts = [fact for item in kept for fact in item.facts]
    return normalize(entities, facts, classes)


def class_ranks(members: dict, statements: dict) -> dict:
    """{qid: {class: rank}}: each item's 1-based place among all members of each class of the
    study it belongs to (members: class -> qids), most statements first, ties lower QID first.

    The study's pool: its bridge entities were the most-stated members of each class, whether or
    not they bridge a chain (create_dataset.py, get_popular_entities_per_type)."""
    out = {}
    for cls, qids in members.items():
        ordered = sorted(qids, key=lambda q: (-statements[q], int(q[1:])))
        for rank, qid in enumerate(ordered, start=1):
            out.setdefault(qid, {})[cls] = rank
    return out


def normalize(entities, facts, classes):
    """Turn raw (qid, label, aliases, classes, popularity, statements, class ranks) rows and (s, pid, o)
    facts into tables.

    `classes` maps class QID -> type name. An item's classes of the study keep the order its source
    lists them in, and the first names its `type`, as the authors' first row per item
    (create_dataset.py, add_all_entity_types: `drop_duplicates(subset=["entity"])`); the dataset's
    rules may type it by the config's order instead (`chains.entity_rules`). Keeps typed items
    (with or without an English label: `label` is then empty) and the facts between them, and only
    items that occur in a fact.
    """
    order = list(classes)
    rows = []
    for qid, label, aliases, item_classes, popularity, statements, ranks in entities:
        matching = [c for c in dict.fromkeys(item_classes) if c in classes]
        if not matching:
            continue
        rows.append(
            {
                "qid": qid,
                "label": label,
                "aliases": aliases_json(aliases, label),
                "type": classes[matching[0]],
                "classes": "|".join(matching),
                "popularity": int(popularity),
                "statements": int(statements),
                "class_ranks": "|".join(f"{c}:{ranks[c]}" for c in order if c in ranks),
            }
        )
    entity_table = pd.DataFrame(rows, columns=ENTITY_COLUMNS).drop_duplicates("qid")
    known = set(entity_table["qid"])
    fact_table = pd.DataFrame(
        sorted({f for f in facts if f[0] in known and f[2] in known and f[0] != f[2]}),
        columns=FACT_COLUMNS,
    )
    used = set(fact_table["subject"]) | set(fact_table["object"])
    entity_table = entity_table[entity_table["qid"].isin(used)]
    entity_table = entity_table.sort_values("qid", key=_qid_order).reset_index(drop=True)
    fact_table = fact_table.sort_values(FACT_COLUMNS, key=_qid_order).reset_index(drop=True)
    return entity_table, fact_table


def _qid_order(column: pd.Series) -> pd.Series:
    """Sort Q42 before Q100 (numerically) and P-ids likewise."""
    return column.str.slice(1).astype(int)
