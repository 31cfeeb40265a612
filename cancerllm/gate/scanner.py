"""`Gate`: the note index and allow-lists of one cohort, and the scan of texts, notebooks (cell sources and
text outputs), built-book files and whole run directories (rules 1 and 2)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np

from ..errors import LeakError
from .rules import (_BARE_NUMBER, _DIGITS, _ID_TOKEN, _TOKEN, COMMON_PATIENTS, MIN_WORDS, NGRAM, PATTERNS, Hit,
                    _windows, manifest_values, normalise, own_source_texts, strip_html, tokens)


class Gate:
    """The note index and allow-lists of one cohort; `scan` a run, `check` it (raises LeakError)."""

    def __init__(self, notes, general=None, manifest: dict | None = None, own_texts: list[str] | None = None):
        """notes: DataFrame with patient_id, text (and note_id); general: DataFrame with text (each row counts
        as its own patient); manifest: the run's manifest (its strings are allowed identifiers)."""
        per_doc: list[int] = []  # each patient's (or general note's) distinct windows, concatenated
        numbers: set[str] = set()
        docs = [texts for _, texts in notes.groupby("patient_id", sort=False)["text"]]
        docs += [[t] for t in ([] if general is None else general["text"])]
        for texts in docs:
            grams = set()
            for text in texts:
                text = normalise(str(text))
                grams.update(_windows(tokens(text)))
                numbers.update(_DIGITS.findall(text))
            per_doc.extend(grams)
        self.keys, self.counts = np.unique(np.fromiter(per_doc, dtype=np.int64, count=len(per_doc)), return_counts=True)
        self.numbers = numbers
        own = own_source_texts() if own_texts is None else own_texts
        self.own_text = "\n".join(own).lower()
        self.own_grams = {h for t in own for h in _windows(tokens(t))}
        ids = set()
        for col in ("patient_id", "note_id"):
            if col in notes.columns:
                ids.update(str(v).lower() for v in notes[col])
        self.ids = {i for i in ids if len(i) >= 5 and any(ch.isdigit() for ch in i)
                    and not (i.isdigit() and len(i) < 7)}
        self.allowed = manifest_values(manifest or {})

    # ------------------------------------------------------------------------------ one text
    def scan_text(self, text: str, file: str, where=None) -> list[Hit]:
        """Findings in one normalised text, in text order. `where` is a fixed location ("cell[2] output[0]");
        without it the location is the line of the finding in `text`."""
        found = sorted(self._spans(text) + self._identifiers(text))
        return [Hit(file, where if where is not None else f"line {text.count(chr(10), 0, at) + 1}", kind, n)
                for at, kind, n in found]

    def _spans(self, text: str) -> list[tuple[int, str, int]]:
        """Rule 1: maximal runs of indexed 8-token windows, as (offset, kind, length in tokens)."""
        low = text.lower()
        found = [(m.start(), m.group(0)) for m in _TOKEN.finditer(low)]
        toks = [t for _, t in found]
        words = np.cumsum([0] + [not t.isdigit() for t in toks])
        out, start, end, common = [], None, None, True
        for i, (h, n) in enumerate(self._patients(_windows(toks))):
            if not n or words[i + NGRAM] - words[i] < MIN_WORDS or h in self.own_grams:
                continue
            if start is not None and i > end:  # a gap: the previous span is complete
                out.append((found[start][0], "common template" if common else "note span", end - start))
                start = None
            if start is None:
                start, common = i, True
            end = i + NGRAM
            common = common and n >= COMMON_PATIENTS
        if start is not None:
            out.append((found[start][0], "common template" if common else "note span", end - start))
        return out

    def _identifiers(self, text: str) -> list[tuple[int, str, int]]:
        """Rule 2, as (offset, kind, length in characters)."""
        out, taken = [], []  # taken: spans already reported, so "MRN 0123456" is one finding, not two
        allowed = self._allowed_spans(text)

        def new(m):
            return (not any(a <= m.start() < b for a, b in taken) and m.group(0).lower() not in self.own_text
                    and not any(a <= m.start() and m.end() <= b for a, b in allowed))

        for kind, pat in PATTERNS:
            for m in pat.finditer(text):
                if new(m):
                    out.append((m.start(), kind, len(m.group(0))))
                    taken.append(m.span())
        for m in _BARE_NUMBER.finditer(text):
            if (m.group(0).startswith("0") or m.group(0) in self.numbers) and new(m):
                out.append((m.start(), "MRN-like number", len(m.group(0))))
        for m in _ID_TOKEN.finditer(text.lower()):
            if {m.group(0), *re.split(r"[._]", m.group(0))} & self.ids and new(m):
                out.append((m.start(), "cohort id", len(m.group(0))))
        return out

    def _patients(self, hashes: list[int]) -> list[tuple[int, int]]:
        """(hash, number of patients whose notes contain the window) for each window."""
        if not hashes:
            return []
        q = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
        pos = np.minimum(np.searchsorted(self.keys, q), max(len(self.keys) - 1, 0))
        n = np.where(self.keys[pos] == q, self.counts[pos], 0) if len(self.keys) else np.zeros(len(q), int)
        return list(zip(hashes, n.tolist()))

    def _allowed_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the manifest's allowed values occur whole in `text`: a match inside one is run metadata. A match
        elsewhere is not excused by equalling part of one (the run's start date printed alone is a date)."""
        low, spans = text.lower(), []
        for value in self.allowed:
            at = low.find(value)
            while at >= 0:
                spans.append((at, at + len(value)))
                at = low.find(value, at + 1)
        return spans

    # ------------------------------------------------------------------------------ files
    def scan_notebook(self, path: Path, rel: str) -> list[Hit]:
        """Every cell source and every text output of one .ipynb (images skipped)."""
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        hits = []
        for ci, cell in enumerate(nb.get("cells", [])):
            hits += self.scan_text(normalise(_join(cell.get("source", ""))), rel, f"cell[{ci}] source")
            for oi, out in enumerate(cell.get("outputs", [])):
                for text in _output_texts(out):
                    hits += self.scan_text(text, rel, f"cell[{ci}] output[{oi}]")
        return hits

    def scan_file(self, path: Path, rel: str) -> list[Hit]:
        path = Path(path)
        if path.suffix == ".ipynb":
            return self.scan_notebook(path, rel)
        raw = path.read_text(encoding="utf-8", errors="replace")
        return self.scan_text(strip_html(raw) if path.suffix == ".html" else normalise(raw), rel)

    def scan(self, run_dir: Path, targets: list[Path] | None = None) -> list[Hit]:
        """Findings in `targets` (default: the run's executed notebooks and its built book, where present)."""
        run_dir = Path(run_dir)
        targets = targets or [run_dir / "notebooks", run_dir / "book" / "_build"]
        hits = []
        for path in sorted(f for t in targets for f in _publishable(Path(t))):
            hits += self.scan_file(path, _rel(path, run_dir))
        return hits

    def check(self, run_dir: Path, targets: list[Path] | None = None, remove: Path | None = None) -> None:
        """Raise LeakError listing every finding (after deleting `remove`, the built HTML); else return."""
        hits = self.scan(run_dir, targets)
        if not hits:
            return
        removed = ""
        if remove is not None:
            removed = f"; {remove} was deleted" if Path(remove).exists() else "; nothing was built"
            shutil.rmtree(remove, ignore_errors=True)
        raise LeakError(f"publishing gate: {len(hits)} finding(s) in {run_dir}{removed}. "
                        f"Matched text is not shown; open each location:\n" + "\n".join(f"  {h}" for h in hits))


def _join(src) -> str:
    return "".join(src) if isinstance(src, list) else str(src)


def _output_texts(out: dict) -> list[str]:
    if out.get("output_type") == "stream":
        return [normalise(_join(out.get("text", "")))]
    if out.get("output_type") == "error":
        parts = [str(out.get("ename", "")), str(out.get("evalue", "")), *out.get("traceback", [])]
        return [normalise("\n".join(parts))]
    texts = []
    for mime, data in (out.get("data") or {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            body = _join(data) if not isinstance(data, (dict, int, float)) else json.dumps(data)
            texts.append(strip_html(body) if mime == "text/html" else normalise(body))
    return texts


def _publishable(target: Path):
    if target.is_file():
        yield target
        return
    if not target.is_dir():
        return
    for path in target.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".ipynb", ".md", ".txt", ".js") and "_static" not in path.parts:
            yield path


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
