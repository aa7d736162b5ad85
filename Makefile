# The two set-up commands of the README. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[cli]"
	touch $@

# The extras state ranges; constraints/test.txt pins the test environment (torch).
$(VENV)/.test-installed: $(BIN)/python pyproject.toml constraints/test.txt
	$(BIN)/python -m pip install --quiet -c constraints/test.txt -e ".[test,bench]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/l2reg fit --out demo-output

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

test: $(VENV)/.test-installed lint
	# SCIPY_ARRAY_API=1 lets scikit-learn run its array-API estimator check instead of skipping it.
	SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks ridge

clean:
	rm -rf $(VENV) build src/*.egg-info
