PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# `make lock` keeps the pins it can; `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest allowed.
LOCK_FLAGS ?=

.PHONY: setup test demo bench example lock clean

# The versions CI tested (requirements.lock), then vaultcrm itself without resolving anything again.
$(BIN)/vaultcrm: requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .

setup: $(BIN)/vaultcrm

test: setup
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/python example_vault/demo.py

example: setup
	$(BIN)/python example_vault/generate.py

bench: setup
	$(BIN)/python bench/run.py --sizes 10000 100000

# Regenerate requirements.lock from pyproject.toml's ranges, with the test extras.
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra test -o requirements.lock --quiet $(LOCK_FLAGS)

clean:
	rm -rf $(VENV) .venv-newest demo_vault bench/vaults .pytest_cache
