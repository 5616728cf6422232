"""The shape of the house, checked: dependencies point inward, no cycles, a core without I/O libraries.

DESIGN: a pure core (``rpc/``, ``handlers/``, ``station/``, the CSMS ``session``) behind thin doors.
Every import in the package, at module level or inside a function, is read with :mod:`ast`, so a
cycle hidden in a late import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ocpp_station"
CORE = ("ocpp_station.rpc", "ocpp_station.handlers", "ocpp_station.station", "ocpp_station.csms.session",
        "ocpp_station.csms.frames", "ocpp_station.versions", "ocpp_station.errors")
IO_LIBRARIES = {"asyncio", "websockets", "paho", "aiomqtt", "amqtt", "socket", "ssl", "threading"}


def _module_name(path: Path) -> str:
    parts = ["ocpp_station", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever in the file the import is."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` names a module
    return found


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: {i for i in _imports(path) if i in MODULES and i != name} for name, path in MODULES.items()}


def test_the_import_graph_has_no_cycles() -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " → ".join([*visiting[visiting.index(module):], module])
        visiting.append(module)
        for imported in sorted(GRAPH[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


def test_the_core_imports_no_network_or_event_loop_library() -> None:
    for name, path in MODULES.items():
        if not name.startswith(CORE):
            continue
        used = {i.split(".")[0] for i in _imports(path)} & IO_LIBRARIES
        assert not used, f"{name} imports {', '.join(sorted(used))}: the core does no I/O of its own"


def test_dependencies_point_inward() -> None:
    """station/ knows nothing of rpc, handlers, the doors or the composition root (DESIGN rule 1)."""
    outer = ("ocpp_station.rpc", "ocpp_station.handlers", "ocpp_station.api", "ocpp_station.csms",
             "ocpp_station.app", "ocpp_station.cli", "ocpp_station.client")
    for name, imported in GRAPH.items():
        if name.startswith("ocpp_station.station"):
            wrong = sorted(i for i in imported if i.startswith(outer))
            assert not wrong, f"{name} imports {wrong}"
        if name.startswith(("ocpp_station.rpc", "ocpp_station.handlers")):
            wrong = sorted(i for i in imported if i.startswith(("ocpp_station.api", "ocpp_station.csms",
                                                                 "ocpp_station.app")))
            assert not wrong, f"{name} imports {wrong}"


def test_the_station_process_loads_no_client_library() -> None:
    """``serve`` imports the CLI module, which declares every command; the OEM's and the fleet's clients
    (aiomqtt, their modules) are imported only when one of their commands runs: a charger's memory
    (issue 20: resident memory) is not spent on tools it never runs."""
    import subprocess
    import sys

    probe = ("import sys, ocpp_station.cli, ocpp_station.app, ocpp_station.api.mqtt, ocpp_station.csms.link; "
             "print(sorted(m for m in ('aiomqtt', 'ocpp_station.client', 'ocpp_station.fleet') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
