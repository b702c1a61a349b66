# Two commands: `make demo` and `make test`. Both create .venv if it is missing.
# The distribution's CPython 3.11 where there is one (faster; see scripts/pick-python.sh), picked
# once; `make PYTHON=...` or PYTHON in the environment chooses (a path, quoted where it is used, so it
# may hold spaces but not arguments). `make clean` to rebuild .venv with it.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell sh $(dir $(lastword $(MAKEFILE_LIST)))scripts/pick-python.sh)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint format clean bytecode

# Compiled modules for the editable install (pip compiles a regular install itself): each
# command then starts without compiling reesim's 27,000 lines (about 0.1 s of every command's
# start-up; with PYTHONDONTWRITEBYTECODE set, Python would never keep them). The bytecode
# records its source's hash, not its time and size, so an edited module is never run from old
# bytecode (the cache keys hash the source: old bytecode under a new key would keep a wrong
# world); a module that changed since is compiled in memory as usual.
bytecode: $(STAMP_RUN)
	$(BIN)/python -m compileall -q --invalidation-mode checked-hash src

$(BIN)/python:
	@echo "creating $(VENV) with $(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN) bytecode
	rm -rf out/china-2025-licensing
	$(BIN)/reesim run china-2025-licensing --against baseline --out out/china-2025-licensing --report

# The report test renders the HTML report in Debian's headless Chromium.
$(CHROMIUM):
	apt-get update -q && apt-get install -y -q chromium || \
	  (echo "The report test needs Debian's chromium: apt-get install chromium"; exit 1)

test: $(STAMP_TEST) $(CHROMIUM) bytecode
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests scripts

format: $(STAMP_TEST)
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
