"""The OCPP versions the station speaks, and how each is spelled where it is named.

One home for these facts (the design issue grows it into a profile per version): the envelope and
the websocket subprotocol spell a version ``ocpp2.0.1``; a NetworkConnectionProfileType spells it
``OCPP20`` (2.0.1, whose schema has no OCPP201) or ``OCPP201``/``OCPP21`` (2.1).
"""

from __future__ import annotations

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"

# What the CSMS link offers in its websocket handshake, most preferred first, whatever a network
# profile's ocppVersion says: that field is informative only, the version is negotiated (Part 4
# §3.1.2), and the CSMS picks one of these. (1.6J joins when the link speaks it.)
LINK_VERSIONS: tuple[str, ...] = (V21, V201)

_PROFILE_SPELLING = {V201: "OCPP201", V21: "OCPP21", V16: "OCPP16"}


def profile_spelling(subprotocol: str) -> str:
    """How OCPPVersionEnumType (2.1) names ``subprotocol``: ``ocpp2.1`` → ``OCPP21``."""
    return _PROFILE_SPELLING[subprotocol]
