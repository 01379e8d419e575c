"""The one intervention and generation engine: edits as data, hooks that apply them, decoding.

Evaluation and every analysis generate through `decoding`; nothing else calls `generate`.
"""
