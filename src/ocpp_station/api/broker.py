"""The embedded broker: amqtt, in this process, so a newcomer can try the station with nothing else.

It is for trying things out only. amqtt speaks MQTT 3.1.1 alone and has open reports of memory
growth from sessions that never come back; a charger runs mosquitto (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)


@asynccontextmanager
async def embedded_broker(host: str, port: int) -> AsyncIterator[str]:
    """Run an anonymous MQTT 3.1.1 broker on host:port; yields its ``mqtt://`` URL."""
    from amqtt.broker import Broker  # imported here: only this mode needs it

    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    url = f"mqtt://{host}:{port}"
    log.warning("embedded MQTT broker listening on %s (amqtt, MQTT 3.1.1, no authentication): "
                "for trying things out only; use mosquitto and --mqtt-url on a real station", url)
    try:
        yield url
    finally:
        await broker.shutdown()
