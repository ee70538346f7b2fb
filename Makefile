# Arena: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench install redis-server lint typecheck check clean help settings-table

help:
	@echo "make run             set up .venv, make sure redis-server exists, start Arena (private Redis unless REDIS_URL is set)"
	@echo "make test            set up, then lint, type-check and run the test suite against real redis-server processes"
	@echo "make bench           run the benchmarks (a 1M-player board: ~1 min, ~400 MB) and rewrite docs/benchmarks.md"
	@echo "make lint            ruff; make typecheck: mypy --strict"
	@echo "make settings-table  rewrite the README's settings table from server/settings.py"
	@echo "make clean           remove .venv and var/ (var/ holds the private Redis's data)"

# $(call need,CHECK,PACKAGE): when CHECK fails, install Debian's PACKAGE (as root, with
# apt-get) or stop with one line naming what to install.
define need
	@$(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's $(2) package"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "$(2) is missing: run 'sudo apt-get install $(2)', then try again." >&2; \
	    exit 1; \
	  fi; \
	}
endef

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Arena needs Python 3.11 or newer")'
	$(call need,$(PYTHON) -c 'import ensurepip',python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

redis-server:
	$(call need,command -v redis-server,redis-server)

run: install redis-server
	$(BIN)/python -m server

# Every benchmark beside its baseline, measured in one run; rewrites docs/benchmarks.md.
bench: install redis-server
	$(BIN)/python -m loadtest.bench

lint: install
	$(BIN)/ruff check server client_sim loadtest tests
	$(BIN)/ruff format --check server client_sim loadtest tests

typecheck: install
	$(BIN)/mypy

check: lint typecheck

test: install redis-server check
	$(BIN)/python -m pytest

settings-table: install
	$(BIN)/python -c 'import pathlib, server.settings as s; p = pathlib.Path("README.md"); p.write_text(s.rewrite_readme_table(p.read_text()))'

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
