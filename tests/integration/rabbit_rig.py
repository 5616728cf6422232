"""A two-node RabbitMQ cluster on loopback (Debian's ``rabbitmq-server`` 3.10, MQTT plugin), for the tests.

The back office's side of a fleet runs on a clustered broker, not on one mosquitto: stations are bridged
to one node, the fleet client talks to the other, and what crosses the cluster is what a real deployment
sees. :class:`RabbitCluster` starts two nodes from nothing, each with its own node name, ports, database,
log and plugin file under one temporary directory, with a private epmd. Node 2 joins node 1 in one of two
ways (``join``): ``"discovery"`` (the default, ~17 s on 2 idle cores) boots node 2 once node 1 is up, with
node 1 listed in its config (``cluster_formation.classic_config``), so it joins at its first boot;
``"cli"`` (~19-24 s) boots both side by side, then ``rabbitmqctl stop_app; join_cluster; start_app``
on node 2 — the manual way, one more boot of node 2's app.

Nothing outside the temporary directory is touched: ``RABBITMQ_CONF_ENV_FILE`` points at an empty file
(``/etc/rabbitmq/rabbitmq-env.conf`` could name a node), HOME holds the cluster's own Erlang cookie
(``/var/lib/rabbitmq/.erlang.cookie`` is not read), and epmd listens on a free port of 127.0.0.1
(``ERL_EPMD_PORT``), so a system node (``rabbit@<host>`` on 4369/5672/25672, which Debian's postinst
starts where systemd runs) neither sees nor disturbs these nodes.

Users (created from a definitions file node 1 loads at boot: no CLI round trip per user; node 2 takes
them over when it joins, users live in the cluster's shared database):

- one per station, named as the station's identity: it may publish only ``stations/<id>/josev/cs``,
  ``stations/<id>/josev/status`` and ``stations/<id>/bridge``, and read only ``stations/<id>/cs/josev``;
- ``backoffice``: publishes requests to any station (``stations/<any>/cs/josev``), reads everything
  under ``stations/``.

RabbitMQ's topic authorisation (``set_topic_permissions``, exchange ``amq.topic``, the one the MQTT
plugin publishes to) is checked against the AMQP routing key, not the MQTT topic: the plugin turns
``/`` into ``.`` (and the filter wildcards ``+``/``#`` into ``*``/``#``) before matching the regex. So
``stations/CS-R1/josev/cs`` is checked as ``stations.CS-R1.josev.cs`` and the patterns below are
written with ``\\.``. The consequence: a ``.`` inside an identity reads as a level separator there.
The vhost permissions the plugin needs besides (configure/write/read) are on its own queues
(``mqtt-subscription-<client id>qos<n>``) and on ``amq.topic``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import psutil

from tests.support import free_port, wait_until

SBIN = Path("/usr/lib/rabbitmq/bin")  # the real scripts; /usr/sbin's wrappers force HOME=/var/lib/rabbitmq
USER = "rabbitmq"
BACKOFFICE = "backoffice"
START_TIMEOUT = 90.0  # a cold boot takes ~12 s on 2 cores under gVisor; a loaded CI runner may need more
# What the MQTT plugin itself declares, binds and publishes to: every MQTT user needs these.
_PLUGIN_RESOURCES = r"^(amq\.topic|mqtt-subscription-.*)$"


def rabbitmq_missing() -> str | None:
    """Why the cluster cannot run here because something is not installed (for a ``pytest.fail``: ``make
    test`` would install it), or None."""
    if not (SBIN / "rabbitmq-server").exists():
        return "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER} user (Debian's rabbitmq-server package creates it)"
    if shutil.which("runuser") is None:
        return "runuser is missing (util-linux)"
    return None


def not_root() -> str | None:
    """Why the cluster cannot run as this user (for a ``pytest.skip``), or None: the nodes run as the
    rabbitmq user, which takes root (``runuser``); running them as another user is not tried."""
    return None if os.geteuid() == 0 else "the RabbitMQ cluster needs root (it runs the nodes with runuser)"


def station_topic_permissions(identity: str) -> tuple[str, str]:
    """(write, read) regexes on ``amq.topic`` routing keys for a station: its own answers, presence and
    bridge notification out, its own requests in."""
    me = re.escape(identity)
    return rf"^stations\.{me}\.(josev\.(cs|status)|bridge)$", rf"^stations\.{me}\.cs\.josev$"


BACKOFFICE_TOPIC_PERMISSIONS = (r"^stations\.[^.]+\.cs\.josev$", r"^stations\.")


@dataclass
class RabbitNode:
    """One node of the cluster: its name, ports, directories and process."""

    name: str
    amqp_port: int
    dist_port: int
    mqtt_port: int
    base: Path
    process: subprocess.Popen | None = None

    def log_text(self) -> str:
        """The node's own log (boot steps, errors), then what its start script printed."""
        parts = [p.read_text("utf-8", errors="replace") for p in sorted((self.base / "log").glob("*.log"))]
        out = self.base / "stdout.log"
        if out.exists():
            parts.append(out.read_text("utf-8", errors="replace"))
        return "\n".join(parts)

    def accepts_mqtt(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.2).close()
            return True
        except OSError:
            return False


@dataclass
class RabbitCluster:
    """Two RabbitMQ nodes clustered on loopback, MQTT plugin on, a user per station and a back-office user.

    ``start()`` returns once both MQTT listeners accept connections and ``cluster_status`` on node 1 lists
    both nodes running; ``stop()`` stops both nodes and kills whatever of ours is left.
    ``timings`` records how long each phase of the start took (seconds).
    """

    workdir: Path
    stations: tuple[str, ...] = ("CS-R1",)
    nodes: list[RabbitNode] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    join: Literal["discovery", "cli"] = "discovery"
    timings: dict[str, float] = field(default_factory=dict)
    epmd_port: int = 0
    epmd: subprocess.Popen | None = None
    tag: str = field(default_factory=lambda: secrets.token_hex(3))

    # --- addresses -------------------------------------------------------------------------------

    def mqtt_port(self, node: int) -> int:
        """The MQTT port of node 1 or 2."""
        return self.nodes[node - 1].mqtt_port

    def mqtt_url(self, node: int, user: str | None = BACKOFFICE) -> str:
        """``mqtt://user:password@127.0.0.1:port`` of node 1 or 2 (``user=None``: no credentials)."""
        port = self.mqtt_port(node)
        if user is None:
            return f"mqtt://127.0.0.1:{port}"
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{port}"

    # --- start -----------------------------------------------------------------------------------

    def start(self) -> Self:
        """From nothing to a two-node cluster whose MQTT listeners answer (``timings`` says how long)."""
        began = time.monotonic()
        self._prepare()
        self._start_epmd()
        first, second = self.nodes
        try:
            self._start_node(first)
            if self.join == "cli":
                self._start_node(second)  # side by side: both boot alone, then node 2 is reset and joined
                self._wait_booted(self.nodes)
                self.timings["boot"] = time.monotonic() - began
                self.ctl(second, "stop_app")
                self.ctl(second, "join_cluster", first.name)
                self.ctl(second, "start_app")
            else:
                # Node 2 boots once node 1 is up: it finds node 1 in its config and joins it at boot, and
                # its MQTT plugin joins node 1's client-id tracker (a Raft group) at once. Not sooner: node 1's
                # plugin first waits 3-6 s for cluster members; a member that joins during that wait has no
                # leader to join, and both retry 5 s later.
                self._wait_booted([first])
                self.timings["node 1"] = time.monotonic() - began
                self._start_node(second)
            self._wait_booted([second])
            wait_until(lambda: set(self.running_nodes()) == {first.name, second.name},
                       "cluster_status does not list both nodes running", timeout=30)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - began
        return self

    def _prepare(self) -> None:
        """Directories, config, cookie and definitions, owned by the user the nodes run as."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)  # Erlang refuses a cookie file others can read
        (self.workdir / "rabbitmq-env.conf").write_text("")
        self.passwords = {name: secrets.token_hex(8) for name in (*self.stations, BACKOFFICE)}
        ports: set[int] = set()
        while len(ports) < 7:  # free_port() may hand out a port twice in a row
            ports.add(free_port())
        self.epmd_port, *rest = sorted(ports)
        self.nodes = [RabbitNode(name=f"rabbit-{letter}-{self.tag}@localhost", amqp_port=rest[3 * i],
                                 dist_port=rest[3 * i + 1], mqtt_port=rest[3 * i + 2], base=self.workdir / letter)
                      for i, letter in enumerate("ab")]
        definitions = self.workdir / "definitions.json"
        definitions.write_text(json.dumps(self._definitions(), indent=1))
        for index, node in enumerate(self.nodes):
            (node.base / "log").mkdir(parents=True, exist_ok=True)
            (node.base / "mnesia").mkdir(exist_ok=True)
            (node.base / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
            conf = [f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}",
                    f"mqtt.listeners.tcp.default = 127.0.0.1:{node.mqtt_port}",
                    "mqtt.allow_anonymous = false", "mqtt.vhost = /", "mqtt.exchange = amq.topic",
                    "log.console = false", "log.file.level = info"]
            if index == 0:  # node 2 gets the users from node 1 when it joins
                conf.append(f"load_definitions = {definitions}")
            elif self.join == "discovery":  # a blank node joins the nodes its config lists, at boot
                conf += ["cluster_formation.peer_discovery_backend = classic_config",
                         f"cluster_formation.classic_config.nodes.1 = {self.nodes[0].name}"]
            (node.base / "rabbitmq.conf").write_text("\n".join(conf) + "\n")
        account = pwd.getpwnam(USER)
        for path in [self.workdir, *self.workdir.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
        reach = subprocess.run(self._as_user(self._env(), "test", "-w", str(self.workdir)), check=False)
        if reach.returncode != 0:  # e.g. under pytest's tmp_path, whose parents are root's alone (0700)
            raise RuntimeError(f"the {USER} user cannot write {self.workdir}: a parent directory shuts it out")

    def _definitions(self) -> dict:
        """Users, vhost permissions and topic permissions, in the format ``rabbitmqctl export_definitions``
        writes (a plain ``password`` is accepted on import and hashed by the node)."""
        users, permissions, topics = [], [], []
        for name in (*self.stations, BACKOFFICE):
            write, read = (BACKOFFICE_TOPIC_PERMISSIONS if name == BACKOFFICE
                           else station_topic_permissions(name))
            users.append({"name": name, "password": self.passwords[name], "tags": []})
            permissions.append({"user": name, "vhost": "/", "configure": r"^mqtt-subscription-.*",
                                "write": _PLUGIN_RESOURCES, "read": _PLUGIN_RESOURCES})
            topics.append({"user": name, "vhost": "/", "exchange": "amq.topic", "write": write, "read": read})
        return {"vhosts": [{"name": "/"}], "users": users, "permissions": permissions,
                "topic_permissions": topics}

    def _env(self, node: RabbitNode | None = None) -> dict[str, str]:
        """The environment of a node (``node``) or of the CLI (None): the same cookie and epmd."""
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "HOME": str(self.workdir / "home"),
               "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "rabbitmq-env.conf"),
               "ERL_EPMD_PORT": str(self.epmd_port), "ERL_EPMD_ADDRESS": "127.0.0.1"}
        if node is not None:
            env |= {"RABBITMQ_NODENAME": node.name, "RABBITMQ_DIST_PORT": str(node.dist_port),
                    "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"), "RABBITMQ_LOG_BASE": str(node.base / "log"),
                    "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq.conf"),
                    "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.base / "advanced.config"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.base / "enabled_plugins"),
                    "RABBITMQ_PID_FILE": str(node.base / "pid"),
                    # the distribution port on loopback too (it listens on every interface otherwise)
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}
        return env

    def _as_user(self, env: dict[str, str], *command: str) -> list[str]:
        """``command`` as the rabbitmq user (``runuser``; then ``env``, so that HOME is ours, not the
        user's /var/lib/rabbitmq, and nothing else of our environment leaks in), in our work directory:
        Erlang looks for its modules in the working directory first, and in one the rabbitmq user may
        not enter (a root-only checkout, as CI's is) every call prints an error report before its output."""
        return ["runuser", "-u", USER, "--", "env", "-i", f"--chdir={self.workdir}",
                *(f"{k}={v}" for k, v in env.items()), *command]

    def _start_epmd(self) -> None:
        """Our own epmd on a free loopback port, in the foreground: ours to end, not a daemon left behind."""
        self.epmd = subprocess.Popen(
            self._as_user(self._env(), "epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self.epmd_port
        wait_until(lambda: _accepts(port), f"epmd did not listen on {port}", timeout=10)

    def _start_node(self, node: RabbitNode) -> None:
        out = open(node.base / "stdout.log", "ab")  # noqa: SIM115 (the child holds it)
        node.process = subprocess.Popen(self._as_user(self._env(node), str(SBIN / "rabbitmq-server")),
                                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)

    def _wait_booted(self, nodes: list[RabbitNode]) -> None:
        """Until every node's MQTT listener accepts (it opens at the end of the boot); fail with the log
        of a node that died or took too long."""
        deadline = time.monotonic() + START_TIMEOUT
        pending = list(nodes)
        while pending:
            for node in list(pending):
                if node.accepts_mqtt():
                    pending.remove(node)
                elif node.process is None or node.process.poll() is not None:
                    raise RuntimeError(f"{node.name} exited while booting:\n{node.log_text()[-4000:]}")
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{pending[0].name} not up after {START_TIMEOUT} s:\n"
                                   f"{pending[0].log_text()[-4000:]}")
            time.sleep(0.05)  # the poll interval of the wait for the listeners, not a pause instead of one

    # --- control ---------------------------------------------------------------------------------

    def ctl(self, node: RabbitNode | int, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <node> args…`` (about 0.7 s each: an Erlang VM starts per call); its output."""
        target = node if isinstance(node, RabbitNode) else self.nodes[node - 1]
        done = subprocess.run(self._as_user(self._env(), str(SBIN / "rabbitmqctl"), "-q", "-n", target.name, *args),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {target.name}: exit {done.returncode}\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def running_nodes(self, node: int = 1) -> list[str]:
        """The running nodes ``cluster_status`` reports on ``node``."""
        return json.loads(self.ctl(node, "cluster_status", "--formatter", "json"))["running_nodes"]

    def add_station(self, identity: str) -> str:
        """A station user added at run time with the CLI (the definitions file's equivalent); its password.

        ``add_user``, then ``set_permissions`` and ``set_topic_permissions`` side by side."""
        password = secrets.token_hex(8)
        self.ctl(1, "add_user", identity, password)
        write, read = station_topic_permissions(identity)
        with ThreadPoolExecutor(2) as pool:
            jobs = [pool.submit(self.ctl, 1, "set_permissions", "-p", "/", identity,
                                r"^mqtt-subscription-.*", _PLUGIN_RESOURCES, _PLUGIN_RESOURCES),
                    pool.submit(self.ctl, 1, "set_topic_permissions", "-p", "/", identity, "amq.topic", write, read)]
            for job in jobs:
                job.result()
        self.passwords[identity] = password
        return password

    # --- stop ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop both nodes cleanly and side by side, then our epmd; kill what is left. Safe to call twice.

        SIGTERM to beam.smp is RabbitMQ's graceful stop (what ``rabbitmqctl stop`` does, without an Erlang VM
        for the CLI); not to runuser, which would SIGKILL its child 2 s later. After 30 s: SIGKILL."""
        running = [node for node in self.nodes if node.process is not None and node.process.poll() is None]
        for node in running:
            for pid in self._beam_pids(node):
                _signal(pid, signal.SIGTERM)
        for node in running:
            assert node.process is not None
            try:
                node.process.wait(30)
            except subprocess.TimeoutExpired:
                _kill_group(node.process)
        for pid in self._leftover_pids():
            _signal(pid, signal.SIGKILL)
        if self.epmd is not None and self.epmd.poll() is None:
            # To epmd itself, runuser's child: runuser then reaps it and ends (SIGTERM to runuser would
            # leave epmd a zombie of init's).
            for child in psutil.Process(self.epmd.pid).children(recursive=True):
                _signal(child.pid, signal.SIGTERM)
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(self.epmd)

    def _beam_pids(self, node: RabbitNode) -> list[int]:
        """The node's beam.smp: the pid file the node writes at boot, else a search by node name."""
        try:
            return [int((node.base / "pid").read_text().strip())]
        except (OSError, ValueError):
            return self._leftover_pids([node.name.split("@")[0]])

    def _leftover_pids(self, marks: list[str] | None = None) -> list[int]:
        """beam.smp (or anything else) still running with one of our node names or our epmd port."""
        if marks is None:
            marks = [node.name.split("@")[0] for node in self.nodes] + [f"-port {self.epmd_port} "]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline for mark in marks) and int(entry.name) != os.getpid():
                found.append(int(entry.name))
        return found


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process's session group (runuser, the start script, beam.smp and its helpers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
