# Arena: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run demo test bench loadtest install redis-server nginx chromium node-tools lint typecheck check clean help settings-table graph

help:
	@echo "make run             set up .venv, make sure redis-server exists, start Arena (private Redis unless REDIS_URL is set)"
	@echo "make run NODES=3     three nodes on ports 8080, 8081, 8082 sharing one Redis (put nginx in front: docs/deployment.md)"
	@echo "make demo            Arena with its private Redis plus 50 bots playing the whole loop, until Ctrl-C"
	@echo "                     (same settings as make run; the server's log goes to var/demo-server.log)"
	@echo "make test            set up, then lint, type-check and run the test suite against real redis-server, nginx and chromium processes"
	@echo "make bench           run every benchmark beside its baseline (~7 min, ~400 MB) and rewrite docs/benchmarks.md"
	@echo "make loadtest        Locust users playing over WebSocket against a server it starts (or URL=...);"
	@echo "                     USERS=50 SPAWN_RATE=10 DURATION=60s FORMAT=msgpack|json; reports in var/loadtest/"
	@echo "make lint            ruff; make typecheck: mypy --strict"
	@echo "make graph           who imports whom in server/, by layer, and any import that breaks the layering"
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

# tests/test_nginx.py runs Debian's nginx binary itself (its own config, port and
# temp folder); the package's own service is not needed. Where systemd runs, the
# package starts it on port 80 (if free): `systemctl disable --now nginx` stops it.
nginx:
	$(call need,test -x /usr/sbin/nginx,nginx)

# The browser tests (test_play.py, test_dashboard.py) drive Debian's chromium through
# Playwright: no browser download.
chromium:
	$(call need,test -x /usr/bin/chromium,chromium)

# The JavaScript client's tests (tests/test_js_client.py) run Debian's node with the
# test-only packages in .venv/node (the client itself has no dependencies): ws (Node
# before 22 has no WebSocket), @msgpack/msgpack (its msgpack test), typescript (tsc
# checks the typed example). Installed once; `make clean` removes them with .venv.
NODE_TOOLS := $(VENV)/node/.installed

node-tools: $(NODE_TOOLS)

$(NODE_TOOLS): | install
	$(call need,command -v node,nodejs)
	$(call need,command -v npm,npm)
	mkdir -p $(VENV)/node
	npm install --prefix $(VENV)/node --no-save --no-audit --no-fund \
	  typescript@5.9.3 ws@8.23.1 @msgpack/msgpack@3.1.3 @asyncapi/parser@3.6.6
	@touch $@

# NODES=N: N nodes on consecutive ports from ARENA_PORT, sharing one Redis (server/nodes.py).
NODES ?= 1

run: install redis-server
ifeq ($(NODES),1)
	$(BIN)/python -m server
else
	$(BIN)/python -m server.nodes --nodes $(NODES)
endif

# The server (private Redis unless REDIS_URL is set) and 50 bots, until Ctrl-C.
demo: install redis-server
	$(BIN)/python -m client_sim.demo

# Every benchmark beside its baseline, measured in one run; rewrites docs/benchmarks.md.
bench: install redis-server
	$(BIN)/python -m loadtest.bench

# Locust, headless: against a server started here (private Redis unless REDIS_URL is
# set), or against URL=http://host:port. Reports in var/loadtest/. See docs/loadtest.md.
URL        ?=
USERS      ?= 50
SPAWN_RATE ?= 10
DURATION   ?= 60s
FORMAT     ?= msgpack
LOCUST_ARGS ?=

loadtest: install $(if $(URL),,redis-server)
	$(BIN)/python -m loadtest.run --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) \
	  --format $(FORMAT) $(if $(URL),--url $(URL)) $(LOCUST_ARGS)

lint: install
	$(BIN)/ruff check server client_sim loadtest tests
	$(BIN)/ruff format --check server client_sim loadtest tests

typecheck: install
	$(BIN)/mypy

check: lint typecheck

# Who imports whom in server/, layer by layer, and what breaks the layering
# (tests/test_layers.py holds the code to it). --dot: Graphviz.
graph: install
	$(BIN)/python -m tests.import_graph

# pytest-xdist: TEST_WORKERS processes share the tests (2: CI's machine has 2 cores; a
# test waiting on I/O leaves its core to the other). Each worker has its own redis-server
# and temp folders; tests marked xdist_group run in one worker, one after another.
# TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= 2

test: install redis-server nginx chromium node-tools check
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

settings-table: install
	$(BIN)/python -c 'import pathlib, server.settings_table as s; p = pathlib.Path("README.md"); p.write_text(s.rewrite_readme_table(p.read_text()))'

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
