# synthgate — `make demo` runs the whole flow with no server; `make test` installs and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: install services test lint demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt shared/pyproject.toml private-agent/pyproject.toml public-builder/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_FLAGS) -c constraints.txt -r requirements-dev.txt \
		-e ./shared -e ./private-agent -e ./public-builder
	@touch $@

services:
	@bash scripts/ensure-services.sh

test: install services
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check shared private-agent public-builder tests bench
	$(BIN)/mypy

demo: install
	@bash scripts/demo.sh

bench: install services
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-out
