"""Whether a generation names an entity: its label or an alias (longer than one character) occurs
in it, ignoring case.

`match` says what "occurs" means: "substring", the study's rule (any case-insensitive substring),
or "word", ours (whole words only, so that "US" is not found in "Russia", nor "Xi" in "Mexico").
"""

import json
import re


def entity_names(label: str, aliases) -> list[str]:
    """The label and aliases longer than one character (`aliases`: a list or its JSON text)."""
    if isinstance(aliases, str):
        aliases = json.loads(aliases) if aliases else []
    return [name for name in [label, *aliases] if len(name.strip()) > 1]


def mentions(generation: str, names, match: str = "substring") -> bool:
    """Whether any name occurs in the generation, ignoring case (see `match` above)."""
    if match == "substring":
        text = generation.casefold()
        return any(name.casefold() in text for name in names)
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", generation, re.IGNORECASE) for name in names)
