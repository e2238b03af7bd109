PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup test demo bench example clean

$(BIN)/vaultcrm:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'

setup: $(BIN)/vaultcrm

test: setup
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/python example_vault/demo.py

example: setup
	$(BIN)/python example_vault/generate.py

bench: setup
	$(BIN)/python bench/run.py --sizes 10000 100000

clean:
	rm -rf $(VENV) demo_vault bench/vaults .pytest_cache
