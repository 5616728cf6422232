"""The 1.6 security-profile upgrade (whitepaper A05): ChangeConfiguration SecurityProfile.

1.6 has no SetNetworkProfile: a CSMS raises the security of the connection by writing the
SecurityProfile key, and the Charge Point reconnects with it — or, if it cannot, falls back to the
profile it had (A05.FR.08). The station already has that machinery for 2.x (A05 through
NetworkConfigurationPriority, B10's walk, A05.FR.06's clean-up), so the 1.6 upgrade is expressed in
it rather than beside it:

1. the checks, in the whitepaper's order: a value no higher than the profile in use → Rejected
   (A05.FR.01); 1 or 2 without an AuthorizationKey that meets its rules → Rejected (A05.FR.02); 2 or 3
   without a *valid* CentralSystemRootCertificate → Rejected (A05.FR.03); 3 without a valid
   ChargePointCertificate → Rejected (A05.FR.04);
2. the active slot's profile is copied into a free configuration slot with the new security profile
   — its URL's scheme following it (``ws://`` for 1, ``wss://`` for 2 and 3; host, port and path
   unchanged: 1.6 has no message that could say another URL) — and that slot goes first in
   NetworkConfigurationPriority, ahead of the one in use; all of it in the request's unit of work,
   so Accepted (A05.FR.05) means stored;
3. after the answer, the link reconnects from the top of the list (A05.FR.06/07): the new slot,
   NetworkProfileConnectionAttempts times; if that fails, the previous slot, which is still in the
   list (A05.FR.08); once a connection at the new profile is accepted, the profiles below it are
   removed (the 2.x A05.FR.06, which is what 1.6's A05.FR.09 asks of the CSMS's side too).

No free slot (every configured slot is in the priority list or in use) → Rejected, said in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from .certificate_store import CertificateStore
from .configuration_keys import Change, ConfigurationStatus, Writer
from .device_model import DeviceModel
from .network import password_problem
from .network_store import NetworkStore

log = logging.getLogger(__name__)


def _url_for(url: str, level: int) -> str:
    """``url`` with the scheme security profile ``level`` uses (1: ws, 2 and 3: wss)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="wss" if level >= 2 else "ws"))


def security_profile_writer(*, network: NetworkStore, model: DeviceModel, certificates: CertificateStore,
                            password: Callable[[int], str | None], priority: Callable[[], list[int]],
                            record_event: Callable[[str, str], None], after_commit: Callable[[], None]) -> Writer:
    """The writer of the SecurityProfile key; ``password(slot)`` is the BasicAuthPassword that slot
    uses, ``after_commit`` runs once the change is durable (the link's reconnection)."""

    def rejected(why: str) -> Change:
        log.info("ChangeConfiguration SecurityProfile rejected: %s", why)
        return Change(ConfigurationStatus.REJECTED, why)

    def change(value: str) -> Change:
        invalid = model.check_internal("SecurityCtrlr", "SecurityProfile", value)  # an integer, 1 to 3
        if invalid is not None:
            return rejected(invalid.additional_info)
        new = int(value)
        current = network.security_state().active_security_profile
        if new <= current:  # A05.FR.01
            return rejected(f"security profile {new} is not above the one in use ({current})")
        active = network.active_slot()
        base = network.profile(active)
        if base is None or base.url is None:
            return rejected(f"the active slot {active} holds no network profile to upgrade")
        if new in (1, 2) and password_problem(password(active) or "") is not None:  # A05.FR.02
            return rejected(f"security profile {new} needs an AuthorizationKey that meets its rules")
        if new >= 2 and not certificates.has_usable("CSMSRootCertificate"):  # A05.FR.03: a *valid* root
            return rejected(f"security profile {new} needs a valid CentralSystemRootCertificate")
        if new == 3 and not certificates.has_usable("ChargingStationCertificate"):  # A05.FR.04
            return rejected("security profile 3 needs a valid ChargePointCertificate")
        order = priority()
        spare = next((slot for slot in network.slots if slot != active and slot not in order), None)
        if spare is None:
            return rejected("no configuration slot is free for the new profile (all are in "
                            "NetworkConfigurationPriority)")
        upgraded = replace(base, slot=spare, security_profile=new, url=_url_for(base.url, new))
        problem = network.check(upgraded)
        if problem is not None:
            return rejected(problem.additional_info)
        network.save(upgraded)
        model.write_internal("OCPPCommCtrlr", "NetworkConfigurationPriority", ",".join(map(str, [spare, *order])))
        record_event("ReconfigurationOfSecurityParameters",
                     f"SecurityProfile {new} requested: slot {spare} is tried first, slot {active} kept as fallback")
        after_commit()  # A05.FR.06/07: reconnect once the answer is out
        log.info("ChangeConfiguration SecurityProfile %d accepted: slot %d first, slot %d kept as fallback "
                 "(A05.FR.08)", new, spare, active)
        return Change(ConfigurationStatus.ACCEPTED)

    return change
