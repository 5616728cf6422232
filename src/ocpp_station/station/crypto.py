"""cryptography's modules as the station's certificate code names them, each loaded on first use.

One home for which of cryptography's modules the station uses and how they are bound: the
certificate modules (:mod:`.certificates`, :mod:`.csr`, :mod:`.certificate_store`,
:mod:`.renewal`) and :mod:`ocpp_station.app` import them from here. At run time each is a
:func:`~ocpp_station.lazy.lazy_module` stand-in, so that a station that never handles a
certificate never loads cryptography (~8 MB, ~50 ms: :mod:`ocpp_station.lazy` says why); mypy
reads the real modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_module

__all__ = ["dsa", "ec", "exceptions", "hashes", "ocsp", "rsa", "serialization", "verification", "x509"]

if TYPE_CHECKING:
    from cryptography import exceptions, x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
    from cryptography.x509 import ocsp, verification
else:
    dsa = lazy_module("cryptography.hazmat.primitives.asymmetric.dsa")
    ec = lazy_module("cryptography.hazmat.primitives.asymmetric.ec")
    exceptions = lazy_module("cryptography.exceptions")
    hashes = lazy_module("cryptography.hazmat.primitives.hashes")
    ocsp = lazy_module("cryptography.x509.ocsp")
    rsa = lazy_module("cryptography.hazmat.primitives.asymmetric.rsa")
    serialization = lazy_module("cryptography.hazmat.primitives.serialization")
    verification = lazy_module("cryptography.x509.verification")
    x509 = lazy_module("cryptography.x509")
