"""The OCPP-J door towards the CSMS: a websocket client onto the same rpc core as the MQTT API."""
