"""The package's layers: dependencies point one way, and no module imports itself back.

Every import counts: module level, inside functions, and under
``TYPE_CHECKING``. Layers, from the bottom:

0. ``vocabulary``, ``_diagnostics``, ``_version``, ``_genuine``, ``_numbers``: words,
   self-diagnostics, and whether a library's function is still its own
1. ``fields``: coercion and redaction (pure, no OpenTelemetry)
2. ``_config``: the event path's settings
3. ``otel``: everything that touches the OpenTelemetry API and SDK
4. ``channels``: where one event goes
5. ``core``: operations, steps, retries
6. ``export``: configure, pipeline, batch processors
7. ``integrations``, ``testing``, ``bridges``: code around opslog
8. ``cli``: the command line and its demos
9. ``opslog`` itself and ``__main__``
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "opslog"

LAYERS = [
    (
        "opslog.vocabulary",
        "opslog._diagnostics",
        "opslog._version",
        "opslog._genuine",
        "opslog._numbers",
    ),
    ("opslog.fields",),
    ("opslog._config",),
    ("opslog.otel",),
    ("opslog.channels",),
    ("opslog.core",),
    ("opslog.export",),
    ("opslog.integrations", "opslog.testing", "opslog.bridges"),
    ("opslog.cli",),
    ("opslog", "opslog.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return found


def imports_of(module: str) -> set[str]:
    """The opslog modules ``module`` imports, anywhere in its text."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            # "from . import x" imports the module x when there is one.
            targets = [
                f"{root}.{a.name}" if f"{root}.{a.name}" in MODULES else root for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("opslog") and target != module:
                found.add(target)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_belongs_to_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_or_sideways(module: str) -> None:
    upward = sorted(t for t in GRAPH[module] if layer_of(t) > layer_of(module))
    assert not upward, f"{module} (layer {layer_of(module)}) imports higher layers: {upward}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if target == "opslog" and module.startswith("opslog."):
                continue  # a package's parent, named only to reach a sibling
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_fields_do_not_touch_opentelemetry() -> None:
    for module, path in MODULES.items():
        if not module.startswith("opslog.fields"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            assert not any(n.startswith("opentelemetry") for n in names), module
