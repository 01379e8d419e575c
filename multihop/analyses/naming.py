"""Which entity a Patchscopes generation names: a name right after or right before a colon (light:
the stage table reads stored generations with it, without a model).

Two readings (`analyses.patchscopes_reading`):
- "patterns", the study's: the authors' five literal patterns ": Name ", ": Name,", ": Name.",
  ": Name:" and "Name: " in the generation, stripped, newlines made spaces, lower-cased
  (classify_results.py 73-95, get_entity_classification_answers; patched_generation.py 82-91,
  decode_generated);
- "regex", ours: also a name at the end of the text or before ";!?", any spacing after the colon,
  and "Name :".
"""

import re

from multihop.evaluation.judging import as_decoded

SLOTS = ("e1", "e2", "e3")


def named_at_colon(generation: str, names: dict, reading: str = "patterns") -> str:
    """Patchscopes' reading of a generation: 'e1', 'e2' or 'e3' for the first entity (in that
    order) named right after or right before a colon, else 'other'; `names` maps slot -> names."""
    found = _by_patterns if reading == "patterns" else _by_regex
    text = as_decoded(generation).lower() if reading == "patterns" else generation
    for slot in SLOTS:
        if any(found(text, name) for name in names[slot]):
            return slot
    return "other"


def _by_patterns(text: str, name: str) -> bool:
    name = name.lower()
    return any(p in text for p in (f": {name} ", f": {name},", f": {name}.", f": {name}:", f"{name}: "))


def _by_regex(text: str, name: str) -> bool:
    n = re.escape(name)
    after = rf":\s*{n}(?=[\s,.:;!?]|$)"
    before = rf"(?:^|[\s,.;]){n}\s*:"
    return bool(re.search(after, text, re.IGNORECASE) or re.search(before, text, re.IGNORECASE))
