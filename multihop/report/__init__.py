"""Stage 5, the report: per-case stages, statistics, tables, findings, figures, models compared, web pages."""
