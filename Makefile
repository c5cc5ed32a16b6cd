# The two commands of the README: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest venv system-deps bench bench-calls clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	./scripts/system-deps.sh

run: venv system-deps
	$(BIN)/ckm run

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps
	$(BIN)/pytest -q

test: lint typecheck pytest

bench-calls: venv system-deps
	$(BIN)/ckm bench calls

bench: bench-calls

clean:
	-$(BIN)/ckm asterisk down
	rm -rf $(VENV) var
