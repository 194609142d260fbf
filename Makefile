# The two commands of the README:
#   make run    install everything, generate the default district on first run, start the app
#   make test   install everything (browser included) and run the whole test suite
PY      := .venv/bin/python
PIP     := .venv/bin/pip
VENV_OK := .venv/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
ASSETS  := static/vendor/.installed-$(shell cat maps/assets.json 2>/dev/null | cksum | cut -d' ' -f1)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT    ?= 8501

.PHONY: run test test-fast lint bench probe install browser postgres

run: install
	$(PY) serve.py --server.port $(PORT)

test: install browser postgres
	$(PY) -m pytest -q

test-fast: install postgres
	$(PY) -m pytest -q -m "not slow and not browser"

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy spatial layers maps pages app.py serve.py cli.py commands

bench: install
	$(PY) cli.py bench all

# The probe suite (bench/probes/): faults, damaged stores, races; GROUPS="store concurrency" picks groups.
probe: install
	$(PY) -m bench.probes $(GROUPS)

install: $(VENV_OK) $(ASSETS)

$(VENV_OK): requirements.txt requirements-dev.txt
	python3 -m venv .venv
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	rm -f .venv/.installed-*
	touch $@

$(ASSETS): $(VENV_OK) maps/assets.json
	$(PY) -m maps.vendor
	rm -f static/vendor/.installed-*
	touch $@

# Debian's chromium for the browser tests (Playwright drives it; no browser is downloaded).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# Debian's PostgreSQL and PostGIS for the server-store tests: each test session starts a throwaway
# cluster of its own in a temporary folder (tests/pgcluster.py); no running server is assumed.
postgres:
	@ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq postgresql && \
	  $(SUDO) apt-get install -y -qq postgresql-$$(ls /usr/lib/postgresql | sort -n | tail -1)-postgis-3; }
