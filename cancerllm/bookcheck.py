"""The browser check of a built book (`make book-check`, `python -m cancerllm book-check PARAMS`): every page of
runs/<run>/book/_build/html is opened from file:// in headless Chromium, as a reader opens it, and the check fails
on any console error, any image that did not load, and any request that leaves the machine (anything but file:,
data:, blob: or about:). A full-page screenshot of each page goes to runs/<run>/book/screenshots/, with
book-check.json listing what was found on each page.

Needs Debian's `chromium` and `chromium-driver` packages and the `selenium` package (the `browser` extra of
pyproject.toml); nothing is downloaded. External host names are made unresolvable (--host-resolver-rules), so a
page that would fetch from the internet fails the check the same way online and offline, and never leaks a request.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_SCHEMES = {"file", "data", "blob", "about"}  # a request with any other scheme leaves the machine
WINDOW = (1280, 900)  # a laptop browser window: the book's main column is ~730 px wide at this width
MAX_SHOT_HEIGHT = 16000  # px; Chromium cannot capture taller bitmaps in one piece
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
#: JavaScript: make lazy images load now, then list the images that have not (yet) loaded with a picture.
_IMAGES_JS = """
const imgs = Array.from(document.images);
imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src') || '(no src)');
"""


@dataclass
class PageResult:
    """What the check found on one page (paths relative to the HTML folder)."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    screenshot: str = ""

    @property
    def problems(self) -> list[str]:
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"external request: {u}" for u in self.external_requests]
                + [f"missing image: {s}" for s in self.missing_images]
                + [f"failed request: {u}" for u in self.failed_requests])


# ----------------------------------------------------------------------------- pure parts (unit-tested)
def is_external(url: str) -> bool:
    """True when loading `url` would leave the machine: any scheme but file:, data:, blob: and about:
    ("http://localhost" counts too: the book must work from the file system alone)."""
    scheme = urlsplit(url.strip()).scheme.lower()
    return bool(scheme) and scheme not in LOCAL_SCHEMES


def console_messages(entries: list[dict], level: str = "SEVERE") -> list[str]:
    """Messages of the browser log `entries` (chromedriver's get_log('browser') records: level, message, source,
    timestamp) at `level`. SEVERE holds console.error calls, uncaught exceptions and failed resource loads."""
    return [str(e.get("message", "")) for e in entries if str(e.get("level", "")).upper() == level]


def network_events(entries: list[dict]) -> tuple[list[str], list[str]]:
    """(every URL the page requested, those whose load failed with the error) from chromedriver's
    get_log('performance') records, whose "message" is a JSON DevTools event. Requests a page cancelled itself
    (net::ERR_ABORTED) are not failures."""
    urls, by_id, failed = [], {}, []
    for entry in entries:
        try:
            event = json.loads(entry["message"])["message"]
        except (KeyError, TypeError, ValueError):
            continue
        method, params = event.get("method", ""), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            by_id[params.get("requestId")] = url
            urls.append(url)
        elif method == "Network.webSocketCreated":
            urls.append(params.get("url", ""))
        elif method == "Network.loadingFailed" and params.get("errorText") != "net::ERR_ABORTED":
            failed.append(f"{by_id.get(params.get('requestId'), '?')} ({params.get('errorText', '?')})")
    return urls, failed


def pages(html_dir: Path) -> list[Path]:
    """Every built page: the .html files of the book, not those under Sphinx's _static, _sources or _images."""
    html_dir = Path(html_dir)
    return sorted(p for p in html_dir.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(html_dir).parts[:-1]))


def shot_name(page: str) -> str:
    """The screenshot file of a page: its path with "/" as "__" and .png for .html."""
    return page.replace("/", "__").removesuffix(".html") + ".png"


def summary(results: list[PageResult]) -> str:
    """One line per page with a problem, then the totals."""
    lines = [f"{r.page}: {p}" for r in results for p in r.problems]
    n = len([r for r in results if r.problems])
    lines.append(f"{len(results)} pages checked, {n} with problems: "
                 f"{sum(len(r.console_errors) for r in results)} console errors, "
                 f"{sum(len(r.external_requests) for r in results)} external requests, "
                 f"{sum(len(r.missing_images) for r in results)} missing images, "
                 f"{sum(len(r.failed_requests) for r in results)} failed requests")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the browser
def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is not installed."""
    browser = next((p for name in BROWSERS if (p := shutil.which(name))), None)
    driver = next((p for name in DRIVERS if (p := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


def missing_requirements() -> str | None:
    """Why the check cannot run here (what to install), or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed: `pip install -e '.[browser]'` (or `make book-check`)"
    if find_browser() is None:
        return "chromium and chromedriver are not installed: `apt-get install chromium chromium-driver` (Debian)"
    return None


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(executable_path=driver))


def _screenshot(drv, path: Path) -> None:
    """The whole page in one PNG: the viewport is made as tall as the page, then captured. (Capturing beyond the
    viewport instead shifted the book's layout sideways, cutting off its left sidebar.)"""
    size = drv.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = size.get("cssContentSize") or size["contentSize"]
    height = min(math.ceil(size["height"]), MAX_SHOT_HEIGHT)
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        shot = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.write_bytes(base64.b64decode(shot["data"]))


def _check_page(drv, html_dir: Path, page: Path, shots: Path | None, settle: float) -> PageResult:
    rel = page.relative_to(html_dir).as_posix()
    drv.get(page.resolve().as_uri())  # returns after the load event
    deadline = time.monotonic() + 10
    missing = drv.execute_script(_IMAGES_JS)
    while missing and time.monotonic() < deadline:  # lazy images switched to eager load now
        time.sleep(0.25)
        missing = drv.execute_script(_IMAGES_JS)
    time.sleep(settle)  # scripts that run after load (MathJax typesetting) log their errors now
    logs = drv.get_log("browser")
    urls, failed = network_events(drv.get_log("performance"))
    result = PageResult(page=rel, console_errors=console_messages(logs),
                        console_warnings=console_messages(logs, "WARNING"),
                        external_requests=sorted({u for u in urls if is_external(u)}), missing_images=missing,
                        failed_requests=[f for f in failed if not is_external(f)])
    if shots is not None:
        result.screenshot = shot_name(rel)
        _screenshot(drv, shots / result.screenshot)
    return result


def check_book(html_dir: Path, shots: Path | None = None, settle: float = 0.5) -> list[PageResult]:
    """Open every page of `html_dir` (``pages``) in headless Chromium and return what each showed; with `shots`,
    save a full-page screenshot of each there (the folder is emptied first) and the results as book-check.json."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"{html_dir}: no index.html; build the book first (`python -m cancerllm book`)")
    why = missing_requirements()
    if why:
        raise RuntimeError(f"book-check cannot run: {why}")
    if shots is not None:
        shutil.rmtree(shots, ignore_errors=True)
        shots.mkdir(parents=True)
    drv = _driver()
    try:
        results = [_check_page(drv, html_dir, page, shots, settle) for page in pages(html_dir)]
    finally:
        drv.quit()
    if shots is not None:
        (shots / "book-check.json").write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n",
                                               encoding="utf-8")
    return results


def check_run(cfg) -> list[PageResult]:
    """``check_book`` on a run's built book, screenshots under runs/<run>/book/screenshots/."""
    book = cfg.run_dir / "book"
    return check_book(book / "_build" / "html", book / "screenshots")
