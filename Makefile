# synthgate — `make demo` runs the whole flow with no server; `make test` installs and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: install services test lint demo demo-files bench clean

install: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt shared/pyproject.toml private-agent/pyproject.toml public-builder/pyproject.toml \
		workstation/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_FLAGS) -c constraints.txt -r requirements-dev.txt \
		-e ./shared -e ./private-agent -e ./public-builder -e ./workstation
	@touch $@

services:
	@bash scripts/ensure-tools.sh
	@bash scripts/ensure-services.sh

test: install services
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check shared private-agent public-builder workstation tests bench
	$(BIN)/mypy

demo: install
	@bash scripts/demo.sh

demo-files: install
	@bash scripts/demo-files.sh

bench: install services
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-out

# --- the two-container appliance (docs/OPERATORS.md) -------------------------------------------
# BASE_IMAGE: the base of every image. Without a registry: `make base-image`, then
# BASE_IMAGE=synthgate/debian-base:bookworm make images (or demo-docker).
BASE_IMAGE ?= debian:bookworm-slim
LOCAL_BASE_IMAGE ?= synthgate/debian-base:bookworm
AGENT_IMAGE ?= synthgate/agent:latest
BUILDER_IMAGE ?= synthgate/builder:latest
# The demo databases: upstream postgres:16 when the base comes from a registry, otherwise
# Debian's postgresql built from BASE_IMAGE alone.
DB_IMAGE ?= $(if $(filter debian:%,$(BASE_IMAGE)),postgres:16,synthgate/postgres:bookworm)
APPLIANCE_ENV := BASE_IMAGE=$(BASE_IMAGE) AGENT_IMAGE=$(AGENT_IMAGE) BUILDER_IMAGE=$(BUILDER_IMAGE) \
	DB_IMAGE=$(DB_IMAGE) SYNTHGATE_AGENT_IMAGE=$(AGENT_IMAGE) SYNTHGATE_BUILDER_IMAGE=$(BUILDER_IMAGE) \
	SYNTHGATE_DB_IMAGE=$(DB_IMAGE)

.PHONY: base-image images bundle review synth demo-docker test-appliance

base-image:
	BASE_IMAGE=$(LOCAL_BASE_IMAGE) bash scripts/base-image.sh

images:
	$(APPLIANCE_ENV) bash scripts/appliance-images.sh

# private side: keys (once), then config (once), orm, stats, vocabulary and the signed bundle
bundle:
	$(APPLIANCE_ENV) bash compose/appliance.sh keys bundle

# the review report, the reviewer's approval, and the hand-over to the public side
review:
	$(APPLIANCE_ENV) bash compose/appliance.sh review handover

# public side: verify the approved bundle and build the synthetic database
synth:
	$(APPLIANCE_ENV) bash compose/appliance.sh synth summary

demo-docker: images
	$(APPLIANCE_ENV) bash compose/appliance.sh demo

test-appliance:
	bash scripts/test-appliance.sh
