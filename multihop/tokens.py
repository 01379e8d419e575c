"""Token positions inside prompts, found from character offsets so that any tokenizer works."""

from multihop.errors import UserError


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


def needs_leading_space(tokenizer) -> bool:
    """Whether a name's ids mid-sentence are those of ' name' rather than of 'name' alone.

    True for byte-level BPE (GPT-2, Llama 3, Qwen) and SentencePiece without a dummy prefix
    (Gemma); False where a bare name already gets its word-start marker (Llama 2).
    """

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    before, in_context = ids("is"), ids("is Paris")
    tail = in_context[len(before) :] if in_context[: len(before)] == before else in_context
    return tail == ids(" Paris") and tail != ids("Paris")
