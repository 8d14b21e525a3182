"""The house rules of docs/ARCHITECTURE.md, read off the code's own imports."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "pipeline", "service")
# The `polku` entry point: the one module allowed to join the offline and online halves.
ENTRY_POINT = "pipeline.cli"
# The one module that talks to MLflow, and the pyfunc entry MLflow loads it through.
MLFLOW_MODULES = ("models.registry", "models.pyfunc_entry")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


@cache
def _imports() -> dict[str, set[str]]:
    """Every module of the packages and what it imports, at top level or inside functions.

    `from package import module` counts as importing that module, not the package's
    `__init__` (which is what Python runs first, but re-exports are not a cycle).
    """
    sources = _sources()
    out: dict[str, set[str]] = {}
    for name, path in sources.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{a.name}" for a in node.names} & set(sources)
                names.update(submodules or {node.module})
        out[name] = names
    return out


def _internal_edges() -> dict[str, set[str]]:
    modules = set(_imports())
    return {m: {n for n in names if n in modules and n != m} for m, names in _imports().items()}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_models_imports_neither_pipeline_nor_service() -> None:
    crossing = {
        (m, n)
        for m, names in _imports().items()
        if _top(m) == "models"
        for n in names
        if _top(n) in ("pipeline", "service")
    }
    assert crossing == set()


def test_only_the_entry_point_joins_pipeline_and_service() -> None:
    crossing = {
        (m, n)
        for m, names in _imports().items()
        for n in names
        if {_top(m), _top(n)} == {"pipeline", "service"} and m != ENTRY_POINT
    }
    assert crossing == set()
    assert any(_top(n) == "service" for n in _imports()[ENTRY_POINT])


def test_only_the_registry_talks_to_mlflow() -> None:
    talking = {m for m, names in _imports().items() if any(_top(n) == "mlflow" for n in names)}
    assert talking <= set(MLFLOW_MODULES)


def test_no_import_cycles() -> None:
    edges = _internal_edges()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_folder_is_described_in_the_architecture_map() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    described = set(re.findall(r"\*\*`([a-z_/]+)/`\*\*", text))
    folders = {
        str(init.parent.relative_to(ROOT))
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert folders <= described, sorted(folders - described)
    assert described - {"data", "notebooks", "bench", "tests"} <= folders
