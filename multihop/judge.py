"""Whether a generation names an entity: its label or an alias occurs in it, ignoring case."""

import json


def entity_names(label: str, aliases) -> list[str]:
    """The label and aliases longer than one character (`aliases`: a list or its JSON text)."""
    if isinstance(aliases, str):
        aliases = json.loads(aliases) if aliases else []
    return [name for name in [label, *aliases] if len(name.strip()) > 1]


def mentions(generation: str, names) -> bool:
    text = generation.casefold()
    return any(name.casefold() in text for name in names)
