# Set-up and everyday commands. Everything a command needs, it installs.
SHELL := /bin/bash
PYTHON_BOOT := $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
SCENARIO ?= datasets/china-2021
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench install install-dev browser postgres report-libs solve clean

$(VENV)/.runtime: requirements.txt pyproject.toml
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Debian's chromium for the real-browser tests (playwright's own browser download does not work here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

# Debian's PostgreSQL server for the library's concurrency tests (the fixture starts its own throwaway server).
postgres:
	@if [ ! -d /usr/lib/postgresql ]; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; \
	fi

# Pango and fonts for WeasyPrint's PDF reports (python -m optimizer report, the app's report button);
# Noto CJK so that Chinese, Japanese and Korean names print in the PDF and its map, not as boxes;
# HarfBuzz-Subset so that WeasyPrint embeds only the glyphs used of those large fonts.
# Offline without them, `make run` still starts: only the PDF download says what is missing.
report-libs:
	@if ! /sbin/ldconfig -p | grep -q libpangoft2-1.0 || ! /sbin/ldconfig -p | grep -q libharfbuzz-subset || [ ! -d /usr/share/fonts/opentype/noto ] || ! ls /usr/share/fonts/opentype/noto | grep -q CJK; then \
		($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-cjk) \
		|| echo "warning: could not install Pango or the CJK fonts; PDF reports need them (HTML and XLSX reports work)"; \
	fi

run: install report-libs
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: install-dev browser postgres report-libs
	$(PY) -m pytest

bench: install-dev
	$(PY) -m bench
	$(PY) -m bench.risk
	$(PY) -m bench.monthly
	$(PY) -m bench.risk_scale
	$(PY) -m bench.targets

solve: install
	$(PY) -m optimizer solve $(SCENARIO) --out out/$(notdir $(SCENARIO))

clean:
	rm -rf $(VENV) out .pytest_cache

# The documentation site (out/site/), after the settings and column tables of docs/inputs.md are made
# again from the declarations (a test fails while they differ; another builds the site with --strict).
.PHONY: docs
docs: install-dev
	$(PY) -m optimizer.cli.docs --write docs/inputs.md
	$(VENV)/bin/mkdocs build --strict --site-dir out/site

# The built-in datasets' expected files (tests/examples/<name>/expected/), written again from the engine:
# only for an intended change of results (say why in the commit); tests/test_datasets_golden.py compares.
.PHONY: golden
golden: install-dev
	$(PY) -m tests.examples

# The README's picture of the first screen (docs/screenshots/app.png, 1366 x 900), from a real browser.
.PHONY: screenshot
screenshot: install-dev browser
	$(PY) -m tools.screenshot
