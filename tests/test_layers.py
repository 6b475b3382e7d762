"""The shape of the package: layers import downwards only, and no module grows past a page count."""

from __future__ import annotations

import ast
from pathlib import Path

import ocpp16

ROOT = Path(ocpp16.__file__).parent
# The generated TypedDicts are one long table by nature.
GENERATED = {"ocpp16.types"}
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every ocpp16 module ``name`` imports, at any depth of its code (TYPE_CHECKING included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            # The longest known module that the target names.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("ocpp16"):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_circle() -> None:
    """No module of ocpp16 imports, directly or not, a module that imports it back.

    The package root and the command line only ever sit on top, so they are left out.
    """
    graph = {
        name: {t for t in targets if t != "ocpp16"}
        for name, targets in _graph().items()
        if name != "ocpp16"
    }
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in trail:
                circles.append([*trail[trail.index(target) :], target])
            elif len(trail) < 30:
                visit(target, [*trail, target])

    for name in sorted(graph):
        visit(name, [name])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles[:5])


def test_the_sans_io_layers_import_no_io() -> None:
    """The protocol core and the handshake rules import no asyncio, websockets or pyee."""
    for name in ("ocpp16.protocol", "ocpp16.handshake", "ocpp16._json", "ocpp16.validation"):
        source = _modules()[name].read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for module in names:
                    assert module.split(".")[0] not in {"asyncio", "websockets", "pyee"}, (
                        f"{name} imports {module}"
                    )


def test_the_handshake_imports_only_errors() -> None:
    """ocpp16.handshake depends on nothing of ocpp16 but the exception tree."""
    assert _graph()["ocpp16.handshake"] <= {"ocpp16.errors"}


def test_no_library_module_is_over_800_lines() -> None:
    """Each module of the library (the generated types aside) stays under 800 lines."""
    too_long = {
        name: n
        for name, path in _modules().items()
        if name not in GENERATED
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long


# What ocpp16 reads of websockets' and pyee's private parts, or how it steps their
# coroutines: allowed in one module only.
_PRIVATE_USES = ("._emit_run", "._events", ".send(None)", "send_context", "._add_event_handler")


def test_one_module_touches_third_party_privates() -> None:
    """Only ocpp16._internals reads private names of websockets or pyee or steps their coroutines."""
    offenders = {
        name
        for name, path in _modules().items()
        if name != "ocpp16._internals"
        and any(use in path.read_text(encoding="utf-8") for use in _PRIVATE_USES)
    }
    assert not offenders
