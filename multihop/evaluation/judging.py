"""Whether a generation names an entity: its label or an alias occurs in it, ignoring case.

The study says "occurs"; we read it as whole words, since a short alias would otherwise match
inside other words ("US" in "Russia", "Xi" in "Mexico").
"""

import json
import re


def entity_names(label: str, aliases) -> list[str]:
    """The label and aliases longer than one character (`aliases`: a list or its JSON text)."""
    if isinstance(aliases, str):
        aliases = json.loads(aliases) if aliases else []
    return [name for name in [label, *aliases] if len(name.strip()) > 1]


def mentions(generation: str, names) -> bool:
    """Whether any name occurs as whole words ('US' is not in 'Russia'), ignoring case."""
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", generation, re.IGNORECASE) for name in names)
