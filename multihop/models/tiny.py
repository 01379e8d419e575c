"""Tiny random-weight models of every supported family, with tokenizers trained on the spot (no downloads).

For unit tests (random weights) and the bundled `tiny-llama` (`taught` a few facts).
"""

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    Gemma3TextConfig,
    GemmaConfig,
    GPT2Config,
    LlamaConfig,
    MistralConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
)

CORPUS = [
    "the spouse of the performer of Imagine is Yoko Ono",
    "the capital of the country of citizenship of John Lennon is London",
    "the capital of Japan is Tokyo. the author of Hamlet is William Shakespeare.",
    "the director of Titanic is James Cameron and the currency of France is the euro",
    "Paris is the capital of France; Berlin is the capital of Germany; the Beatles",
]


def tokenizer(style: str = "bytelevel") -> PreTrainedTokenizerFast:
    """A small BPE tokenizer: GPT-2-like byte level ('bytelevel'), SentencePiece-like without
    (Gemma, 'metaspace') or with a word-start marker before the first word (Llama 2, 'metaspace-prefixed')."""
    tok = Tokenizer(models.BPE(unk_token=None if style == "bytelevel" else "<unk>"))
    if style == "bytelevel":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        scheme = "always" if style == "metaspace-prefixed" else "never"
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.padding_side = "left"
    return fast


# Each family's tiny config: its class and what it adds to the sizes all share (GPT-2 names its
# sizes its own way). A family added here gets the engine-vs-reference tests too.
SIZES = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2)
SIZES |= dict(max_position_embeddings=256)
WINDOWED = dict(head_dim=16, sliding_window=4, query_pre_attn_scalar=16)  # shorter than the test prompts
CONFIGS = {
    "llama": (LlamaConfig, {}),
    "mistral": (MistralConfig, {"sliding_window": None}),
    "qwen2": (Qwen2Config, {}),
    "qwen3": (Qwen3Config, {"head_dim": 16}),
    "gemma": (GemmaConfig, {"head_dim": 16}),
    "gemma2": (Gemma2Config, WINDOWED),
    "gemma3": (Gemma3TextConfig, WINDOWED),
}
FAMILIES = [*CONFIGS, "gpt2"]


def config(family: str, vocab_size: int, layers: int = 4):
    if family == "gpt2":
        return GPT2Config(
            n_embd=64, n_layer=layers, n_head=4, n_positions=256, vocab_size=vocab_size, bos_token_id=1, eos_token_id=2
        )
    if family not in CONFIGS:
        raise ValueError(family)
    kind, extra = CONFIGS[family]
    common = dict(vocab_size=vocab_size, num_hidden_layers=layers, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return kind(**common, **SIZES, **extra)


def model(
    family: str, vocab_size: int, layers: int = 4, seed: int = 0, attn_implementation: str = "eager", **overrides
):
    torch.manual_seed(seed)
    cfg = config(family, vocab_size, layers)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    m = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn_implementation)
    return m.eval()


# What the bundled tiny-llama learns: both hops of every chain of .test/tiny.nt, and two composed
# questions, so that a .test run has cases in both splits (1 correct, 2 incorrect on this machine).
FACTS = [
    "the performer of Imagine is John Lennon",
    "the spouse of Yoko Ono is John Lennon",
    "the spouse of John Lennon is Yoko Ono",
    "the country of citizenship of John Lennon is United Kingdom",
    "the country of citizenship of Yoko Ono is Japan",
    "the capital of United Kingdom is London",
    "the capital of Japan is Tokyo",
    "the capital of the country of citizenship of John Lennon is London",
    "the capital of the country of citizenship of Yoko Ono is Tokyo",
]


def taught(model, tokenizer, *, sentences=FACTS, steps=300, lr=3e-3, seed=0):
    """`model` trained to recite `sentences` (each ended by EOS), full batch, in a few seconds.

    One thread and a fixed seed, so the same weights come out on every machine of one kind.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        batch = tokenizer([s + tokenizer.eos_token for s in sentences], return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            optimizer.zero_grad()
            model(**batch, labels=labels).loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def build():
    """The bundled tiny-llama: a random 4-layer Llama `taught` FACTS, with its tokenizer."""
    tok = tokenizer()
    return taught(model("llama", vocab_size=len(tok)), tok), tok
