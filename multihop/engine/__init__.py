"""The one intervention and generation engine: edits as data, hooks that apply them, decoding.

Evaluation and every analysis generate through `decoding`; besides its reference path, nothing
else calls `generate`. `decoding` runs its own loop over the model's decoder, with `head` (the
exact screened output layer) and `kvcache` (keys and values in room reserved up front).
"""
