"""The layering of DESIGN.md holds: imports point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "journeylens"

# Higher number = higher layer. A module may import its own layer or lower ones.
LAYER = {
    "schema": 0,
    "errors": 0,
    "settings": 0,
    "durations": 0,
    "jsontext": 0,
    "collect": 1,
    "store": 1,
    "identity": 2,
    "enrich": 2,
    "analysis": 2,
    "simulate": 2,
    "stats": 2,
    "predict": 3,
    "feedback": 3,
    "workspace": 3,
    "keyring": 3,
    "privacy": 3,
    "profiles": 3,
    "activate": 4,
    "cli": 5,
    "api": 5,
    "web": 5,
}
# Pure layers must not know the engines, whatever their number.
PURE = {"identity", "enrich", "analysis", "simulate", "predict", "stats", "feedback"}
ENGINES = {"duckdb", "pyspark"}


def part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "journeylens" and len(parts) > 1 else None


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem != "__init__")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_import_only_their_own_layer_or_lower_ones(path):
    relative = path.relative_to(PACKAGE)
    own = relative.parts[0].removesuffix(".py")
    assert own in LAYER, f"{own} is not placed in a layer; add it to LAYER"
    for module in imports(path):
        target = part_of(module)
        if target is not None:
            assert target in LAYER, f"{relative} imports {module}, which has no layer"
            assert LAYER[target] <= LAYER[own], f"{relative} imports upward: {module}"
            if own in PURE:
                assert target not in {"store", "collect"}, f"{relative} imports {module}"
        if own in PURE:
            assert module.split(".")[0] not in ENGINES, f"{relative} imports an engine: {module}"
