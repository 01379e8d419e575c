"""The studied cases: each one's prompt as the model reads it, and the token positions the analyses use.

Positions come from character offsets, so any fast tokenizer works, whatever it does with spaces.
"""

from dataclasses import dataclass

import pandas as pd

from multihop.dataset.chains import e1_offset
from multihop.errors import UserError
from multihop.evaluation.judging import case_names


class LocateError(ValueError):
    """A character span that no token covers (the case is skipped with this reason)."""


def offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of `text` as the model sees it (special tokens included) and each token's char span."""
    if not tokenizer.is_fast:
        raise UserError("a fast (Rust) tokenizer is needed to locate entities in prompts; load it with use_fast=True")
    encoded = tokenizer(text, return_offsets_mapping=True)
    return encoded["input_ids"], [tuple(span) for span in encoded["offset_mapping"]]


def last_token_index(tokenizer, text: str, start: int, end: int) -> int:
    """Index of the last token covering characters [start, end) of `text`.

    Offsets make this independent of how the tokenizer merges spaces into tokens, of a prefix
    before the span, and of the same name occurring elsewhere in the text.
    """
    if not 0 <= start < end <= len(text):
        raise LocateError(f"span {start}:{end} is outside the prompt")
    _, spans = offsets(tokenizer, text)
    covering = [i for i, (a, b) in enumerate(spans) if a < end and b > start and b > a]
    if not covering:
        raise LocateError(f"no token covers {text[start:end]!r}")
    return covering[-1]


TOKEN_POSITIONS = ["t1", "t2", "r1_end", "r2_end", "r1_noun", "r2_noun", "r1_word", "r2_word"]
POSITION_COLUMNS = ["id", *TOKEN_POSITIONS, "skipped"]


@dataclass(frozen=True)
class Case:
    id: str
    text: str  # prompt prefix + composition prompt: exactly what the model reads
    ids: tuple[int, ...]
    t1: int  # last token of e1
    t2: int  # last token of the prompt
    r1_end: int  # last token of the r1 phrase ("the performer of")
    r2_end: int  # last token of the r2 phrase ("the spouse of")
    r1_noun: int  # last token of the r1 relation noun as the study finds it ("performer"; see `_noun`)
    r2_noun: int  # last token of the r2 relation noun as the study finds it ("spouse")
    r1_word: int  # last token of the r1 phrase's last word but a final "of" ("performer"; see `_last_word`)
    r2_word: int  # the same for r2
    names: dict  # "e1"/"e2"/"e3" -> label and aliases


def _phrase(template: str) -> str:
    """The words of a relation phrase before its entity: 'the performer of {}' -> 'the performer of'."""
    return template[: template.index("{}")].rstrip()


def _word_span(phrase: str, index: int) -> tuple[int, int]:
    """Where word `index` of a phrase is (words split on spaces, negative from the end)."""
    words = phrase.split(" ")
    i = index % len(words)
    start = sum(len(word) + 1 for word in words[:i])
    return start, start + len(words[i])


def _noun(phrase: str) -> tuple[int, int]:
    """The relation noun as the study finds it: the authors' `template.split(" ")[-3]`
    (utils.py, last_relation_word), the phrase's word before its last ("performer" in "the
    performer of", "citizenship" in "the country of citizenship of"; "that" in "the company that
    produced" and "the work that features")."""
    return _word_span(phrase, -2)


def _last_word(phrase: str) -> tuple[int, int]:
    """Ours: the phrase's last word but a final "of" ("performer"; "produced" in "the company
    that produced")."""
    return _word_span(phrase.removesuffix(" of"), -1)


def locate(tokenizer, row, prefix: str) -> dict:
    """Token positions of one dataset row's composition prompt, or the reason they cannot be found."""
    text = prefix + row["source_prompt"]
    start = len(prefix)
    e1 = start + e1_offset(row["r1_template"], row["r2_template"])
    r1 = start + row["r2_template"].index("{}")
    r1_phrase, r2_phrase = _phrase(row["r1_template"]), _phrase(row["r2_template"])
    spans = {
        "t1": (e1, e1 + len(row["e1_label"])),
        "r1_end": (r1, r1 + len(r1_phrase)),
        "r2_end": (start, start + len(r2_phrase)),
    }
    for name, word in (("noun", _noun), ("word", _last_word)):
        (a1, b1), (a2, b2) = word(r1_phrase), word(r2_phrase)
        spans[f"r1_{name}"], spans[f"r2_{name}"] = (r1 + a1, r1 + b1), (start + a2, start + b2)
    found = {"id": row["id"], "t2": len(offsets(tokenizer, text)[0]) - 1, "skipped": ""}
    try:
        if text[slice(*spans["t1"])].casefold() != row["e1_label"].casefold():
            raise LocateError(f"e1 {row['e1_label']!r} is not where the templates put it")
        for name, (a, b) in spans.items():
            found[name] = last_token_index(tokenizer, text, a, b) if b > a else -1
    except LocateError as error:
        return {"id": row["id"], **dict.fromkeys(TOKEN_POSITIONS, -1), "skipped": str(error)}
    return found


def locate_all(tokenizer, cases: pd.DataFrame, prefix: str) -> pd.DataFrame:
    rows = [locate(tokenizer, row, prefix) for row in cases.to_dict("records")]
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


def load_cases(tokenizer, located: pd.DataFrame, prefix: str, one_character: str = "alias") -> list[Case]:
    """Cases ready for the analyses, from dataset rows merged with their positions (skipped ones left
    out); their names as `one_character` says (multihop.evaluation.judging)."""
    out = []
    for row in located[located["skipped"].fillna("") == ""].to_dict("records"):
        text = prefix + row["source_prompt"]
        names = case_names(row, one_character)
        out.append(
            Case(
                row["id"],
                text,
                tuple(offsets(tokenizer, text)[0]),
                *(int(row[position]) for position in TOKEN_POSITIONS),
                names,
            )
        )
    return out


def by_length(cases) -> list[list[int]]:
    """The indices of `cases` grouped by their prompts' token length, shortest first (cases of one
    length go through the model together, unpadded)."""
    lengths = sorted({len(case.ids) for case in cases})
    return [[i for i, case in enumerate(cases) if len(case.ids) == length] for length in lengths]


def sample_studied(cases: pd.DataFrame, positions: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """The studied sample of a split: `n` located cases, with their positions and `order`, their
    place in one seeded order of the split (an analysis studying m cases takes orders below m),
    sorted by id."""
    located = cases.merge(positions[positions["skipped"] == ""], on="id")
    studied = located.sample(frac=1, random_state=seed).head(n).assign(order=lambda t: range(len(t)))
    return studied.sort_values("id").reset_index(drop=True)
