"""What the station reports of its connectors' availability (StatusNotification's connectorStatus).

The station has no connector hardware behind it yet (no cable, no transaction, no
ChangeAvailability): every connector is Available. This is the one home of that fact, read by the
boot's StatusNotifications (B01.FR.05) and by a triggered one (F06); an availability model replaces
this constant with a lookup when it comes.
"""

from __future__ import annotations

CONNECTOR_STATUS = "Available"  # ConnectorStatusEnumType
