"""The certificate uses (types) the station keeps, by their 2.x names: a leaf both sides import.

Roots are installed with InstallCertificate; the station's own chains (with their private keys)
are imported by the admin, and later renewed. OCPP 1.6's names are its version profile's business
(:mod:`ocpp_station.versions`).
"""

from __future__ import annotations

ROOT_USES = ("CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate",
             "OEMRootCertificate")
OWN_USES = ("ChargingStationCertificate", "V2GCertificateChain")
