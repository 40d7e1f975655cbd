# postroom: two commands from a fresh clone.
#   make demo   set up, then send a message through the embedded file providers
#   make test   set up, then run the whole test suite (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package present under plugins/ is installed, editable, with no edit here.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean system-deps

# Debian packages some tests start privately on loopback, as binary:package: a
# Postfix with Dovecot for its logins. `make test` installs the missing ones
# when it runs as root with apt-get (as CI does); elsewhere those tests are
# skipped with the command to install them (and fail when $CI is set).
SYSTEM_DEPS := /usr/sbin/postfix:postfix /usr/sbin/dovecot:dovecot-core \
	/usr/lib/dovecot/pop3:dovecot-pop3d

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
		[ -e "$${dep%%:*}" ] || missing="$$missing $${dep#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "system-deps: not installing$$missing (needs root and apt-get); the tests" \
			"that need them will say how to get them"; exit 0; fi; \
	echo "system-deps: installing$$missing"; \
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing \
	|| { apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends $$missing; }

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) demo-output
