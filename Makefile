# Quick start: `make demo` (set up + short end-to-end run), `make test` (set up + full test suite).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: venv install install-dev demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(BIN)/python

install: venv
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .

install-dev: venv
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'

demo: install
	$(BIN)/memlab run demo

test: install-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: install
	$(BIN)/memlab bench lstm-train

clean:
	rm -rf $(VENV) runs .pytest_cache
