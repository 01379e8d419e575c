"""Whether a generation names an entity: its label or an alias occurs in it, ignoring case.

`match` says what "occurs" means: "substring", the study's rule (any substring, both texts
lower-cased as the authors' check_answer_in_pred does), or "word", ours (whole words only, so
that "US" is not found in "Russia", nor "Xi" in "Mexico").

`one_character` says which names of one character are left out: "alias", the study's (the
authors' get_answers drops aliases of one character and keeps the label, so Q918's label "X"
counts), or "any", ours (no name of one character, the label included).
"""

import json
import re


def entity_names(label: str, aliases, one_character: str = "alias") -> list[str]:
    """The label and aliases an answer may name (`aliases`: a list or its JSON text)."""
    if isinstance(aliases, str):
        aliases = json.loads(aliases) if aliases else []
    if one_character == "alias":
        return [label, *(alias for alias in aliases if len(alias) > 1)]
    return [name for name in [label, *aliases] if len(name.strip()) > 1]


def case_names(row, one_character: str = "alias") -> dict[str, list[str]]:
    """{slot: names} for e1, e2 and e3 of a dataset row (anything indexed by `{slot}_label`, `{slot}_aliases`)."""
    return {
        slot: entity_names(row[f"{slot}_label"], row[f"{slot}_aliases"], one_character) for slot in ("e1", "e2", "e3")
    }


def as_decoded(generation: str) -> str:
    """A generation as the authors' decode_generated leaves it (utils.py 93-96): stripped, each
    newline a space. Tables store the text as generated; judging and comparing read this."""
    return generation.strip().replace("\n", " ")


def mentions(generation: str, names, match: str = "substring") -> bool:
    """Whether any name occurs in the generation, ignoring case (see `match` above)."""
    generation = as_decoded(generation)
    if match == "substring":
        text = generation.lower()
        return any(name.lower() in text for name in names)
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", generation, re.IGNORECASE) for name in names)
