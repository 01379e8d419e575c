"""Batched greedy generation with left padding: the plain path every evaluation uses."""

import torch
from tqdm.auto import tqdm


def greedy_generate(model, tokenizer, prompts, max_new_tokens=10, batch_size=16, desc="generating") -> list[str]:
    """The greedy continuation (new text only) of each prompt, in the order given.

    Prompts are batched by length so that little padding is computed.
    """
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    texts = [""] * len(prompts)
    with tqdm(total=len(prompts), desc=desc, unit="prompt", disable=None) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True).to(model.device)
            with torch.inference_mode():
                ids = model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    top_p=None,
                    top_k=None,
                    temperature=None,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = tokenizer.batch_decode(ids[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
            for i, text in zip(batch, new, strict=True):
                texts[i] = text
            bar.update(len(batch))
    return texts
