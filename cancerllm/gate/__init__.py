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

Where the code lives: the rules' constants and patterns, normalisation, the own-source and manifest
allow-lists and `Hit` in rules.py; `Gate` and the notebook and file scanning in scanner.py; gating a run
(`recorded_cohort`, `publishing_gate`, `scan_run`, `check_memorisation`, `gate_run`) in runs.py.
"""

from .rules import _BARE_NUMBER as _BARE_NUMBER  # bare 7-10 digit numbers (used by tests)
from .rules import (COMMON_PATIENTS, MIN_WORDS, NGRAM, PATTERNS, Hit, manifest_values, normalise, own_source_texts,
                    strip_html, tokens)
from .runs import check_memorisation, gate_run, publishing_gate, recorded_cohort, scan_run
from .scanner import Gate

__all__ = ["COMMON_PATIENTS", "Gate", "Hit", "MIN_WORDS", "NGRAM", "PATTERNS", "check_memorisation", "gate_run",
           "manifest_values", "normalise", "own_source_texts", "publishing_gate", "recorded_cohort", "scan_run",
           "strip_html", "tokens"]
