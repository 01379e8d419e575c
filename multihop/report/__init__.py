"""Stage 5, the report: statistics, tables, findings, figures, models compared, web pages."""
