# The two commands of the README: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest venv system-deps web-deps bench bench-calls clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	./scripts/system-deps.sh

# SIP.js for the browsers (the desktop's softphone, the portal's "call 19115"), served as-is.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-deps: node_modules/.installed

run: venv system-deps web-deps
	$(BIN)/ckm db migrate
	$(BIN)/ckm seed --demo
	$(BIN)/ckm run

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps web-deps
	$(BIN)/pytest -q

test: lint typecheck pytest

bench-calls: venv system-deps
	$(BIN)/ckm bench calls

# Every benchmark, one after the other, each printing its figures.
bench: venv system-deps web-deps
	$(BIN)/ckm bench calls
	$(BIN)/ckm bench acd
	$(BIN)/python -m bench.asr_bench
	$(BIN)/python -m bench.acd_bench
	$(BIN)/python -m bench.crm_history
	$(BIN)/python -m bench.dept_inbox
	$(BIN)/python -m bench.reports_bench
	$(BIN)/python -m bench.portal_bench
	$(BIN)/python -m bench.desktop_bench
	$(BIN)/ckm bench notifications

clean:
	-$(BIN)/ckm asterisk down
	rm -rf $(VENV) var
