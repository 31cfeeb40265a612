"""The publishing gate (cancerllm/gate/): a real-data book that prints note text or an identifier is not built.

Runs are faked in tmp_path (manifest + tiny executed notebooks for every stage) and `jupyter-book` is replaced
by a stand-in that renders each chapter's outputs as HTML, so build_book's before- and after-build scans run
in well under a second. The "real" cohort is a custom CSV (custom data counts as real, like TCGA).
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cancerllm import runner
from cancerllm.cli import main
from cancerllm.config import make_config
from cancerllm.data import load_cohort
from cancerllm.errors import LeakError
from cancerllm.gate import COMMON_PATIENTS, Gate, Hit, publishing_gate, scan_run, strip_html
from cancerllm.provenance import input_hashes

# Five made-up "real" reports. P0003's report carries the sentence the leaky notebook prints.
LEAK = ("the left breast lumpectomy shows invasive lobular carcinoma measuring twenty two millimetres "
        "with clear margins")  # 15 tokens
TEMPLATE = "The specimen is received in formalin labeled with the name of the patient and"
REPORTS = {
    "P0001": "Right upper lobe wedge resection: adenocarcinoma, acinar predominant, pleura not involved.",
    "P0002": "Sigmoid colon segment with moderately differentiated adenocarcinoma invading the subserosa.",
    "P0003": f"Clinical history of a palpable mass. Microscopy: {LEAK}. Sentinel nodes free of tumour.",
    "P0004": "Prostate needle cores: acinar adenocarcinoma, Gleason score seven, perineural invasion seen.",
    "P0005": "Thyroid lobectomy with papillary carcinoma, classic variant, confined to the gland.",
    "P0006": "Bone marrow core with diffuse large B-cell lymphoma, CD20 positive.",
}
STARTED, FINISHED = "2026-11-27T03:58:01+0000", "2026-11-27T05:28:06+0000"
COMMIT, PARAMS_HASH = "094cc1f5b0c9fd333e859f3640f78778e3202bf2", "6f1d2c3b4a596877"
SHA = "928550453c31f2b76e398dbde820b7dfa5bc318daee37917edc2e53a2f9599c3"
# numbers an honest book prints: a parameter count, token counts, a decimal, a manifest timestamp and hashes
METADATA = (f"parameters 7,241,732,096 (7241732096 is not zero-padded), tokens 1661314, loss 0.1234567, "
            f"lr 2e-4, arXiv 2406.10459, pT2N1aM0, stage T2 N0 M0, started {STARTED}, finished {FINISHED}, "
            f"commit {COMMIT[:10]}, params hash {PARAMS_HASH}, input sha256 {SHA}")


@pytest.fixture
def notes_csv(write_notes):
    rows = [{"patient_id": pid, "note_id": f"N{pid}", "note_type": "pathology_report",
             "text": text + (f" {TEMPLATE} sealed." if pid != "P0003" else ""),
             "diagnosis": "carcinoma"}  # labelled, so `run` accepts the file (each split needs a labelled patient)
            for pid, text in REPORTS.items()]
    return write_notes(rows, "reports.csv")


@pytest.fixture
def real_cfg(tmp_path, notes_csv):
    return make_config({"runs_root": str(tmp_path / "runs"), "run_name": "real", "data_source": "custom",
                        "custom_data_path": str(notes_csv)})


def _manifest(cfg, is_real=True) -> dict:
    return {"run_name": cfg.run_name, "data_source": cfg.data_source, "cohort": "reports", "data_is_real": is_real,
            "params_hash": PARAMS_HASH, "params": cfg.to_dict(), "seed": cfg.seed,
            "git": {"commit": COMMIT, "dirty": False}, "inputs": input_hashes(cfg),
            "started": STARTED, "finished": FINISHED,
            "stages": {s: {"status": "done", "seconds": 1.0} for s in runner.available_stages()}}


def _fake_run(cfg, printed: dict | None = None, is_real=True):
    """A run directory with every stage's executed notebook; `printed[stage]` is an extra stdout line of cell 1."""
    run_dir = cfg.run_dir
    (run_dir / "notebooks").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(_manifest(cfg, is_real)), encoding="utf-8")
    for stage in runner.available_stages():
        table = pd.DataFrame({"trainable params": [2122880], "tokens": [1661314]}, index=["no_cpt"])
        cells = [
            new_markdown_cell(f"# {stage}\n\nWhat is the pathologic T stage in the given context?"),
            new_code_cell("print(summary)", outputs=[new_output(
                "stream", name="stdout", text=f"{METADATA}\n{(printed or {}).get(stage, '')}\n")]),
            new_code_cell("table", outputs=[new_output("execute_result", execution_count=3, data={
                "text/plain": table.to_string(), "text/html": table.to_html()})]),
        ]
        nbformat.write(new_notebook(cells=cells), run_dir / "notebooks" / f"{stage}.ipynb")
    write_memorisation(run_dir, {m: 0.0 for m in cfg.ablation_models})  # a passing check (tests/test_memorisation.py)
    return run_dir


def write_memorisation(run_dir, excess: dict):
    """Stage 20's metrics.json with a memorisation record: per model the excess rate (train 0.1 + excess vs 0.1)."""
    rate = {"n": 512, "verbatim": 51, "ci_low": 0.08, "ci_high": 0.13}
    models = {m: {"train": {**rate, "rate": 0.1 + e}, "heldout": {**rate, "rate": 0.1}, "excess": e, "canaries": None}
              for m, e in excess.items()}
    (run_dir / "20_instruction_tuning").mkdir(parents=True, exist_ok=True)
    (run_dir / "20_instruction_tuning" / "metrics.json").write_text(json.dumps(
        {"memorisation": {"n_prefix_tokens": 32, "n_suffix_tokens": 8, "canaries_planted": False, "models": models}}))


def _params(cfg):
    """A params file for the CLI that gives `cfg`'s run directory and data."""
    path = cfg.run_dir.parent.parent / "params.yaml"
    keys = ["runs_root", "run_name", "data_source", "custom_data_path"]
    path.write_text("".join(f"{k}: {getattr(cfg, k)}\n" for k in keys), encoding="utf-8")
    return path


@pytest.fixture
def fake_jupyter_book(monkeypatch):
    """Stand-in for `jupyter-book build`: each chapter's sources and outputs become <pre> blocks in
    _build/html/chapters/<stage>.html, the notebooks are copied to _sources, run_summary.md to index.html.
    `extra` (a list of texts) opens the first chapter's HTML (line 2), to plant a leak in the built book only."""
    real_run = subprocess.run
    calls, extra = [], []

    def fake(cmd, *args, cwd=None, **kwargs):
        if not str(cmd[0]).endswith("jupyter-book"):
            return real_run(cmd, *args, cwd=cwd, **kwargs)
        calls.append(cmd)
        work = runner.Path(cwd)
        out = work / "_build" / "html"
        (out / "chapters").mkdir(parents=True)
        (out / "_sources" / "chapters").mkdir(parents=True)
        for i, nb_path in enumerate(sorted((work / "chapters").glob("*.ipynb"))):
            nb = nbformat.read(nb_path, as_version=4)
            blocks = []
            for cell in nb.cells:
                blocks.append(cell.source)
                for out_ in cell.get("outputs", []):
                    blocks.append(out_.get("text") or out_.get("data", {}).get("text/plain", ""))
            body = "".join(f"<pre>{html.escape(b)}</pre>\n" for b in (extra if i == 0 else []) + blocks)
            (out / "chapters" / f"{nb_path.stem}.html").write_text(f"<html><body>\n{body}</body></html>\n")
            shutil.copy(nb_path, out / "_sources" / "chapters" / nb_path.name)
        summary = (work / "run_summary.md").read_text(encoding="utf-8")
        (out / "index.html").write_text(f"<html><body><pre>{html.escape(summary)}</pre></body></html>\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake)
    return calls, extra


def _words(text: str) -> set[str]:
    return {w for w in text.lower().split() if len(w) > 3}


# ----------------------------------------------------------------------------- build_book with the gate
def test_clean_real_run_passes_and_builds(real_cfg, fake_jupyter_book):
    calls, _ = fake_jupyter_book
    run_dir = _fake_run(real_cfg)
    index = runner.build_book(real_cfg)
    assert index == run_dir / "book" / "_build" / "html" / "index.html" and index.is_file()
    assert len(calls) == 1
    # the built book really contains the metadata the gate must let through
    assert STARTED in index.read_text() and COMMIT[:10] in index.read_text()
    assert "7,241,732,096" in (index.parent / "chapters" / "00_data_profiling.html").read_text()


def test_leaky_notebook_fails_build_located_without_text(real_cfg, fake_jupyter_book, capsys):
    calls, _ = fake_jupyter_book
    stage = runner.available_stages()[-1]
    run_dir = _fake_run(real_cfg, {stage: f"Example: {LEAK.capitalize()}. Seen 03/14/2011."})
    stale = run_dir / "book" / "_build" / "html" / "index.html"  # an earlier build must not survive either
    stale.parent.mkdir(parents=True)
    stale.write_text("<html>old</html>")
    with pytest.raises(LeakError) as info:
        runner.build_book(real_cfg)
    msg = str(info.value)
    assert msg.splitlines() == [
        (f"publishing gate: 2 finding(s) in {run_dir}; {run_dir / 'book' / '_build'} was deleted. "
         "Matched text is not shown; open each location:"),
        f"  notebooks/{stage}.ipynb: cell[1] output[0]: note span, 15 tokens",
        f"  notebooks/{stage}.ipynb: cell[1] output[0]: date, 10 characters",
    ]
    assert not _words(LEAK) & _words(msg) and "03/14/2011" not in msg
    assert not (run_dir / "book" / "_build").exists()
    assert calls == []  # caught before building
    # the CLI: exit code 2 and the same located report on stderr (nothing was built this time)
    assert main(["book", str(_params(real_cfg))]) == 2
    err = capsys.readouterr().err
    assert err == "error: " + msg.replace(f"{run_dir / 'book' / '_build'} was deleted", "nothing was built") + "\n"
    assert calls == []


def test_leak_in_built_html_is_caught_and_removed(real_cfg, fake_jupyter_book):
    calls, extra = fake_jupyter_book
    run_dir = _fake_run(real_cfg)
    extra.append(f"Contact 555-867-5309 about {REPORTS['P0001']}")
    with pytest.raises(LeakError) as info:
        runner.build_book(real_cfg)
    assert len(calls) == 1
    assert str(info.value).splitlines()[1:] == [
        "  book/_build/html/chapters/00_data_profiling.html: line 2: phone, 12 characters",
        "  book/_build/html/chapters/00_data_profiling.html: line 2: note span, 11 tokens"]
    assert not (run_dir / "book" / "_build").exists()
    assert (run_dir / "notebooks" / "00_data_profiling.ipynb").is_file()  # the run itself is kept


def test_synthetic_run_skips_gate(tiny_cfg, fake_jupyter_book):
    calls, _ = fake_jupyter_book
    note = load_cohort(tiny_cfg).notes["text"].iloc[0]
    run_dir = _fake_run(tiny_cfg, {"00_data_profiling": note}, is_real=False)
    assert publishing_gate(tiny_cfg) is None
    assert runner.build_book(tiny_cfg).is_file() and len(calls) == 1
    # the same run with a gate forced on it is full of note text: the skip is what let it through
    cohort = load_cohort(tiny_cfg)
    hits = Gate(cohort.notes, cohort.general, {}).scan(run_dir)
    assert {h.kind for h in hits} >= {"note span"}


def test_unknown_data_kind_is_gated(real_cfg):
    run_dir = _fake_run(real_cfg)
    man = json.loads((run_dir / "manifest.json").read_text())
    del man["data_is_real"]
    (run_dir / "manifest.json").write_text(json.dumps(man))
    assert isinstance(publishing_gate(real_cfg), Gate)


def test_gate_command_and_scan_run(real_cfg, capsys):
    run_dir = _fake_run(real_cfg, {"10_continued_pretraining": f"call 212-555-0199 re {LEAK}"})
    assert main(["gate", str(_params(real_cfg))]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  notebooks/10_continued_pretraining.ipynb: cell[1] output[0]: phone, 12 characters",
        "  notebooks/10_continued_pretraining.ipynb: cell[1] output[0]: note span, 15 tokens"]
    hits = scan_run(run_dir, load_cohort(real_cfg).notes)
    assert hits == [Hit("notebooks/10_continued_pretraining.ipynb", "cell[1] output[0]", "phone", 12),
                    Hit("notebooks/10_continued_pretraining.ipynb", "cell[1] output[0]", "note span", 15)]
    clean = _fake_run(make_config({**real_cfg.to_dict(), "run_name": "clean"}))
    assert main(["gate", str(_params(real_cfg)), "--set", "run_name=clean"]) == 0
    n = len(runner.available_stages())
    assert capsys.readouterr().out == f"gate passed: {clean} ({n} files scanned)\n"


# ----------------------------------------------------------------------------- the rules, on text
@pytest.fixture
def gate(real_cfg):
    cohort = load_cohort(real_cfg)
    return Gate(cohort.notes, cohort.general, _manifest(real_cfg),
                own_texts=["What is the pathologic T stage in the given context?",
                           "Prostate needle cores: acinar adenocarcinoma, Gleason score seven, perineural"])


def _kinds(gate, text):
    return [(h.kind, h.length) for h in gate.scan_text(text, "f.txt")]


def test_note_span_needs_eight_tokens(gate):
    words = LEAK.split()
    assert _kinds(gate, "x " + " ".join(words[:7]) + " y") == []
    assert _kinds(gate, "x " + " ".join(words[:8]) + " y") == [("note span", 8)]
    # case, punctuation, line breaks and HTML entities do not hide a span
    assert _kinds(gate, " ".join(words[:6]).upper() + ",\n" + " ".join(words[6:10]) + " &amp;") == [("note span", 10)]


def test_span_split_by_inline_html_tags_is_found(gate):
    words = LEAK.split()
    body = "".join(f'<span class="n">{w}</span><span class="w"> </span>' for w in words[:9])
    text = strip_html(f"<html>\n<body>\n<div class='highlight'><pre>{body}</pre></div>\n</body></html>")
    assert [str(h) for h in gate.scan_text(text, "c.html")] == ["c.html: line 3: note span, 9 tokens"]


def test_common_template_is_reported_separately(gate):
    assert len(REPORTS) - 1 == COMMON_PATIENTS  # the template closes every report but P0003's
    assert _kinds(gate, f"Boilerplate: {TEMPLATE} sealed.") == [("common template", 15)]
    # a span that reaches into one patient's own words is a note span (3 + 14 tokens)
    assert _kinds(gate, f"pleura not involved. {TEMPLATE}") == [("note span", 17)]


def test_own_source_text_is_not_a_leak(gate):
    # in the project's own text (question templates, our prose) and in a note: shared vocabulary, not a leak
    assert _kinds(gate, "Prostate needle cores: acinar adenocarcinoma, Gleason score seven, perineural") == []
    # one token further, the last window is the note's alone: reported (its 8 tokens; the rest is ours)
    assert _kinds(gate, "Prostate needle cores: acinar adenocarcinoma, Gleason score seven, perineural invasion") == [
        ("note span", 8)]


def test_runs_of_numbers_are_not_note_spans(real_cfg, write_notes):
    path = write_notes([{"patient_id": "Q00001", "note_id": "M1", "note_type": "clinical_note",
                         "text": "Counts 1 2 3 4 5 6 7 8 9 10 11 12 recorded."}], "nums.csv")
    cohort = load_cohort(make_config({"data_source": "custom", "custom_data_path": str(path)}))
    g = Gate(cohort.notes, None, {}, own_texts=[])
    assert g.scan_text("rank 1 2 3 4 5 6 7 8 9 10 11 12", "t.txt") == []  # a table header row, not a leak


@pytest.mark.parametrize("snippet,kind", [
    ("seen 03/14/2011 in clinic", "date"),
    ("seen 3/4/11 in clinic", "date"),
    ("seen 2011-03-14 in clinic", "date"),
    ("seen 14-Mar-2011 in clinic", "date"),
    ("seen January 5, 2010 in clinic", "date"),
    ("call (212) 555-0199 now", "phone"),
    ("call 212-555-0199 now", "phone"),
    ("MRN: 4455667", "MRN"),
    ("MR# 889900", "MRN"),
    ("accession S10-12345 received", "accession"),
    ("accession SP-10-1234 received", "accession"),
    ("write to jane.doe@hospital.org today", "e-mail"),
    ("patient TCGA-A1-A0SB here", "TCGA barcode"),
    ("id 0012345678 here", "MRN-like number"),
    ("cohort member P0004 here", "cohort id"),
])
def test_identifier_kinds(gate, snippet, kind):
    assert [h.kind for h in gate.scan_text(snippet, "f.txt")] == [kind]


def test_identifier_lengths_and_no_text(gate):
    hits = gate.scan_text("x MRN: 4455667 y, seen January 5, 2010.", "f.txt", "cell[2] output[1]")
    assert [str(h) for h in hits] == ["f.txt: cell[2] output[1]: MRN, 12 characters",
                                      "f.txt: cell[2] output[1]: date, 15 characters"]  # in text order


def test_number_from_a_note_is_an_identifier(real_cfg, write_notes):
    path = write_notes([{"patient_id": "Q00001", "note_id": "M1", "note_type": "clinical_note",
                         "text": "Specimen 4815162 received."}], "num.csv")
    cohort = load_cohort(make_config({"data_source": "custom", "custom_data_path": str(path)}))
    g = Gate(cohort.notes, None, {}, own_texts=[])
    assert [(h.kind, h.length) for h in g.scan_text("table 4815162 and 4815163", "t")] == [("MRN-like number", 7)]


def test_run_metadata_and_table_numbers_do_not_trigger(gate):
    assert gate.scan_text(METADATA, "f.txt") == []
    assert gate.scan_text(strip_html(pd.DataFrame({"params": [7241732096, 2122880]}).to_html()), "t.html") == []


def test_gate_scans_every_output_kind(gate, tmp_path):
    leak = LEAK.capitalize()
    nb = new_notebook(cells=[
        new_markdown_cell(f"Quote: {leak}"),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/markdown": f"**{leak}**"}),
            new_output("display_data", data={"text/html": f"<p>{html.escape(leak)}</p>"}),
            new_output("error", ename="ValueError", evalue=leak, traceback=[f"\x1b[31m{leak}\x1b[0m"]),
            new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ]),
    ])
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert [h.where for h in gate.scan_notebook(tmp_path / "n.ipynb", "n.ipynb")] == [
        "cell[0] source", "cell[1] output[0]", "cell[1] output[1]", "cell[1] output[2]"]
