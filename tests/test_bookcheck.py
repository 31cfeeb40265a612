"""The browser check of the built book (cancerllm/bookcheck.py): its pure parts on hand-made log records, and, where
Chromium, chromedriver and selenium are installed, a real run on a small hand-made site that must fail on each kind
of problem and pass a clean page."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from cancerllm import bookcheck
from cancerllm.bookcheck import PageResult


@pytest.mark.parametrize("url, external", [
    ("file:///tmp/book/index.html", False), ("data:image/png;base64,AAAA", False), ("blob:file:///abc", False),
    ("about:blank", False), ("https://unpkg.com/thebe@0.8.2/lib/index.js", True), ("http://localhost:8000/", True),
    ("HTTP://example.org/x.png", True), ("wss://example.org/socket", True), ("chrome-extension://abc/x.js", True),
    ("_static/x.png", False),
])
def test_is_external(url, external):
    assert bookcheck.is_external(url) is external


def test_console_messages_by_level():
    entries = [
        {"level": "SEVERE", "message": "file:///b/index.html 12:7 Uncaught SyntaxError: Identifier 'THEBE_JS_URL' "
                                       "has already been declared", "source": "javascript"},
        {"level": "WARNING", "message": "a deprecation", "source": "console-api"},
        {"level": "INFO", "message": "hello", "source": "console-api"},
        {"level": "SEVERE", "message": "file:///b/x.png - Failed to load resource: net::ERR_FILE_NOT_FOUND",
         "source": "network"},
    ]
    errors = bookcheck.console_messages(entries)
    assert len(errors) == 2 and "THEBE_JS_URL" in errors[0] and "ERR_FILE_NOT_FOUND" in errors[1]
    assert bookcheck.console_messages(entries, "WARNING") == ["a deprecation"]


def _perf(method, **params):
    return {"level": "INFO", "message": json.dumps({"message": {"method": method, "params": params}})}


def test_network_events_requests_and_failures():
    entries = [
        _perf("Network.requestWillBeSent", requestId="1", request={"url": "file:///b/index.html"}),
        _perf("Network.requestWillBeSent", requestId="2", request={"url": "https://cdn.example.org/a.js"}),
        _perf("Network.requestWillBeSent", requestId="3", request={"url": "file:///b/_images/gone.png"}),
        _perf("Network.loadingFailed", requestId="3", errorText="net::ERR_FILE_NOT_FOUND"),
        _perf("Network.requestWillBeSent", requestId="4", request={"url": "file:///b/cancelled.js"}),
        _perf("Network.loadingFailed", requestId="4", errorText="net::ERR_ABORTED"),
        _perf("Network.webSocketCreated", requestId="5", url="ws://example.org/s"),
        _perf("Page.loadEventFired", timestamp=1.0),
        {"level": "INFO", "message": "not json"},
    ]
    urls, failed = bookcheck.network_events(entries)
    assert urls == ["file:///b/index.html", "https://cdn.example.org/a.js", "file:///b/_images/gone.png",
                    "file:///b/cancelled.js", "ws://example.org/s"]
    assert failed == ["file:///b/_images/gone.png (net::ERR_FILE_NOT_FOUND)"]
    assert [u for u in urls if bookcheck.is_external(u)] == ["https://cdn.example.org/a.js", "ws://example.org/s"]


def test_pages_skip_sphinx_folders_and_shot_names(tmp_path):
    for rel in ("index.html", "chapters/30_evaluation.html", "_static/x.html", "_sources/y.html", "search.html",
                "chapters/_images/z.html", "style.css"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>")
    found = [p.relative_to(tmp_path).as_posix() for p in bookcheck.pages(tmp_path)]
    assert found == ["chapters/30_evaluation.html", "index.html", "search.html"]
    assert bookcheck.shot_name("chapters/30_evaluation.html") == "chapters__30_evaluation.png"


def test_problems_and_summary():
    clean = PageResult("index.html", console_warnings=["w"])
    bad = PageResult("chapters/x.html", console_errors=["boom"], external_requests=["https://a.org/b.js"],
                     missing_images=["_images/gone.png"], failed_requests=["file:///c.css (net::ERR_FILE_NOT_FOUND)"])
    assert clean.problems == []  # warnings are reported, not failures
    assert bad.problems == ["console error: boom", "external request: https://a.org/b.js",
                            "missing image: _images/gone.png", "failed request: file:///c.css (net::ERR_FILE_NOT_FOUND)"]
    text = bookcheck.summary([clean, bad])
    assert text.splitlines()[0] == "chapters/x.html: console error: boom"
    assert text.splitlines()[-1] == ("2 pages checked, 1 with problems: 1 console errors, 1 external requests, "
                                     "1 missing images, 1 failed requests")


def test_check_book_needs_a_built_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="no index.html"):
        bookcheck.check_book(tmp_path)


def _png(path, w=4, h=3):
    """A tiny valid RGB PNG, written without Pillow."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80\x20\x20" * w for _ in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.slow  # drives headless Chromium over a built book
@pytest.mark.skipif(bookcheck.missing_requirements() is not None,
                    reason=f"browser check not runnable here: {bookcheck.missing_requirements()}")
def test_check_book_in_chromium_finds_each_problem(tmp_path):
    site, shots = tmp_path / "html", tmp_path / "shots"
    (site / "_images").mkdir(parents=True)
    _png(site / "_images" / "ok.png")
    (site / "index.html").write_text('<html><body><h1>Fine</h1><img src="_images/ok.png"></body></html>')
    (site / "broken.html").write_text(
        '<html><body><img src="_images/gone.png"><img src="https://example.org/remote.png">'
        "<script>console.error('boom from the page')</script>"
        "<script>const X = 1;</script><script>const X = 2;</script></body></html>")
    results = {r.page: r for r in bookcheck.check_book(site, shots, settle=0.2)}
    assert set(results) == {"index.html", "broken.html"}
    assert results["index.html"].problems == []
    bad = results["broken.html"]
    assert any("boom from the page" in m for m in bad.console_errors)
    assert any("has already been declared" in m for m in bad.console_errors)  # the duplicated-script error
    assert bad.external_requests == ["https://example.org/remote.png"]
    assert sorted(bad.missing_images) == ["_images/gone.png", "https://example.org/remote.png"]
    assert (shots / "index.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (shots / "broken.png").stat().st_size
    assert [r["page"] for r in json.loads((shots / "book-check.json").read_text())] == ["broken.html", "index.html"]
