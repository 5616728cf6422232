"""How to reach a broker: ``mqtt://`` / ``mqtts://`` URLs turned into aiomqtt client settings.

Shared by the service and by ``ocpp-station call`` so both read URLs the same way. Credentials may
sit in the URL (``mqtt://user:pass@host:1883``); :meth:`BrokerAddress.redacted` is the only form
that is ever logged.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.client import MQTTv5, MQTTv311

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
    password: str | None = None

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

    def client_options(self, *, client_id: str | None, protocol: str, ca_file: str | None,
                       client_cert: str | None = None, client_key: str | None = None,
                       **extra: Any) -> dict[str, Any]:
        """Keyword arguments for :class:`aiomqtt.Client`."""
        tls = None
        if self.scheme == "mqtts":
            tls = ssl.create_default_context(cafile=ca_file)  # verifies the certificate and the server name
            if client_cert is not None:  # mutual TLS
                tls.load_cert_chain(client_cert, client_key)
        return dict(hostname=self.host, port=self.port, username=self.username, password=self.password,
                    identifier=client_id, tls_context=tls, socket_options=NODELAY,
                    protocol=MQTTv5 if protocol == "5" else MQTTv311, **extra)


def make_client(address: BrokerAddress, **options: Any) -> aiomqtt.Client:
    return aiomqtt.Client(**address.client_options(**options))
