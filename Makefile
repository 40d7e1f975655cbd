# postroom: two commands from a fresh clone.
#   make demo   set up, then send a message through the embedded file providers
#   make test   set up, then run the whole test suite (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package present under plugins/ is installed, editable, with no edit here.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean dovecot

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# The mailbox tests start a private Dovecot (IMAP, POP3); install it when it is missing and
# we may (root). The system's Dovecot service is not started: the tests run their own.
dovecot:
	@if ! command -v dovecot >/dev/null 2>&1 && ! test -x /usr/sbin/dovecot; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends dovecot-imapd dovecot-pop3d >/dev/null && \
	    { systemctl disable --now dovecot >/dev/null 2>&1 || service dovecot stop >/dev/null 2>&1 || true; }; \
	  else \
	    echo "Dovecot is missing: sudo apt-get install dovecot-imapd dovecot-pop3d" \
	         "(the mailbox tests skip without it)"; \
	  fi; \
	fi

test: $(STAMP) dovecot
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) demo-output
