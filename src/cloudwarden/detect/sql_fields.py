"""Where each top-level CloudTrail field lives in the trail store's ``events`` table (see
:mod:`cloudwarden.trail.extract`), for the SQL evaluator.

A Sigma field is a dotted path whose first key is a top-level CloudTrail field. The store keeps some of them as
text columns, one as a boolean, and five nested ones as JSON text; a path that starts anywhere else names data the
store does not hold, and a rule that needs it is not runnable in SQL (the reason names the field).
"""

from __future__ import annotations

from cloudwarden.trail.extract import JSON_FIELDS, OPTIONAL_TEXT

# Top-level string fields kept verbatim in a VARCHAR column (userAgent and errorMessage are cut at 64 KiB).
TEXT_COLUMNS: dict[str, str] = {
    "eventID": "event_id",
    "eventSource": "event_source",
    "eventName": "event_name",
    **dict(OPTIONAL_TEXT),
}

# Top-level boolean fields kept in a BOOLEAN column (CloudTrail's "true"/"false" strings are stored as booleans,
# which every Sigma test treats alike: both read as the text true/false).
BOOLEAN_COLUMNS: dict[str, str] = {"readOnly": "read_only"}

# Top-level fields kept as JSON text (each bounded to 1 MiB; a larger one is stored as a marker object).
JSON_COLUMNS: dict[str, str] = dict(JSON_FIELDS)

# Kept, but not as the record's own value: say why instead of "not kept".
NOT_AS_RECORDED: dict[str, str] = {
    "eventTime": "eventTime is stored as a timestamp, not as the record's text",
}


def unkept_reason(top_level: str) -> str | None:
    """Why a path starting at ``top_level`` cannot be evaluated over the store; None when it can."""
    if top_level in TEXT_COLUMNS or top_level in BOOLEAN_COLUMNS or top_level in JSON_COLUMNS:
        return None
    if top_level in NOT_AS_RECORDED:
        return NOT_AS_RECORDED[top_level]
    return f"field {top_level!r} is not kept by the trail store"
