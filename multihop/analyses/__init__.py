"""Stage 4, the analyses: the registry, studied cases and token positions, the four analyses, per-case stages."""
