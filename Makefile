# amanat — the two commands a newcomer needs are `make run` and `make test`.
# Both bootstrap .venv from the hash-pinned lock file (requirements/dev.txt).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run demo test test-fast lint typecheck bench fuzz lock clean interop-deps web web-deps browser-deps

# The sources are compiled at install, so that running amanat never writes a .pyc (a dated
# trace on a witness's device); vault/__init__.py stops Python writing any for what it
# imports later.
$(STAMP): requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --only-binary=:all: -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m compileall -q vault keys api
	touch $(STAMP)

# The server on 127.0.0.1:8000 with a throwaway, clearly labelled dev organization and
# investigator in ./dev-data (loopback only). `amanat demo` narrates the whole loop instead.
run: $(STAMP)
	$(VENV)/bin/amanat serve --dev --data dev-data --host 127.0.0.1 --port 8000

demo: $(STAMP)
	$(VENV)/bin/amanat demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider \
	    --cov=vault --cov=keys --cov-report=term-missing:skip-covered --cov-report=

test-fast: $(STAMP)
	$(PY) -m pytest -q -x -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check vault keys api tests bench
	$(VENV)/bin/mypy

typecheck: lint

bench: $(STAMP)
	$(PY) -m bench

# Fuzz every parser of outside input (tests/fuzz) with atheris, FUZZ_SECONDS per harness, one
# after the other on one core; a finding's input is saved in tests/fuzz/findings/.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	nice -n 10 $(PY) -m tests.fuzz run all --seconds $(FUZZ_SECONDS)

# Node packages for interop tests (npm age-encryption), from the committed lockfile.
interop-deps:
	cd tests/interop/node && npm ci --no-audit --no-fund --silent

# The witness's page: web/ built with esbuild into api/static (committed, so that running
# amanat needs no node). The build is reproducible: rebuilding must change nothing.
web-deps:
	cd web && npm ci --no-audit --no-fund --silent

web: web-deps
	cd web && node build.mjs

# Node packages for the browser tests (playwright-core, puppeteer-core, axe-core), from
# the committed lockfile; the browsers themselves are Debian's chromium and firefox-esr.
browser-deps:
	cd tests/browser/node && npm ci --no-audit --no-fund --silent

# Regenerate the hash-pinned lock files (needs network access to PyPI).
lock:
	$(PYTHON) -m venv /tmp/amanat-lock && /tmp/amanat-lock/bin/pip install --quiet uv
	cd requirements && /tmp/amanat-lock/bin/uv pip compile --generate-hashes --python-version 3.11 --no-header --no-strip-extras runtime.in -o runtime.txt
	cd requirements && /tmp/amanat-lock/bin/uv pip compile --generate-hashes --python-version 3.11 --no-header --no-strip-extras dev.in -o dev.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage
