"""Stage 3, the evaluation: each model's answers to the five prompts, judged, and the case splits."""
