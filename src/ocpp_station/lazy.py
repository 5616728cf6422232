"""Modules loaded on first use, so that a station pays for cryptography only once it handles a certificate.

cryptography is the heaviest thing the station imports: its Rust extension maps ~9 MB, its Python
modules ~5 MB more, and loading them takes ~50 ms of the launch (issue 20, bench/README.md). A
station that never handles a certificate never needs it; one that does loads it the first time: a
TLS connection to its CSMS, an InstallCertificate, a renewal (certificates at rest are reported
from what the store keeps in its rows, unparsed). So :mod:`ocpp_station.station.crypto`, the one
place that names cryptography's modules for the station, binds each through :func:`lazy_module`,
under ``if TYPE_CHECKING`` real imports that mypy reads instead::

    if TYPE_CHECKING:
        from cryptography import x509
    else:
        x509 = lazy_module("cryptography.x509")

The real import happens at the first attribute read, through :func:`importlib.import_module`, whose
per-module lock makes it safe from the worker threads that handle requests (the standard library's
:class:`importlib.util.LazyLoader` raced there before Python 3.12.3). Each attribute read once is
then kept on the stand-in, so later reads cost what reading a module's attribute costs.

Module-level code must not read such a module's attributes (that would load it at import): keep
constants that need cryptography inside functions. ``tests/unit/test_lazy_imports.py`` checks that
the station starts and answers without loading it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule", "lazy_module"]


class LazyModule:
    """A stand-in for the module named ``name``, imported at the first read of one of its attributes."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attribute: str) -> Any:
        # Only called for attributes not yet kept here: the first read of each.
        value = getattr(importlib.import_module(self._lazy_name), attribute)
        setattr(self, attribute, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"


def lazy_module(name: str) -> Any:
    """The module ``name``, imported when first used (typed Any: declare the real import for mypy)."""
    return LazyModule(name)
