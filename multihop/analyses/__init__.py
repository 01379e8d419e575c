"""Stage 4, the analyses: the catalog and its runner, studied cases and their positions, each analysis."""
