"""ocpp-station: a station-side OCPP engine with a local MQTT API for the charger's manufacturer."""

__version__ = "0.1.0"
