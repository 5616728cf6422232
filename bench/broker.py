"""A private mosquitto for one bench run.

The bench owns its broker (free port, own temp dir, no persistence) so that nothing else on the
machine shares its queues and so that ``set_tcp_nodelay true`` is guaranteed: without it a QoS 1
round trip stalls ~40 ms on delayed ACKs and every figure would measure Nagle, not the service.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick; racy in theory, fine on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Mosquitto:
    """mosquitto on 127.0.0.1:<free port>, configured from ``workdir``; a context manager."""

    workdir: Path
    port: int = field(default_factory=free_port)
    executable: str = "mosquitto"
    extra_config: str = ""  # more mosquitto.conf lines (bench.flood lifts the broker's limits)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def version(self) -> str:
        """mosquitto's version, for the report (``mosquitto -h`` prints it on its first line)."""
        out = subprocess.run([self.executable, "-h"], capture_output=True, text=True, check=False)
        first = (out.stdout or out.stderr).splitlines()[:1]
        return first[0].strip() if first else "unknown"

    def start(self) -> Mosquitto:
        exe = shutil.which(self.executable) or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if exe is None:
            raise RuntimeError("mosquitto is not installed: run `make mosquitto`")
        self.executable = exe
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                        f"persistence false\nlog_dest stderr\n{self.extra_config}")
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 — the child owns it
        self.process = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
