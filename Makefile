# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.srguard-installed

QUIX   := .venv-quix
.PHONY: setup demo test test-deps unit integration e2e fast chaos lint bench peers clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py processor/duis/_layout.pyx scripts/ensure-system-deps.sh
	bash scripts/ensure-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/srguard demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite in parts; tests/markers.py checks at collection that every test carries the marker it needs.
unit: setup  # the pure tests alone: no broker, no Redis (about 25 s)
	$(BIN)/pytest -q tests/unit

integration: setup test-deps  # the real broker and Redis (started by the tests when not given)
	$(BIN)/pytest -m integration

e2e: setup test-deps  # the srguard command as a user runs it
	$(BIN)/pytest -m e2e

fast: setup test-deps  # everything but the long runs (soak, fuzz, broker restarts)
	$(BIN)/pytest -m "not slow"

ROUNDS ?= 3
chaos: setup  # the fault campaign on a 3-node cluster: every fault, both guarantees, ROUNDS rounds; prints the table
	$(BIN)/python -m tests.reliability.campaign --rounds $(ROUNDS)

test-deps:
	bash scripts/ensure-system-deps.sh prometheus chromium  # promtool and Prometheus (alert and scrape tests), Chromium (the report as a browser shows it)

# Everything: lint, the unit tests first (a broken rule fails in seconds), then the rest in WORKERS processes
# (pytest-xdist, a test file to a worker, each worker with its own broker and Redis; WORKERS=0: one process).
WORKERS ?= 2
test: lint unit test-deps
	$(BIN)/pytest -n $(WORKERS) --dist loadfile --ignore=tests/unit --durations=25

# The peers of bench/peers: Quix Streams in its own virtualenv (it pins confluent-kafka < 2.13), the Kafka
# Streams job built with Maven (Java 17).
$(QUIX)/.installed: pyproject.toml bench/peers/quix-requirements.txt
	$(PYTHON) -m venv $(QUIX)
	$(QUIX)/bin/pip install -q -U pip
	$(QUIX)/bin/pip install -q -e . -r bench/peers/quix-requirements.txt
	touch $@

peers: setup $(QUIX)/.installed
	cd bench/peers/kstreams && mvn -q -B clean package

bench: peers
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(QUIX) bench/peers/kstreams/target .pytest_cache .ruff_cache
