"""The private mosquitto of ``serve`` without a broker URL: Debian's broker as the station's child.

Configured, persisted and logged under ``<data dir>/broker``. It is the broker a charger runs, minus
TLS, passwords and the ACL: MQTT 5 and 3.1.1 clients (``mosquitto_rr`` included), and sessions with
their queued requests that survive restarts of the station, because mosquitto saves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from ..config import ConfigError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # mosquitto listens within milliseconds; this bounds a broken installation
STOP_TIMEOUT_S = 5.0  # it saves its sessions when it stops: tiny for a test station
LOG_ROTATE_BYTES = 1024 * 1024  # every start appends to mosquitto.log; keep one older file beyond this
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_POLL_S = 0.02


def find_mosquitto() -> str | None:
    """The mosquitto binary: on PATH, or where Debian puts it (/usr/sbin is not on a user's PATH)."""
    found = shutil.which("mosquitto")
    if found is None and os.access("/usr/sbin/mosquitto", os.X_OK):
        found = "/usr/sbin/mosquitto"
    return found


@asynccontextmanager
async def private_mosquitto(binary: str, host: str, port: int, broker_dir: Path) -> AsyncIterator[str]:
    """Run mosquitto as our child on host:port, with its files in ``broker_dir``; yields its URL."""
    broker = PrivateMosquitto(binary, host, port, broker_dir)
    await broker.start()
    try:
        yield broker.url
    finally:
        await broker.stop()


class PrivateMosquitto:
    """One mosquitto child process: configuration, pid file, persistence and log in one directory.

    It must never outlive the station holding the port, or the next ``make run`` could not start:
    the station terminates it when it stops, the kernel sends it SIGTERM when the station dies
    (Linux parent-death signal), and a start first ends one that a pid file says is still running.
    That last step must not end the broker of a station that *is* running (a second ``make run``
    in another terminal): a station holds a lock on the directory while it runs, which the kernel
    releases when it dies, and a start that cannot take it stops there.
    """

    def __init__(self, binary: str, host: str, port: int, broker_dir: Path):
        self.binary, self.host, self.port = binary, host, port
        self.dir = broker_dir.resolve()
        self.conf = self.dir / "mosquitto.conf"
        self.pid_file = self.dir / "mosquitto.pid"
        self.log_file = self.dir / "mosquitto.log"
        self.lock_file = self.dir / "station.lock"
        self.url = f"mqtt://{host}:{port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    def config_text(self) -> str:
        """mosquitto.conf, written anew at every start (the port may differ from the last one)."""
        return (
            "# Written by ocpp-station at every start of `serve` without --mqtt-url: edits are lost.\n"
            "# For trying things out: anonymous, on 127.0.0.1 only. A charger runs its own mosquitto,\n"
            "# see examples/mosquitto.\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 60\n"  # saved at every stop too; this bounds what a kill -9 of mosquitto loses
            # Started as root, mosquitto switches to user "mosquitto", which cannot write the station's
            # 0700 data directory: the sessions would silently not be saved. Ignored when not root.
            f"user {_user_name()}\n"
            "log_dest stderr\n"  # our mosquitto.log: also catches what it says before reading this file
            "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
        )

    async def start(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._take_lock()
        try:
            await self._start()
        except BaseException:
            await self.stop()  # whatever got started, and the lock
            raise

    async def _start(self) -> None:
        await self._end_leftover()
        if _accepts(self.host, self.port):
            raise ConfigError(
                f"cannot start the embedded broker: {self.host}:{self.port} is already in use, perhaps by the "
                f"system's mosquitto service (Debian starts one when the package is installed). Use that broker "
                f"with --mqtt-url mqtt://{self.host}:{self.port}, stop it (systemctl disable --now mosquitto), "
                f"or choose another --embedded-port")
        self.conf.write_text(self.config_text(), "utf-8")
        self._rotate_log()
        with open(self.log_file, "ab") as log_out:
            # Popen here, on the event loop's thread, not in a worker thread: the parent-death signal
            # fires when the *thread* that forked the child ends, and this one lasts as long as we do.
            # A session of its own: the Ctrl-C of a terminal reaches the station only, which stops
            # its MQTT link first and the broker after it.
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.conf)], stdin=subprocess.DEVNULL, stdout=log_out, stderr=log_out,
                cwd=self.dir, start_new_session=True, preexec_fn=_parent_death_signal())
        self.pid_file.write_text(f"{self._process.pid}\n", "utf-8")
        await self._wait_until_listening()
        log.warning("embedded MQTT broker listening on %s: a private mosquitto (MQTT 5 and 3.1.1, no "
                    "authentication, data in %s), for trying things out only; a charger runs its own "
                    "mosquitto, see examples/mosquitto", self.url, self.dir)

    async def _wait_until_listening(self) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not _accepts(self.host, self.port):
            status = self._process.poll()
            if status is not None:
                raise ConfigError(f"the embedded mosquitto exited at start (status {status}); the end of "
                                  f"{self.log_file}:\n{self._log_tail()}\n(--embedded-broker amqtt runs "
                                  f"without mosquitto, MQTT 3.1.1 only)")
            if loop.time() > deadline:
                raise ConfigError(f"the embedded mosquitto did not listen on {self.host}:{self.port} within "
                                  f"{START_TIMEOUT_S:g} s; the end of {self.log_file}:\n{self._log_tail()}")
            await asyncio.sleep(_POLL_S)

    async def stop(self) -> None:
        """Terminate mosquitto (it saves the sessions) and wait for it; kill it if it hangs."""
        process, self._process = self._process, None
        try:
            if process is None:
                return
            if process.poll() is None:
                process.terminate()
                try:
                    await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.warning("the embedded mosquitto did not stop within %.0f s: killed (its sessions since "
                                "the last autosave are lost)", STOP_TIMEOUT_S)
                    process.kill()
                    await asyncio.to_thread(process.wait)
            self.pid_file.unlink(missing_ok=True)
            log.debug("embedded mosquitto (pid %d) stopped with status %s", process.pid, process.returncode)
        finally:
            self._release_lock()

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, and no leftover is ended either (see _is_ours)
            return
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by mosquitto
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"another ocpp-station already runs the embedded broker of {self.dir}: stop it, "
                              f"or give this one another --data-dir") from None
        self._lock = fd

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            os.close(lock)  # the kernel drops the lock with the last descriptor (and when we die)

    async def _end_leftover(self) -> None:
        """End a mosquitto of an earlier run that still holds our directory (and most likely the port).

        Only a process whose command line is mosquitto with *our* configuration file: a pid is reused.
        """
        try:
            pid = int(self.pid_file.read_text("utf-8").strip())
        except (OSError, ValueError):
            return
        if not self._is_ours(pid):
            self.pid_file.unlink(missing_ok=True)
            return
        log.warning("a mosquitto of an earlier run (pid %d) still runs on %s: terminating it", pid, self.dir)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_TIMEOUT_S
        while self._is_ours(pid):
            if loop.time() > deadline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                break
            await asyncio.sleep(_POLL_S)
        self.pid_file.unlink(missing_ok=True)

    def _is_ours(self, pid: int) -> bool:
        try:  # Linux; elsewhere we cannot tell a leftover from a stranger, so we leave it alone
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False  # gone (a zombie has an empty command line: gone too)
        return bool(args) and os.path.basename(args[0]) == b"mosquitto" and os.fsencode(self.conf) in args

    def _rotate_log(self) -> None:
        try:
            if self.log_file.stat().st_size > LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))
        except FileNotFoundError:
            pass

    def _log_tail(self, lines: int = 10) -> str:
        try:
            text = self.log_file.read_bytes()[-4000:].decode("utf-8", "replace")
        except OSError as error:
            return f"(cannot read it: {error.strerror})"
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _user_name() -> str:
    """Who we run as: the user mosquitto must stay, so it can write the directory we created."""
    try:
        import pwd  # the effective user, not $USER/$LOGNAME, which `su` leaves pointing elsewhere

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return getpass.getuser()


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send the child SIGTERM when we die, even of kill -9; None elsewhere.

    libc is loaded here, in the parent: the child runs only the prctl call between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # we died before the prctl: no signal will come
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True
