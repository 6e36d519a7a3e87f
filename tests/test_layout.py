"""The engine's layout: a pipeline of stage packages, each importing only the stages before it.

Stages, in order: inputs -> economics -> model -> solver -> results -> analysis -> engine -> risk -> cli.
Every import counts, at module level or inside a function (a lazy import is still a dependency; only
``if TYPE_CHECKING:`` blocks, which never run, are left out), and
the module graph of ``optimizer``, ``workspace`` and ``ui`` has no cycle. ``optimizer`` never imports
streamlit or pydeck.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["inputs", "economics", "model", "solver", "results", "analysis", "engine", "risk", "cli"]
PACKAGES = ("optimizer", "workspace", "ui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that module ``name`` imports, anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                 for stmt in block.body for n in ast.walk(stmt)}  # annotations only: never run
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        for t in targets:
            # the longest known module the target names (a name imported from a module counts as the module)
            parts = t.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in known:
                    if cand != name:
                        out.add(cand)
                    break
    return out


GRAPH = {n: imports(n, p, set(modules())) for n, p in modules().items()}


def stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "optimizer" or len(parts) < 2 or parts[1] not in STAGES:
        return None
    return STAGES.index(parts[1])


def test_every_engine_module_sits_in_a_stage():
    loose = [m for m in GRAPH if m.startswith("optimizer.") and stage(m) is None and m != "optimizer.__main__"]
    assert loose == [], f"modules outside the stage packages {STAGES}: {loose}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if stage(m) is not None))
def test_a_stage_imports_only_earlier_stages(module):
    later = sorted(t for t in GRAPH[module] if t.startswith("optimizer") and
                   (stage(t) is None and t != "optimizer" or stage(t) is not None and stage(t) > stage(module)))
    later += sorted(t for t in GRAPH[module] if t == "optimizer")  # the package root imports every stage
    assert later == [], f"{module} ({STAGES[stage(module)]}) imports later stages: {later}"


def test_no_import_cycle():
    """Depth-first search over every import (module-level and lazy)."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(n: str, trail: list[str]) -> None:
        state[n] = 1
        for t in sorted(GRAPH.get(n, ())):
            # importing a submodule runs its packages' __init__ first: a package -> its own submodule is no cycle
            if t.startswith(n + "."):
                continue
            if state.get(t) == 1:
                cycles.append(trail[trail.index(t):] + [t] if t in trail else trail + [t])
            elif t not in state:
                visit(t, trail + [t])
        state[n] = 2

    for n in sorted(GRAPH):
        if n not in state:
            visit(n, [n])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_engine_never_imports_the_front_end():
    bad = []
    for path in (ROOT / "optimizer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("streamlit", "pydeck", "ui")]
    assert bad == []
