"""Text taken from a message, made safe to write into a log line.

A client chooses the names, ids and values it sends. Written as they are, a newline in one forges
a log line of its own (with a timestamp and a level of the client's choosing), and a megabyte-long
name writes a megabyte into the charger's log. :func:`shown` escapes every character that is not
printable and caps the length, so one field is always one short piece of one line.
"""

from __future__ import annotations

import logging

MAX_SHOWN = 64  # characters of a client's text shown in a log line; longer ones end with an ellipsis


def shown(value: object, limit: int = MAX_SHOWN, *, quote: bool = True) -> str:
    """``value`` as a quoted, escaped, length-capped text for a log line (``'service_status'``).

    ``quote=False`` leaves the quotes out, for a field that is almost always plain already and that
    people grep the log for as it is: a request id (a UUID is shown as it is, a forged line is not).
    A description of ours that quotes something a client chose (a certificate's subject) takes it too.
    """
    text = value if isinstance(value, str) else str(value)
    clipped = text[:limit]
    escaped = clipped.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    ellipsis = "…" if len(text) > limit else ""
    if not quote:
        return escaped + ellipsis
    if "'" in escaped:
        escaped = escaped.replace("'", "\\'")
    return f"'{escaped}{ellipsis}'"


# Libraries whose DEBUG lines carry what must never reach a log: websockets writes every handshake
# header (Authorization: Basic <identity:password in base64>) and the text of every frame (a CSMS's
# SetVariables of a BasicAuthPassword) at DEBUG. paho (its logger is the MQTT door's, named below)
# writes the MQTT 5 properties of every PUBLISH it receives at DEBUG, as the client sent them: a
# Response Topic, Correlation Data or User Property holds any text (a newline and a forged line),
# up to the size of the packet. Its socket and TLS errors come at ERROR and are kept.
WIRE_LOGGERS = ("websockets", "ocpp_station.api.paho")


def quiet_wire_loggers(level: int) -> None:
    """Keep the wire-dumping loggers at INFO or above, whatever ``--log-level`` says.

    At ``--log-level DEBUG`` the station's own lines still say what happens on the CSMS link
    (connecting, the handshake's outcome, every CALL by action, every MQTT answer by id); what is
    left out is the raw headers, frames and MQTT properties, which hold secrets and a client's text.
    """
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
