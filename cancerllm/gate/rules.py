"""The gate's rules (see the package docstring): text normalisation and tokenisation, the 8-token windows of
rule 1 and its thresholds, rule 2's identifier patterns, the project's own source text (allowed), the
manifest values a book may print, and `Hit`, one finding."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import REPO_ROOT

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
              if p.parent != root / "cancerllm" / "gate"]  # its docstrings spell out example identifiers
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
