"""Which entity a Patchscopes generation names: the study's reading, a name right after or right
before a colon (light: the stage table reads stored generations with it, without a model)."""

import re


def named_at_colon(generation: str, names: dict) -> str:
    """Patchscopes' reading of a generation: 'e1', 'e2' or 'e3' for the first entity (in that
    order) named right after or right before a colon, else 'other'; `names` maps slot -> names."""
    for slot in ("e1", "e2", "e3"):
        for name in names[slot]:
            n = re.escape(name)
            after = rf":\s*{n}(?=[\s,.:;!?]|$)"
            before = rf"(?:^|[\s,.;]){n}\s*:"
            if re.search(after, generation, re.IGNORECASE) or re.search(before, generation, re.IGNORECASE):
                return slot
    return "other"
