# Two commands do all the set-up: `make book` and `make test`. The environment lives in .venv/ and is
# created (or updated when requirements.lock changes) on first use. uv is used when present (fast);
# pip otherwise. torch 2.13.0 comes from the on-disk CPU wheel folder where the machine has one.
PARAMS ?= params/demo.yaml
PY := .venv/bin/python
WHEELS := $(firstword $(wildcard /opt/wheels))
FIND_LINKS := $(if $(WHEELS),--find-links $(WHEELS),)
export HF_HUB_OFFLINE=1
export TOKENIZERS_PARALLELISM=false
export PYTHONHASHSEED=0

.PHONY: book book-check run test test-fast lint env clean

env: .venv/.installed

.venv/.installed: requirements.lock pyproject.toml Makefile
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv || true
	@if command -v uv >/dev/null 2>&1; then \
	  [ -x $(PY) ] || uv venv -q --python python3.11 .venv; \
	  uv pip install -q --python $(PY) $(FIND_LINKS) -r requirements.lock && \
	  uv pip install -q --python $(PY) --no-deps -e .; \
	else \
	  [ -x $(PY) ] || python3.11 -m venv .venv; \
	  $(PY) -m pip install -q $(FIND_LINKS) -r requirements.lock && $(PY) -m pip install -q --no-deps -e .; \
	fi
	@# byte-compile the environment once: installers (uv) and PYTHONDONTWRITEBYTECODE=1 leave no .pyc files, and
	@# then every notebook kernel spends ~20 s recompiling torch/transformers/trl on import (~10 s compiled)
	@$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1 || true
	@$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cancerllm)" >/dev/null
	@touch $@

run: env
	$(PY) -m cancerllm run $(PARAMS)

book: run
	$(PY) -m cancerllm book $(PARAMS)

# Opens every page of the built book (make book first) in headless Chromium from file://, fails on a console error,
# a missing image or any request that leaves the machine, and saves a screenshot per page under
# runs/<run_name>/book/screenshots/. Needs Debian's chromium + chromium-driver (apt-get, as root); installs the
# selenium package (pyproject's `browser` extra) into .venv on first use. Not part of `make test`.
book-check: env
	@command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } || \
	  { echo "book-check needs Chromium and its driver: apt-get install chromium chromium-driver (Debian)"; exit 2; }
	@$(PY) -c "import selenium" 2>/dev/null || { if command -v uv >/dev/null 2>&1; then \
	  uv pip install -q --python $(PY) -e '.[browser]'; else $(PY) -m pip install -q -e '.[browser]'; fi; }
	SE_OFFLINE=true $(PY) -m cancerllm book-check $(PARAMS)

test: env
	$(PY) -m pytest

# The suite without the tests marked `slow` (they execute notebooks, train for more than a few seconds, spawn
# `python -m cancerllm` runs or build a book): the loop to run while editing. `make test` runs everything.
test-fast: env
	$(PY) -m pytest -m "not slow"

lint: env
	$(PY) -m ruff check cancerllm tests

clean:
	rm -rf runs book/_build
