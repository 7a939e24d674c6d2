"""CloudTrail audit: read log files robustly, normalise principals, keep events in an embedded DuckDB store and
answer "what happened, and who did it?"."""
