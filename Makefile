# The two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_SYS := $(VENV)/.stamp-system
STAMP_PY := $(VENV)/.stamp-python
EXTRAS := pcsc,server,redis,dev

.PHONY: setup demo test lint types imports pytest clean bench

setup: $(STAMP_SYS) $(STAMP_PY)

$(STAMP_SYS): tools/bootstrap-system.sh
	@mkdir -p $(VENV)
	bash tools/bootstrap-system.sh
	@touch $@

$(STAMP_PY): pyproject.toml $(STAMP_SYS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	@touch $@

# The main job on the embedded default, the simulated card: first a card session from the
# command line, then the full login story (service, card agent, demo site). Without a terminal
# (CI) `jpki demo` plays both journeys headless; at a terminal it prints the URL and serves.
demo: setup
	JPKI=$(BIN)/jpki bash tools/demo-card-session.sh
	$(BIN)/jpki demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy

imports: setup
	$(BIN)/lint-imports

pytest: setup
	$(BIN)/pytest -q

test: lint types imports pytest

bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
