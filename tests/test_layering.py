"""Imports go one way: a lower layer never imports a higher one (DESIGN.md, Layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "actorbus"

# The private top-level modules of actorbus, lowest layer first. A module may
# import from its own layer and the layers below it.
LAYERS: list[set[str]] = [
    {
        "_errors",
        "_topic",
        "_ids",
        "_journal_keys",
        "_message",
        "_mailbox",
        "_backoff",
        "_version",
        "_codec",
        "_trace",
    },
    {"_backend"},  # the async library's primitives and a worker thread: above the pure leaves
    {"_log"},
    {"_state"},
    {"_models"},
    {"_actor"},
    {"_bus"},
    {"_ui"},  # the log viewer: reads logs through `_log` only
    {"_cli", "testing", "__main__", "otel"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _top(module: Path) -> str:
    return module.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_tops(module: Path) -> list[tuple[int, str]]:
    """Return (line, top-level actorbus part) for each actorbus import in ``module``."""
    tree = ast.parse(module.read_text(), str(module))
    depth = len(module.relative_to(PACKAGE).parts) - 1  # packages the module sits in
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "actorbus":
                    found.append((node.lineno, parts[1] if len(parts) > 1 else ""))
            elif node.level == depth + 1:  # relative to the actorbus package itself
                target = (node.module or "").split(".")[0]
                names = [alias.name for alias in node.names] if not target else [target]
                found.extend((node.lineno, name) for name in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "actorbus":
                    found.append((node.lineno, parts[1] if len(parts) > 1 else ""))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_its_layer_and_below(module: Path) -> None:
    own = _top(module)
    assert own in RANK, f"{own} is not placed in a layer; add it to LAYERS"
    for line, target in _imported_tops(module):
        assert target in RANK, (
            f"{module.name}:{line} imports actorbus{'.' + target if target else ''}: "
            "private modules import private modules, never the public facade"
        )
        assert RANK[target] <= RANK[own], (
            f"{module.relative_to(ROOT)}:{line} imports {target} (layer {RANK[target]}) from "
            f"{own} (layer {RANK[own]}): lower layers must not import higher ones"
        )


def test_ready_made_actors_use_only_the_public_api() -> None:
    for module in sorted((ROOT / "actors").rglob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                assert not (
                    parts[0] == "actorbus" and len(parts) > 1 and parts[1].startswith("_")
                ), f"{module.name}:{node.lineno} imports private {node.module}"


# What a pure leaf may not import: threads, event loops, sockets, files, processes.
# (anyio is allowed: the mailbox waits on its events, which is no I/O.)
IMPURE = frozenset(
    {
        "_thread",
        "asyncio",
        "concurrent",
        "io",
        "mmap",
        "multiprocessing",
        "nats",
        "httpx",
        "pathlib",
        "queue",
        "selectors",
        "shutil",
        "signal",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "tempfile",
        "threading",
        "trio",
    }
)
LEAVES = sorted(PACKAGE / f"{name}.py" for name in LAYERS[0])


def _foreign_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("module", LEAVES, ids=lambda p: p.name)
def test_leaves_are_pure(module: Path) -> None:
    # Issue 15: _backend (which starts a thread) sat among the leaves.
    tree = ast.parse(module.read_text(), str(module))
    impure = [f"{module.name}:{line} imports {name}" for line, name in _foreign_imports(tree)]
    assert not [line for line in impure if line.rsplit(" ", 1)[1] in IMPURE], impure
    opens = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
    ]
    assert not opens, f"{module.name} opens files at lines {opens}"


def test_the_cli_reads_logs_through_the_log_packages_interface() -> None:
    # Issue 15: the CLI imported private modules of _log (its reader, its JetStream
    # connection); it may import only what actorbus._log itself exports.
    import actorbus._log

    exported = set(actorbus._log.__all__)
    found = []
    for module in sorted((PACKAGE / "_cli").rglob("*.py")):
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            parts = node.module.split(".")
            target = parts[1:] if node.level == 0 and parts[0] == "actorbus" else parts
            if node.level in (0, 2) and target[:1] == ["_log"]:
                if len(target) > 1:
                    found.append(f"{module.name}:{node.lineno} imports {node.module}")
                found.extend(
                    f"{module.name}:{node.lineno} imports {alias.name}, not in _log.__all__"
                    for alias in node.names
                    if alias.name not in exported
                )
    assert not found, found
