# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.srguard-installed

QUIX   := .venv-quix
.PHONY: setup demo test unit lint bench peers clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/ensure-system-deps.sh
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

unit: setup  # the pure tests alone: no broker, no Redis (about 20 s)
	$(BIN)/pytest -q tests/unit

test: lint
	bash scripts/ensure-system-deps.sh prometheus chromium  # promtool and Prometheus (alert and scrape tests), Chromium (the report as a browser shows it)
	$(BIN)/pytest

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
