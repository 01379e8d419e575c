import pytest

from multihop.analyses.cases import LocateError, last_token_index, offsets
from multihop.dataset.chains import e1_offset, prompts
from multihop.models import tiny


@pytest.fixture(params=["bytelevel", "metaspace", "metaspace-prefixed"])
def tokenizer(request):
    return tiny.tokenizer(request.param)


def decoded_up_to(tokenizer, text, index):
    ids, _ = offsets(tokenizer, text)
    return tokenizer.decode(ids[: index + 1], skip_special_tokens=True)


def test_entity_last_token_with_a_prefix(tokenizer):
    prefix = "the capital of Japan is Tokyo. "
    r1, r2 = "the performer of {}", "the spouse of {}"
    text = prefix + prompts("Imagine", "x", r1, r2)["composition"]
    start = len(prefix) + e1_offset(r1, r2)
    index = last_token_index(tokenizer, text, start, start + len("Imagine"))
    assert decoded_up_to(tokenizer, text, index).endswith("Imagine")
    assert not decoded_up_to(tokenizer, text, index - 1).endswith("Imagine")


def test_a_name_that_occurs_twice_is_located_where_asked(tokenizer):
    text = "Tokyo is big; the capital of Tokyo is"
    second = text.rindex("Tokyo")
    first_index = last_token_index(tokenizer, text, 0, 5)
    second_index = last_token_index(tokenizer, text, second, second + 5)
    assert second_index > first_index
    assert decoded_up_to(tokenizer, text, second_index).endswith("the capital of Tokyo")


def test_out_of_range_span_is_a_locate_error(tokenizer):
    with pytest.raises(LocateError):
        last_token_index(tokenizer, "short", 3, 40)
