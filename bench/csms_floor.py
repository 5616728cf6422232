"""The CSMS door's floor: a do-nothing OCPP-J client that answers every CALL with a fixed CALLRESULT.

It is what a station's websocket door costs at the very least on this machine with this Python
and this websocket library: one ``websockets`` client (no permessage-deflate, as the station), a
``json`` parse of each frame to find its type and id, and one send. ``bench.csms_door`` judges
the station as a ratio to it, measured in the same run through the same harness, so that a slow
or busy machine moves both figures together.

It sends one BootNotification first, so that the harness treats it as it treats a station (it
starts its CALLs once a peer is Accepted); every CALL it receives, whatever its action, gets the
same 1-item GetVariables answer under the CALL's id — the only CALLs the harness sends.

Run: ``python -m bench.csms_floor --url ws://127.0.0.1:PORT/ocpp/IDENTITY``; SIGTERM closes the
connection and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys

from websockets.asyncio.client import connect

# A plausible 1-item GetVariables answer, so that the floor's answer weighs what the station's does.
_RESULT = json.dumps({"getVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"},
                                             "variable": {"name": "OfflineThreshold"}, "attributeValue": "60"}]},
                     separators=(",", ":"))
_BOOT = json.dumps([2, "floor-boot-1", "BootNotification",
                    {"reason": "PowerUp", "chargingStation": {"vendorName": "bench", "model": "csms-floor"}}],
                   separators=(",", ":"))


def fixed_answer(text: str | bytes) -> str | None:
    """The fixed CALLRESULT for a CALL (its id is the only thing read from it); None for anything else."""
    frame = json.loads(text)
    if frame[0] != 2:
        return None  # the harness's answer to our BootNotification: nothing to do
    return '[3,' + json.dumps(frame[1]) + ',' + _RESULT + ']'


async def run(url: str, subprotocol: str) -> int:
    """Connect, boot, answer until SIGTERM (a clean close) or until the harness closes the connection."""
    identity = url.rstrip("/").rsplit("/", 1)[-1]
    token = base64.b64encode(f"{identity}:bench-csms-floor-password".encode()).decode("ascii")
    async with connect(url, subprotocols=[subprotocol], compression=None,  # type: ignore[list-item]
                       additional_headers={"Authorization": f"Basic {token}"}) as ws:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(ws.close()))
        await ws.send(_BOOT)
        async for text in ws:
            answer = fixed_answer(text)
            if answer is not None:
                await ws.send(answer)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.csms_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the harness's URL, ending with this client's identity")
    parser.add_argument("--subprotocol", default="ocpp2.0.1", help="the OCPP version offered (default ocpp2.0.1)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.url, args.subprotocol))


if __name__ == "__main__":
    sys.exit(main())
