"""The library's layers (README "What is where"): every import of cancerllm/ — module level or inside a function —
traced from the source. No import circle; the chapter packages stand side by side on the core and never import
each other; the core never imports a chapter package or an entry point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cancerllm"
CHAPTERS = ("cancerllm.robustness", "cancerllm.retrieval", "cancerllm.efficiency")
ENTRY_POINTS = ("cancerllm.runner", "cancerllm.gate", "cancerllm.cli", "cancerllm.bench", "cancerllm.extract",
                "cancerllm.dryrun", "cancerllm.distributed", "cancerllm.__main__")
CORE = ("cancerllm.config", "cancerllm.data", "cancerllm.provenance", "cancerllm.modeling", "cancerllm.measure",
        "cancerllm.metrics", "cancerllm.stats", "cancerllm.baselines", "cancerllm.normalise", "cancerllm.perturb",
        "cancerllm.memorisation", "cancerllm.instructions", "cancerllm.training", "cancerllm.inference",
        "cancerllm.cases", "cancerllm.pipeline", "cancerllm.evaluation", "cancerllm.calibration")


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The cancerllm modules `name` imports (a package's name when a name inside it is imported)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        for target in targets:
            while target not in mods and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in mods and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_circle():
    graph = _graph()
    index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapters_stand_side_by_side(chapter):
    graph = _graph()
    others = [c for c in CHAPTERS if c != chapter]
    bad = sorted((m, t) for m, ts in graph.items() if _within(m, [chapter]) for t in ts if _within(t, others))
    assert not bad, f"{chapter} imports another chapter package: {bad}"


def test_core_imports_no_chapter_or_entry_point():
    graph = _graph()
    bad = sorted((m, t) for m, ts in graph.items() if _within(m, CORE) for t in ts
                 if _within(t, CHAPTERS + ENTRY_POINTS))
    assert not bad, f"core modules importing upward: {bad}"


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """The tracer sees function-level and relative imports (what a circle through a lazy import looks like)."""
    pkg = tmp_path / "cancerllm"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", pkg)
    graph = _graph()
    assert graph["cancerllm.a"] == {"cancerllm.sub.b"} and graph["cancerllm.sub.b"] == {"cancerllm.a"}
    with pytest.raises(AssertionError, match="import circles"):
        test_no_import_circle()


#: modules that are data tables, not code (the issue's "data tables aside")
DATA_TABLES = {"cancerllm/data/vocabulary.py"}


def test_no_library_module_over_300_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert set(long) <= DATA_TABLES, f"modules over 300 lines: {long}"


def test_notebook_parameter_cells_are_short():
    import nbformat

    for path in sorted((ROOT.parent / "notebooks").glob("*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1 and len(cells[0].source.splitlines()) <= 12, path.name


def test_demo_profile_lists_at_most_35_keys():
    import yaml

    assert len(yaml.safe_load((ROOT.parent / "params" / "demo.yaml").read_text(encoding="utf-8"))) <= 35
