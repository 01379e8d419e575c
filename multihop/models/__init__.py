"""Stage 2, the models: loading any causal LM, the bundled and tiny test models, one view of their parts."""
