# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: run test install infra setup lint clean bench chaos fuzz

run: install infra setup  ## fresh machine -> everything installed, migrated, seeded and running (Ctrl-C stops it)
	$(MANAGE) run_platform

test: install infra lint  ## fresh machine -> the whole test suite
	$(BIN)/pytest -n 2 --dist loadfile -m "not e2e"
	$(BIN)/pytest -m e2e  # whole platforms of real processes: one at a time, not beside the unit tests

install: $(VENV)/.installed

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

infra:
	./scripts/ensure-infra.sh

setup:
	$(MANAGE) setup_platform

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=shop.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

bench: install infra  ## drive the real API end to end; prints and writes figures under results/
	command -v wrk >/dev/null || apt-get install -y -q wrk || sudo apt-get install -y -q wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

chaos: install infra  ## the benchmark load while processes are killed, then the invariant audit
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

fuzz: install infra  ## long schemathesis run: FUZZ_MAX_EXAMPLES per operation and mode, >10,000 requests in all
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-200} $(BIN)/pytest -m fuzz -n 2 --dist load -p no:cacheprovider tests/fuzz

clean:
	rm -rf $(VENV)
