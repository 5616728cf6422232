#!/usr/bin/env python3
"""Fill station-bridge.conf in for one station and print it (standard library only, Python 3.8+).

    CENTRAL_PASSWORD=… ./render.py CS-001 central.example.com --cafile /etc/mosquitto/certs/central-ca.pem \
        > /etc/mosquitto/conf.d/bridge.conf

The password comes from the environment (or a prompt), not the command line, which other users see in `ps`.
Values are checked because mosquitto would read a newline in them as a new configuration line, and an
identity with "/", "+" or "#" would break the topic layout and the central ACL patterns.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("station-bridge.conf")
IDENTITY = re.compile(r"[A-Za-z0-9._-]{1,64}")


def render(template: str, identity: str, password: str, central_host: str, central_port: int, cafile: str) -> str:
    """The template with its five placeholders replaced outside comments (plain replacement, not str.format)."""
    if not IDENTITY.fullmatch(identity):
        raise ValueError(f"identity {identity!r}: use letters, digits, '.', '_' and '-' only")
    values = {"identity": identity, "password": password, "central_host": central_host,
              "central_port": str(central_port), "cafile": cafile}
    for name, value in values.items():
        if not value or value != value.strip() or any(c in value for c in "\r\n\0"):
            raise ValueError(f"{name}: empty, surrounded by blanks, or with a line break")
    lines = template.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#"):  # the comments keep naming the placeholders
            for name, value in values.items():
                line = line.replace("{" + name + "}", value)
            lines[i] = line
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("identity")
    parser.add_argument("central_host")
    parser.add_argument("--port", type=int, default=8883)
    parser.add_argument("--cafile", default="/etc/mosquitto/certs/central-ca.pem")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args()
    password = os.environ.get("CENTRAL_PASSWORD") or getpass.getpass(f"password of {args.identity}: ")
    try:
        sys.stdout.write(render(args.template.read_text("utf-8"), args.identity, password, args.central_host,
                                args.port, args.cafile))
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
