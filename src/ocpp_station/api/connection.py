"""How to reach a broker: ``mqtt://`` / ``mqtts://`` URLs, their credentials and TLS settings.

Shared by the station's MQTT door and by the OEM's client so both read URLs the same way. Credentials may
sit in the URL (``mqtt://user:pass@host:1883``); :meth:`BrokerAddress.redacted` is the only form
that is ever logged.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}

# Without TCP_NODELAY, paho's PUBACK-then-PUBLISH pattern meets the peer's delayed ACK: a QoS 1
# round trip measured 44 ms instead of 0.31 ms on this class of machine (ecosystem-notes).
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass(frozen=True)
class BrokerAddress:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never shown: redacted() is

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Read ``mqtt[s]://[user[:password]@]host[:port]``; ValueError says what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts:// (got {parts.scheme or 'nothing'}://)")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise ValueError("MQTT URL has an invalid port") from None
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        return cls(parts.scheme, parts.hostname, port,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None)

    def redacted(self) -> str:
        """The URL with the password masked: what logs and error messages show."""
        user = f"{self.username}:***@" if self.password is not None else (
            f"{self.username}@" if self.username else "")
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    def tls_context(self, *, ca_file: str | None = None, client_cert: str | None = None,
                    client_key: str | None = None) -> ssl.SSLContext | None:
        """The TLS settings for an ``mqtts://`` broker (None for ``mqtt://``).

        The broker's certificate and host name are verified against ``ca_file`` (default: the
        system's CAs); ``client_cert``/``client_key`` add mutual TLS. Raises OSError/ssl.SSLError
        for a missing or unreadable file, so a configuration error shows at start.
        """
        if self.scheme != "mqtts":
            return None
        context = ssl.create_default_context(cafile=ca_file)
        if client_cert is not None:
            context.load_cert_chain(client_cert, client_key)
        return context
