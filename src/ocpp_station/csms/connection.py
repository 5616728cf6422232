"""How to open the websocket for one network connection profile (A00 security profiles 1–3).

* profile 1: HTTP Basic authentication (identity and BasicAuthPassword), ws:// or wss://;
* profile 2: TLS, the CSMS's certificate verified against the installed CSMSRootCertificates only
  (and its host name checked), plus Basic authentication;
* profile 3: mutual TLS with the station's ChargingStationCertificate and key; no password.

Everything comes from the station's state (certificate bundles written by the certificate store,
the device model, the stored profile), so whatever the OEM changed is what the link uses.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

from ..station.network import NetworkProfile


class CannotConnect(Exception):
    """This profile cannot be used now (a missing certificate, no password); the message says why."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    subprotocols: tuple[str, ...]
    headers: dict[str, str]
    ssl_context: ssl.SSLContext | None

    def describe(self, profile: NetworkProfile) -> str:
        return f"{self.url} (slot {profile.slot}, security profile {profile.security_profile})"


def endpoint(profile: NetworkProfile, *, identity: str, password: str | None, data_dir: Path) -> Endpoint:
    """The websocket URL, subprotocols, headers and TLS settings for ``profile``."""
    level = profile.security_profile
    identity = str(profile.data.get("identity") or identity)  # 2.1: the profile's own identity wins
    password = profile.data.get("basicAuthPassword") or password
    url = profile.url.rstrip("/") + "/" + identity  # the CSMS URL does not include the identity
    # OCPP 2.1 is offered first when the profile asks for it; the CSMS picks (Part 4 §3.1.2).
    wants_21 = profile.data.get("ocppVersion") == "OCPP21"
    subprotocols = ("ocpp2.1", "ocpp2.0.1") if wants_21 else ("ocpp2.0.1",)
    headers: dict[str, str] = {}
    if level in (1, 2):
        if not password:
            raise CannotConnect("no BasicAuthPassword is set (SecurityCtrlr.BasicAuthPassword)")
        token = base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    context = None
    if url.startswith("wss://"):
        roots = data_dir / "certs" / "CSMSRootCertificate.pem"
        if not roots.exists():
            raise CannotConnect("no CSMSRootCertificate is installed to verify the CSMS")
        context = ssl.create_default_context(cafile=str(roots))  # only our roots, host name checked
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # A00.FR.3xx: TLS 1.2 or newer
        if level == 3:
            chain = data_dir / "certs" / "ChargingStationCertificate.pem"
            key = data_dir / "private" / "ChargingStationCertificate.key.pem"
            if not (chain.exists() and key.exists()):
                raise CannotConnect("no ChargingStationCertificate is installed for security profile 3")
            context.load_cert_chain(str(chain), str(key))
    return Endpoint(url, subprotocols, headers, context)
