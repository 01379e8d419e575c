import pandas as pd
import pytest

from multihop.dataset.chains import build_chains
from multihop.dataset.wikidata import extract_from_dump
from multihop.engine.decoding import generate_prompts
from multihop.errors import UserError
from multihop.evaluation.evaluate import check_prefix, evaluate, read_evaluation
from multihop.evaluation.judging import entity_names, mentions
from multihop.evaluation.splits import rebalance, split_cases
from multihop.files import write_csv
from multihop.models import tiny
from multihop.models.adapter import Adapter


@pytest.fixture
def dataset(tiny_dump, config):
    entities, facts = extract_from_dump(tiny_dump, config["entity_types"], list(config["relations"]))
    return build_chains(entities, facts, config["relations"])


def test_judge_uses_label_and_aliases_longer_than_one_character():
    names = entity_names("John Lennon", '["John Winston Lennon", "J"]')
    assert names == ["John Lennon", "John Winston Lennon"]
    assert mentions(" JOHN LENNON, of course", names)
    assert not mentions(" J. Lennon", names)
    assert mentions(" the US.", ["United States of America", "US"])


def test_the_study_judges_by_substring_ours_by_whole_words():
    usa = ["United States of America", "US"]
    assert mentions(" Russia", usa) and mentions(" Russia", usa, "substring")  # the study's rule, the default
    assert not mentions(" Russia", usa, "word") and mentions(" the US.", usa, "word")
    assert mentions("Lennonism", ["Lennon"]) and not mentions("Lennonism", ["Lennon"], "word")


def oracle(answers):
    """A fake model: answers listed per prompt ending, else 'I do not know'."""
    calls = []

    def generate(texts):
        calls.append(list(texts))
        endings = sorted(answers, key=len, reverse=True)  # the most specific ending wins
        return [next((answers[e] for e in endings if t.endswith(e)), " I do not know") for t in texts]

    return generate, calls


def test_staged_evaluation_asks_composition_only_where_both_hops_are_right(dataset):
    generate, calls = oracle(
        {
            "the performer of Imagine is": " John Lennon.",
            "the spouse of John Lennon is": " Yoko Ono",
            "the country of citizenship of John Lennon is": " the United Kingdom",
            "the spouse of the performer of Imagine is": " Yoko Ono",
        }
    )
    table = evaluate(dataset, generate, prefix="PREFIX. ").set_index("id")
    by_prompt = dataset.set_index("source_prompt")["id"]
    spouse = table.loc[by_prompt["the spouse of the performer of Imagine is"]]
    assert spouse.first_hop_correct and spouse.second_hop_correct and spouse.composition_correct
    assert spouse.composition_generation == " Yoko Ono" and not spouse.entity_shortcut_correct
    citizenship = table.loc[by_prompt["the country of citizenship of the performer of Imagine is"]]
    assert citizenship.second_hop_correct and not citizenship.composition_correct
    # a case with a wrong hop is not asked the other prompts
    unasked = table[~table["first_hop_correct"]]
    assert len(unasked) > 0 and unasked["composition_correct"].isna().all()
    assert (unasked["composition_generation"] == "").all()
    # every text carries the prefix and is generated once
    asked = [t for call in calls for t in call]
    assert all(t.startswith("PREFIX. ") for t in asked) and len(asked) == len(set(asked))


def test_unstaged_evaluation_asks_everything(dataset):
    generate, _ = oracle({})
    table = evaluate(dataset, generate, staged=False)
    assert table.filter(like="_correct").notna().all().all()
    assert not table.filter(like="_correct").any().any()


def test_evaluation_round_trips_through_csv(dataset, tmp_path):
    generate, _ = oracle({"the performer of Imagine is": " John Lennon"})
    table = evaluate(dataset, generate)
    write_csv(table, tmp_path / "evaluation.csv")
    pd.testing.assert_frame_equal(read_evaluation(tmp_path / "evaluation.csv"), table, check_dtype=False)


def test_prefix_naming_a_dataset_entity_is_refused(dataset):
    check_prefix("The capital of Egypt is Cairo. ", dataset)
    with pytest.raises(UserError, match="Tokyo"):
        check_prefix("The capital of Japan is Tokyo. ", dataset)
    with pytest.raises(UserError, match="Beatles|UK"):
        check_prefix("The UK is an island. ", dataset)


def test_split_funnel_and_rebalancing(dataset):
    evaluation = pd.DataFrame({"id": dataset["id"]})
    n = len(dataset)
    flags = {
        "first_hop": [True] * n,
        "second_hop": [True] * (n - 1) + [False],
        "entity_shortcut": [False] * (n - 2) + [True, pd.NA],
        "relation_shortcut": [False] * (n - 2) + [False, pd.NA],
        "composition": [True, False] * ((n - 2) // 2) + [True, pd.NA],
    }
    for kind, values in flags.items():
        evaluation[f"{kind}_generation"] = ""
        evaluation[f"{kind}_correct"] = pd.array(values, dtype="boolean")
    correct, incorrect, funnel = split_cases(dataset, evaluation, max_per_type=100, seed=0)
    counts = dict(zip(funnel["step"], funnel["cases"], strict=True))
    assert counts["all cases"] == n and counts["second hop correct"] == n - 1
    assert counts["entity shortcut does not give e3"] == n - 2
    assert len(correct) + len(incorrect) == n - 2 == counts["relation shortcut does not give e3"]
    assert set(correct["id"]).isdisjoint(incorrect["id"])
    capped = rebalance(pd.concat([correct, incorrect]), max_per_type=1, seed=0)
    assert capped["e2_type"].value_counts().max() == 1
    assert capped.equals(rebalance(pd.concat([correct, incorrect]), max_per_type=1, seed=0))


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_batched_left_padded_generation_equals_one_at_a_time(family):
    tokenizer = tiny.tokenizer()
    model = Adapter(tiny.model(family, vocab_size=len(tokenizer)))
    prompts = ["the capital of Japan is", "the spouse of the performer of Imagine is", "Paris is"]
    batched = generate_prompts(model, tokenizer, prompts, max_new_tokens=5, batch_size=3, share_prefix=False)
    single = [
        generate_prompts(model, tokenizer, [p], max_new_tokens=5, batch_size=1, share_prefix=False)[0] for p in prompts
    ]
    assert batched == single
    assert all(len(tokenizer(t, add_special_tokens=False)["input_ids"]) >= 1 for t in batched)


@pytest.mark.parametrize(
    "family,window", [("llama", None), ("gemma3", 512), ("gemma3", 4), ("qwen2", None), ("gpt2", None)]
)
def test_sharing_the_prefix_gives_the_plain_paths_generations(family, window):
    tokenizer = tiny.tokenizer()
    model = Adapter(tiny.model(family, vocab_size=len(tokenizer), **({"sliding_window": window} if window else {})))
    prefix = "the capital of Japan is Tokyo. the author of Hamlet is William Shakespeare. "
    prompts = [
        prefix + p
        for p in ["the spouse of the performer of Imagine is", "Paris is", "the euro", "the director of Titanic is"]
    ]
    plain = generate_prompts(model, tokenizer, prompts, max_new_tokens=5, batch_size=4, share_prefix=False)
    assert generate_prompts(model, tokenizer, prompts, max_new_tokens=5, batch_size=3) == plain
    # no common prefix at all, and a single prompt, take the same path
    assert generate_prompts(model, tokenizer, ["Paris is", "the euro"], max_new_tokens=5) == generate_prompts(
        model, tokenizer, ["Paris is", "the euro"], max_new_tokens=5, share_prefix=False
    )
    assert generate_prompts(model, tokenizer, prompts[:1], max_new_tokens=5) == plain[:1]
