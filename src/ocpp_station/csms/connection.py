"""How to open the websocket for one connection target (A00 security profiles 1–3).

* profile 1: HTTP Basic authentication (identity and BasicAuthPassword), ws:// or wss://;
* profile 2: TLS, the CSMS's certificate verified against the installed CSMSRootCertificates only
  (and its host name checked), plus Basic authentication;
* profile 3: mutual TLS with the station's ChargingStationCertificate and key; no password.

What to connect to, as whom and with which password comes from the station
(:class:`~ocpp_station.station.connections.ConnectionTarget`, every fact read from its one home);
the TLS material from the files the certificate store derives from its database.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from ..station.connections import CannotConnect, ConnectionTarget


@dataclass(frozen=True)
class Endpoint:
    url: str
    subprotocols: tuple[str, ...]
    headers: dict[str, str] = field(repr=False)  # the Authorization header: a secret
    ssl_context: ssl.SSLContext | None


def endpoint(target: ConnectionTarget, *, roots: bytes | None, own: tuple[Path, Path] | None) -> Endpoint:
    """The websocket URL, subprotocols, headers and TLS settings for ``target``.

    ``roots`` are the CSMS roots valid now (PEM): an expired one could verify nothing. ``own`` are
    the files of the station's certificate chain and key, for security profile 3.
    """
    headers: dict[str, str] = {}
    if target.password is not None:  # security profiles 1 and 2 (A00.FR.203)
        token = base64.b64encode(f"{target.identity}:{target.password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    context = None
    if target.url.startswith("wss://"):
        if not roots:
            raise CannotConnect("no valid CSMSRootCertificate is installed to verify the CSMS")
        context = ssl.create_default_context(cadata=roots.decode("ascii"))  # only our roots, host name checked
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # A00.FR.313: TLS 1.2 or newer
        # M05.FR.10/13: a CSMS root installed under AdditionalRootCertificateCheck is signed by the
        # root it replaced; once that fallback is gone, the new root must be a trust anchor alone.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        if target.security_profile == 3:
            if own is None:
                raise CannotConnect("no valid ChargingStationCertificate is installed for security profile 3")
            context.load_cert_chain(str(own[0]), str(own[1]))
    return Endpoint(target.url, target.offered_versions, headers, context)
