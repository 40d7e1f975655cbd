# postroom: two commands from a fresh clone.
#   make demo   set up, then send a message through the embedded file providers
#   make test   set up, then run the whole test suite (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package present under plugins/ is installed, editable, with no edit here.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# phonenumberslite replaced phonenumbers: both install the module "phonenumbers",
	@# so an older environment drops the full package before the lite one goes in.
	$(BIN)/python -m pip uninstall --quiet --yes phonenumbers 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[test]" $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) demo-output
