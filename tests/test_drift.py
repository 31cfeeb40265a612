"""Drift tests: notebooks take their params through the library's loader; every Config field is documented where
it is defined; the toc and the README name only files that exist; notebooks are committed clean and only call the
library. (Profiles' keys: tests/test_config.py.)"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import re
import tokenize

import pytest
import yaml

from cancerllm.config import REPO_ROOT, STAGES, Config

PARAMS = sorted((REPO_ROOT / "params").glob("*.yaml"))
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def _nb(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_there_are_profiles_and_notebooks():
    assert PARAMS and NOTEBOOKS


# ----------------------------------------------------------------------------- (b) notebook parameters cell
#: the parameters cell: papermill's two parameters, with a comment each (it stays short: no copied defaults)
PARAMETERS_CELL_MAX_LINES = 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameters_cell(path):
    cells = _nb(path)["cells"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert tagged == [0], f"exactly one cell tagged 'parameters', and it is the first; got cells {tagged}"
    assert cells[0]["cell_type"] == "code"
    src = _src(cells[0])
    assert len(src.splitlines()) <= PARAMETERS_CELL_MAX_LINES
    assigned = {}
    for node in ast.parse(src).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), (
            f"parameters cell may hold only `name = literal` lines, got {ast.unparse(node)!r}"
        )
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    # no profile file and no overrides: "run all" runs the Config defaults (the tiny profile, seconds)
    assert assigned == {"params_file": None, "overrides": {}}
    from papermill.translators import PythonTranslator  # papermill parses the cell too: it must see both

    assert [p.name for p in PythonTranslator.inspect({"source": src})] == ["params_file", "overrides"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_builds_config_from_its_parameters(path):
    """The cell after the parameters builds and validates cfg with the library's one loader before anything else."""
    cells = _nb(path)["cells"]
    assert "cfg = load_params(params_file, overrides)" in _src(cells[1])


# ----------------------------------------------------------------------------- (c) committed clean
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    dirty = [
        i for i, c in enumerate(_nb(path)["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert dirty == [], f"cells with outputs or an execution_count: {dirty}"


# ----------------------------------------------------------------------------- (d) toc <-> files
def _toc_files(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


TOC = yaml.safe_load((REPO_ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))
TOC_FILES = _toc_files(TOC)


def test_toc_has_root_and_chapters():
    assert TOC["format"] == "jb-book"
    assert TOC_FILES[0] == TOC["root"]
    assert len(TOC_FILES) == len(set(TOC_FILES)), "duplicate toc entries"


@pytest.mark.parametrize("entry", TOC_FILES)
def test_toc_entry_exists(entry):
    if entry.startswith("chapters/"):
        assert (REPO_ROOT / "notebooks" / f"{entry.removeprefix('chapters/')}.ipynb").is_file()
    else:
        assert (REPO_ROOT / "book" / f"{entry}.md").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_in_toc_and_a_stage(path):
    assert f"chapters/{path.stem}" in TOC_FILES
    assert path.stem in STAGES, "the runner only executes notebooks named in config.STAGES"


def test_toc_chapters_in_stage_order():
    chapters = [e.removeprefix("chapters/") for e in TOC_FILES if e.startswith("chapters/")]
    assert chapters == sorted(chapters, key=STAGES.index)


# ----------------------------------------------------------------------------- (e) README paths
README = REPO_ROOT / "README.md"


FILE_SUFFIXES = (".yaml", ".yml", ".md", ".ipynb", ".py", ".toml")
DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|io|net|edu|gov|ai|dev)$", re.I)


def _readme_paths(text: str) -> list[str]:
    """Repo paths named in backticks: words with a "/" under an existing top-level entry, or with a file suffix.

    Skipped: runs/ (created by a run), ../shared (outside the repo), absolute paths, URLs and domains,
    placeholders (<...>, *, {...}), options. `KEY=path` and `path:line` are reduced to the path.
    """
    top = {p.name for p in REPO_ROOT.iterdir()}
    out = []
    for span in re.findall(r"`([^`\n]+)`", text):
        for word in span.split():
            word = word.split("=", 1)[-1].strip("\"'(),;")
            word = re.sub(r":\d+$|::.*$", "", word)
            has_slash = "/" in word
            word = word.rstrip("/")
            if not word or word.startswith(("runs/", "../", "/", "~", "$", "-", "http")) or word == "runs":
                continue
            if any(ch in word for ch in "<>*{}[]|"):
                continue
            first = word.split("/", 1)[0]
            if DOMAIN.match(first):
                continue
            if word.endswith(FILE_SUFFIXES) or (has_slash and first in top):
                out.append(word)
    return sorted(set(out))


def test_readme_paths_helper():
    text = ("see `params/demo.yaml`, `make book PARAMS=params/tcga.yaml`, `runs/demo/`, `../shared/data`, "
            "`Makefile`, `book/`, `x.py`, `train/dev/test`, `github.com/a/b`, `cancerllm/config.py:12`, "
            "`notebooks/<stage>.ipynb`, `/path/to/notes.parquet`")
    assert _readme_paths(text) == ["book", "cancerllm/config.py", "params/demo.yaml", "params/tcga.yaml", "x.py"]


def _repo_file_names() -> set[str]:
    skip = {".venv", "runs", ".git", "_build", "__pycache__", ".pytest_cache", "node_modules"}
    names = set()
    for _dir, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        names.update(dirs)
        names.update(files)
    return names


def test_readme_paths_exist():
    if not README.is_file():
        pytest.skip("README.md not present")
    paths = _readme_paths(README.read_text(encoding="utf-8"))
    assert paths, "README names no repository paths in backticks"
    names = _repo_file_names()
    # a path with a "/" must exist from the repo root; a bare file name (`config.py`) anywhere in the repo
    missing = [p for p in paths if not ((REPO_ROOT / p).exists() if "/" in p else p in names)]
    assert missing == [], f"README names paths that do not exist: {missing}"


# ----------------------------------------------------------------------------- (f) notebooks only call the library
FORBIDDEN = [re.compile(r"(^|\s)def\s"), re.compile(r"(^|\s)class\s"), re.compile(r"[!%]\s*pip\b")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_define_nothing(path):
    bad = [
        (i, pat.pattern) for i, c in enumerate(_nb(path)["cells"]) if c["cell_type"] == "code"
        for pat in FORBIDDEN if pat.search(_src(c))
    ]
    assert bad == [], f"code cells defining functions/classes or installing packages: {bad}"


# ----------------------------------------------------------------------------- (g) every field documented
def _config_field_comments() -> dict[str, str]:
    """Config field -> its trailing comment in cancerllm/config/fields.py ('' when it has none)."""
    source = (REPO_ROOT / "cancerllm" / "config" / "fields.py").read_text(encoding="utf-8")
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT
    }
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Config")
    out = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = comments.get(node.end_lineno, "")
    return out


def test_config_comment_parser_sees_every_field():
    comments = _config_field_comments()
    assert list(comments) == [f.name for f in dataclasses.fields(Config)]
    assert comments["data_source"] == "synthetic | tcga | custom"


def test_every_config_field_is_documented_where_it_is_defined():
    """The one place a key's documentation lives is the comment after its Config field (profiles say only why
    they differ from the default)."""
    undocumented = [k for k, c in _config_field_comments().items() if not c]
    assert undocumented == []
