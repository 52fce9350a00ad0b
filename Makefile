# The two commands a newcomer runs: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= var/demo

.PHONY: install system-packages browser demo test lint typecheck unit bench clean

install: system-packages $(VENV)/.installed

# restic comes from Debian's package (0.14 on bookworm); drorch supports 0.14 and newer.
system-packages:
	@if ! command -v restic >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "make install: restic is missing and installing it needs root: run 'sudo make install' or 'apt-get install restic'" >&2; exit 1; \
	  fi; \
	  echo "installing restic from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: install
	$(BIN)/drorch demo --dir $(DEMO_DIR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Test-only tools from Debian: chromium renders report.html headless; hercules' tapemap reads
# the virtual library's AWSTAPE cartridges, proving their format from outside drorch;
# faketime's libfaketime steps the system clock under the daemon (tests/faketime.py);
# systemd's systemd-analyze verifies contrib/systemd's units and systemd-socket-activate
# hands `drorch cli-server` its socket as systemd does.
TEST_TOOLS := chromium:chromium tapemap:hercules faketime:faketime \
	systemd-analyze:systemd systemd-socket-activate:systemd

browser:
	@missing=""; for pair in $(TEST_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "make test: missing$$missing; installing needs root: run 'sudo make test' or 'apt-get install$$missing'" >&2; exit 1; \
	  fi; \
	  echo "installing$$missing from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The catalog's tests run on SQLite and on PostgreSQL: the local server unless told otherwise.
DRORCH_TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export DRORCH_TEST_PG_URL

# The suite runs in TEST_WORKERS processes (pytest-xdist): most of its time is spent waiting
# on restic, daemons and schedules, which overlap well even on 2 cores. The slowest tests are
# listed at the end, so that a slow CI run says where its time went. TEST_WORKERS=0 runs it
# in this process alone.
TEST_WORKERS ?= 3

test: install browser lint typecheck
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=30

# drorch byte-compiled, as pip installs a package (an editable install is not, and an
# environment with PYTHONDONTWRITEBYTECODE=1 would compile every module on every command).
bench: install
	$(BIN)/python -m compileall -q drorch
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
