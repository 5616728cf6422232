"""Text taken from a message, made safe to write into a log line.

A client chooses the names, ids and values it sends. Written as they are, a newline in one forges
a log line of its own (with a timestamp and a level of the client's choosing), and a megabyte-long
name writes a megabyte into the charger's log. :func:`shown` escapes every character that is not
printable and caps the length, so one field is always one short piece of one line.
"""

from __future__ import annotations

MAX_SHOWN = 64  # characters of a client's text shown in a log line; longer ones end with an ellipsis


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` as a quoted, escaped, length-capped text for a log line (``'service_status'``)."""
    text = value if isinstance(value, str) else str(value)
    clipped = text[:limit]
    escaped = clipped.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    if "'" in escaped:
        escaped = escaped.replace("'", "\\'")
    return f"'{escaped}{'…' if len(text) > limit else ''}'"
