"""Write excerpt.nt (Wikidata truthy N-Triples) from the hand-curated tables in curated/*.tsv.

    python data/wikidata/make_excerpt.py

Each curated file has two kinds of tab-separated lines ('#' starts a comment):
    E  QID  TYPE_QID[|TYPE_QID...]  English label  alias | alias | ...  sitelinks
    F  subject_QID  PID  object_QID
An item declared in several files keeps the first label, the union of its types and aliases,
and the largest sitelink count. A fact naming an undeclared item is an error.
"""

import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTITY = "http://www.wikidata.org/entity/"
DIRECT = "http://www.wikidata.org/prop/direct/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ALIAS = "http://www.w3.org/2004/02/skos/core#altLabel"
SITELINKS = "http://wikiba.se/ontology#sitelinks"
INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


def literal(text: str) -> str:
    """An N-Triples string literal, non-ASCII as \\u escapes like Wikidata's dumps."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) > 0x7E:
            out.append(f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def read_curated(paths):
    items, facts, problems = {}, [], []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in line.split("\t")]
            where = f"{path.name}:{number}"
            if cells[0] == "E" and len(cells) == 6:
                _, qid, types, label, aliases, sitelinks = cells
                item = items.setdefault(qid, {"label": label, "types": set(), "aliases": set(), "sitelinks": 0})
                if item["label"] != label:
                    problems.append(f"{where}: {qid} labelled {label!r} here, {item['label']!r} before")
                item["types"].update(t for t in types.split("|") if t)
                item["aliases"].update(a.strip() for a in aliases.split("|") if len(a.strip()) > 1)
                item["sitelinks"] = max(item["sitelinks"], int(sitelinks or 0))
            elif cells[0] == "F" and len(cells) == 4:
                facts.append((cells[1], cells[2], cells[3], where))
            else:
                problems.append(f"{where}: not an E or F line: {line!r}")
    for subject, _, obj, where in facts:
        for qid in (subject, obj):
            if qid not in items:
                problems.append(f"{where}: {qid} is used in a fact but never declared")
    return items, facts, problems


def write_excerpt(items, facts, path):
    by_subject = defaultdict(set)
    for subject, pid, obj, _ in facts:
        if subject != obj:
            by_subject[subject].add((pid, obj))
    lines = [
        "# A hand-curated excerpt of Wikidata in the format of its truthy N-Triples dump.",
        "# Made by data/wikidata/make_excerpt.py from data/wikidata/curated/*.tsv; see README.md.",
    ]
    for qid in sorted(items, key=lambda q: int(q[1:])):
        item, subject = items[qid], f"<{ENTITY}{qid}>"
        lines += [f"{subject} <{DIRECT}P31> <{ENTITY}{t}> ." for t in sorted(item["types"])]
        lines.append(f"{subject} <{LABEL}> {literal(item['label'])}@en .")
        lines += [f"{subject} <{ALIAS}> {literal(a)}@en ." for a in sorted(item["aliases"] - {item["label"]})]
        lines.append(f'{subject} <{SITELINKS}> "{item["sitelinks"]}"^^<{INTEGER}> .')
        key = lambda fact: (int(fact[0][1:]), int(fact[1][1:]))  # noqa: E731
        lines += [f"{subject} <{DIRECT}{pid}> <{ENTITY}{obj}> ." for pid, obj in sorted(by_subject[qid], key=key)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main():
    items, facts, problems = read_curated(sorted((HERE / "curated").glob("*.tsv")))
    if problems:
        sys.exit("curated tables have problems:\n" + "\n".join(problems))
    count = write_excerpt(items, facts, HERE / "excerpt.nt")
    print(f"wrote {HERE / 'excerpt.nt'}: {count} lines, {len(items)} items, {len(facts)} fact lines")


if __name__ == "__main__":
    main()
