"""Shared code of the multi-hop reasoning study: one module per concept, used by scripts/ and tests/."""

__version__ = "0.1.0"
