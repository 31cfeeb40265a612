"""Publishing gate: a real-data book is built only if it copies no note text and prints no identifiers.

`runner.build_book` calls it for every run whose manifest does not say `data_is_real: false`: once on the
executed notebooks before building, once on everything under `book/_build` afterwards. Any finding fails the
build with a `LeakError` that lists where (file, cell/output or line), what kind and how long — never the
matched text — and the built HTML is deleted. `python -m cancerllm gate PARAMS` scans a run on demand.
The notes scanned against are the run's own: loaded with the params its manifest records, from input files
that still have the sha256s it records, which every stage's record must share (`recorded_cohort`) — never
the data the current params name. (Stage records written before stages recorded their inputs are not checked.)

What is scanned: every cell source and every text output of `notebooks/*.ipynb` (stream text, text/plain,
text/html, text/markdown and any other text/* type, error name/value/traceback); under `book/_build` every
.html (tags stripped), .ipynb (as notebooks), .md, .txt and .js file (the search index), except `_static/`
(the theme's own assets).

Rules
1. Note spans. Notes and scanned text are normalised the same way (HTML entities decoded, ANSI colour codes
   dropped, lower case, word tokens `[a-z0-9]+`). Every 8-token window of every input note — the cohort's
   notes and its general clinical corpus (MTSamples for TCGA) — is hashed into one index, with the number of
   distinct patients whose notes contain it. A window of scanned text that is in the index is a finding unless
   the same window occurs in the project's own source text (book/*.md, the cell sources of notebooks/*.ipynb,
   cancerllm/**/*.py): that text is public already, and it is where shared vocabulary comes from (question
   templates, our methods prose, the synthetic generator's gross-description phrases). Overlapping windows
   merge into one finding whose length is the span in tokens (>= 8). A window counts only if at least
   MIN_WORDS of its tokens contain a letter: on the TCGA book a table header "0 1 2 ... 19" matched a numbered
   list in an MTSamples note, and runs of numbers are rule 2's business.
   A span whose windows all occur in >= COMMON_PATIENTS patients' notes is reported as "common template",
   otherwise as "note span". Both fail the build: a template sentence identifies nobody, but a book that
   prints one is printing note text, and the same code path prints the patient-specific sentence next to it
   on another run. The label only tells the reviewer which case it is. Measured on TCGA (892 reports): 95 % of
   the 436k windows occur in one patient's report only; 6 windows are shared with our source text.
2. Identifiers (regular expressions on the same normalised text, case-insensitive): dates (M/D/YY[YY],
   MM-DD-YYYY, YYYY-MM-DD, DD-Mon-YYYY, "January 5, 2010"), US phone numbers, MRN-like numbers (a keyword —
   MRN, MR#, medical record, patient id, account — followed by digits), accession-like numbers (S10-12345,
   SP-10-1234), e-mail addresses, TCGA barcodes (TCGA-XX-XXXX), and the cohort's own patient and note ids
   (those of >= 5 characters with a digit; all-digit ids only from 7 digits).
   Bare 7-10 digit numbers are findings only when zero-padded (0123456) or when the same number occurs in an
   input note: parameter and token counts in our tables (1661314) are neither, and comma-grouped or decimal
   numbers (7,241,732,096; 0.1234567) are never read as one number.
   Allowed: a match inside a whole occurrence of one of the run's manifest fields that the runner writes
   itself (start/finish timestamps, git commit and its short form, params hash, input sha256s — each in its own
   form), or one that occurs verbatim in the project's own source text. Other manifest strings (run name,
   paths, params) allow nothing: a run named after a barcode must not exempt that barcode in the book.
3. Memorisation (`check_memorisation`, after rules 1-2 pass): a real-data run's stage 20 must have recorded the
   memorisation check (cancerllm/memorisation.py), and no model's verbatim-continuation rate on its training
   notes may exceed its rate on held-out notes by more than `memorisation.MAX_EXCESS_RATE`.
Not covered: text inside images (figures are not OCR'd); note text that someone commits into the project's
own source (rule 1 allows it — the repository would already have leaked it); identifiers in formats other
than the ones above (names, addresses, ages are not looked for).
Cost on the TCGA run (892 reports + 2,267 MTSamples notes, 4 chapters): index 1.5 s, notebooks 0.2 s,
built book 0.5 s, on top of loading the cohort (3 s). Used by cancerllm.runner.build_book and `gate`.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import REPO_ROOT
from .errors import LeakError, RunDirError

NGRAM = 8
#: a window in at least this many distinct patients' notes is reported as "common template"
COMMON_PATIENTS = 5
#: a window counts only if at least this many of its 8 tokens contain a letter (98 % of TCGA windows do);
#: runs of numbers (table rows, list numbering) coincide with notes by chance, and identifiers are rule 2's job
MIN_WORDS = 3

_TOKEN = re.compile(r"[a-z0-9]+")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
_TAG = re.compile(r"<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>", re.S)
#: inline elements are glued (syntax highlighting splits words across <span>s); any other tag separates words
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark", "q", "s",
           "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
PATTERNS = [
    ("date", re.compile(r"(?<![\w/.-])(?:0?[1-9]|1[0-2])([/-])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{4}|\d{2})"
                        r"(?![\w/-]|\.\d)")),
    ("date", re.compile(r"(?<![\w.-])(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?![\w-])")),
    ("date", re.compile(rf"(?<![\w.])\d{{1,2}}[- ]{_MONTH}\.?[- ](?:\d{{4}}|\d{{2}})(?![\w-])", re.I)),
    ("date", re.compile(rf"(?<![\w.]){_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}(?!\w)", re.I)),
    ("phone", re.compile(r"(?<![\w.-])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-.]\d{4}(?![\w-]|\.\d)")),
    ("MRN", re.compile(r"\b(?:mrn|mr ?#|mr ?no\.?|medical record(?: number| no\.?| #)?|patient (?:id|number|no\.?)"
                       r"|acct\.?|account(?: number| no\.?| #)?)\s*[:#]?\s*[a-z]{0,3}-?\d{4,}", re.I)),
    ("accession", re.compile(r"(?<![\w-])[a-z]{1,3}-?\d{2}-\d{3,7}(?![\w-])", re.I)),
    ("e-mail", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.I)),
    ("TCGA barcode", re.compile(r"\btcga-[a-z0-9]{2}-[a-z0-9]{4}\b", re.I)),
]
_BARE_NUMBER = re.compile(r"(?<![\w.,/-])\d{7,10}(?![\w]|[.,]\d)")
_DIGITS = re.compile(r"\d{7,}")  # digit runs of notes (those over 10 digits never equal a bare number)
_ID_TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")


@dataclass(frozen=True)
class Hit:
    """One finding: where it is and what kind — never the matched text."""

    file: str  # relative to the scanned run directory
    where: str  # "cell[3] output[0]" or "line 120"
    kind: str  # "note span", "common template", "date", "phone", ...
    length: int  # tokens for note spans, characters for identifiers

    def __str__(self) -> str:
        unit = "tokens" if self.kind in ("note span", "common template") else "characters"
        return f"{self.file}: {self.where}: {self.kind}, {self.length} {unit}"


def normalise(text: str) -> str:
    return html.unescape(_ANSI.sub("", text))


def tokens(text: str) -> list[str]:
    """The gate's tokenisation of already-normalised text: lower-case `[a-z0-9]+` words."""
    return _TOKEN.findall(text.lower())


def _windows(toks: list[str]) -> list[int]:
    """64-bit hashes of every 8-token window, in order (Python's tuple hash: fast, and stable within a process,
    which is all the index needs since it is rebuilt on every scan)."""
    return list(map(hash, zip(*(toks[k:] for k in range(NGRAM)))))


def strip_html(text: str) -> str:
    """Text content of HTML; newlines are kept so that offsets map to the file's lines."""
    def repl(m):
        keep = "\n" * m.group(0).count("\n")
        name = (m.group(2) or "").lower()
        return keep if name in _INLINE or m.group(0).startswith("<!--") else keep or " "
    return normalise(_TAG.sub(repl, text))


def own_source_texts(root: Path = REPO_ROOT) -> list[str]:
    """The project's own public text: book pages, notebook cell sources (not outputs), library source."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "book").glob("*.md"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((root / "cancerllm").rglob("*.py"))
              if p.name != "gate.py"]  # its docstring spells out example identifiers
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        texts += ["".join(c.get("source", "")) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]]
    return [normalise(t) for t in texts]


#: The manifest fields a book may print, each with the form the runner writes it in: run times, the commit (and
#: its 10-character short form, `provenance.commit_description`), the params hash and the input files' sha256s.
#: Nothing else in a manifest is allowed: run names, paths and params are chosen by a user and may carry anything.
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}")
_HEX = {n: re.compile(rf"[0-9a-f]{{{n}}}") for n in (16, 40, 64)}


def manifest_values(manifest: dict) -> list[str]:
    """The allowed values of a run's manifest (lower case): only the fields above, and only in their own form."""
    git = manifest.get("git") if isinstance(manifest.get("git"), dict) else {}
    inputs = manifest.get("inputs") if isinstance(manifest.get("inputs"), dict) else {}
    fields = [(manifest.get("started"), _TIME), (manifest.get("finished"), _TIME),
              (manifest.get("params_hash"), _HEX[16]), (git.get("commit"), _HEX[40])]
    fields += [(sha, _HEX[64]) for sha in inputs.values()]
    values = [v.lower() for v, form in fields if isinstance(v, str) and form.fullmatch(v.lower())]
    return values + [v[:10] for v in values if _HEX[40].fullmatch(v)]


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


def recorded_cohort(run_dir: Path):
    """(cohort, manifest) of a run as its manifest records it: the notes are loaded with the run's own params and
    every input file must still have the sha256 the run recorded. Whatever the current params name is ignored:
    scanning a book against other data would let any note text through. One RunDirError when that cannot be done."""
    from .config import make_config
    from .data import load_cohort
    from .provenance import input_hashes
    from .runner import open_run_dir

    path = Path(run_dir) / "manifest.json"
    manifest = open_run_dir(Path(run_dir)) if Path(run_dir).is_dir() else {}
    if not isinstance(manifest.get("params"), dict):
        raise RunDirError(f"{path}: no recorded params, so the run's own inputs are unknown and the gate cannot "
                          f"scan it; re-run `python -m cancerllm run`")
    cfg = make_config(manifest["params"], source=str(path))
    recorded, now = manifest.get("inputs") or {}, input_hashes(cfg)
    for name in sorted(set(recorded) | set(now)):
        if recorded.get(name) != now.get(name):
            why = ("is missing" if name not in now else "is not recorded" if name not in recorded
                   else "has changed since the run (sha256 differs)")
            raise RunDirError(f"{path}: input {name} {why}; the gate scans only against the inputs the run recorded")
    for stage, rec in sorted((manifest.get("stages") or {}).items()):  # `run --only` on other data keeps old chapters
        rec = rec if isinstance(rec, dict) else {}
        stale = rec.get("status") != "done" and (Path(run_dir) / "notebooks" / f"{stage}.ipynb").is_file()
        if stale or ("inputs" in rec and rec["inputs"] != recorded):
            why = (f"is {rec.get('status')}, so its notebook is left from an earlier execution" if stale
                   else "ran on other inputs than the run records now")
            raise RunDirError(f"{path}: stage {stage} {why}; re-run it "
                              f"(`python -m cancerllm run PARAMS --force {stage}`) before gating the run")
    return load_cohort(cfg), manifest


def publishing_gate(cfg):
    """The gate for a run, or None when the run's manifest records synthetic data (synthetic books may show
    example notes). A run without a recorded answer is gated: only a loader's False opens the door. The notes
    are the run's own (`recorded_cohort`), not those of `cfg`, which only names the run directory."""
    from .runner import open_run_dir

    if cfg.run_dir.is_dir() and open_run_dir(cfg.run_dir).get("data_is_real") is False:
        return None
    cohort, manifest = recorded_cohort(cfg.run_dir)
    return Gate(cohort.notes, cohort.general, manifest)


def scan_run(run_dir: Path, notes, general=None, manifest: dict | None = None) -> list[Hit]:
    """Findings in a run's executed notebooks and built book against the given notes (any run, explicitly)."""
    if manifest is None:
        from .provenance import read_manifest

        manifest = read_manifest(run_dir)
    return Gate(notes, general, manifest).scan(Path(run_dir))


def check_memorisation(run_dir: Path, manifest: dict) -> None:
    """Refuse a real-data run whose weights reproduce their training notes (cancerllm/memorisation.py): one
    LeakError line naming the first model whose recorded train − held-out verbatim-continuation rate exceeds
    `memorisation.MAX_EXCESS_RATE` (the constant, never a value recorded in the run), or saying that stage 20
    recorded no check for a model the run trained. Runs whose manifest records synthetic data pass."""
    from . import memorisation

    stage = "20_instruction_tuning"  # pipeline.SFT_STAGE (not imported: it pulls in the training stack)
    if manifest.get("data_is_real") is False:
        return
    path = Path(run_dir) / stage / "metrics.json"
    rerun = f"re-run it (`python -m cancerllm run PARAMS --force {stage}`)"
    try:
        record = json.loads(path.read_text(encoding="utf-8")).get("memorisation")
    except (OSError, ValueError, AttributeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("models"), dict):
        raise LeakError(f"publishing gate: {path}: no memorisation check recorded (runs made before the check "
                        f"have none); {rerun} before publishing real data")
    params = manifest.get("params") if isinstance(manifest.get("params"), dict) else {}
    arms = params.get("arms") if isinstance(params.get("arms"), dict) else {}
    for name in [*(params.get("ablation_models") or []), *arms] or sorted(record["models"]):
        rec = record["models"].get(name)
        excess = rec.get("excess") if isinstance(rec, dict) else None
        if not isinstance(excess, (int, float)) or math.isnan(excess):  # missing or NaN
            raise LeakError(f"publishing gate: {path}: no memorisation result for model {name}; {rerun}")
        if excess > memorisation.MAX_EXCESS_RATE:
            raise LeakError(f"publishing gate: model {name} continues its training notes verbatim at "
                            f"{100 * rec['train']['rate']:.1f}% vs {100 * rec['heldout']['rate']:.1f}% held-out "
                            f"(excess {100 * excess:.1f} points > {100 * memorisation.MAX_EXCESS_RATE:.0f}); "
                            f"its weights may leak notes")


def gate_run(cfg) -> int:
    """`python -m cancerllm gate PARAMS`: scan a run's notebooks and built book against the notes the run read
    (`recorded_cohort`; PARAMS only names the run directory), whatever its data (a synthetic run with
    `show_examples` fails, as it should). Raises LeakError on a finding; returns the number of files scanned."""
    if not (cfg.run_dir / "notebooks").is_dir():
        raise FileNotFoundError(f"{cfg.run_dir}: no executed notebooks; run `python -m cancerllm run` first")
    cohort, manifest = recorded_cohort(cfg.run_dir)
    Gate(cohort.notes, cohort.general, manifest).check(cfg.run_dir)
    check_memorisation(cfg.run_dir, manifest)
    return sum(1 for t in (cfg.run_dir / "notebooks", cfg.run_dir / "book" / "_build") for _ in _publishable(t))
