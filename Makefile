# postroom: two commands from a fresh clone.
#   make demo   set up, then send a message through the embedded file providers
#   make test   set up, then run the whole test suite (what CI runs)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package present under plugins/ is installed, editable, with no edit here.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.installed

# Debian packages the tests need, as binary:package; installed by `make test` when the
# binary is missing and we are root (as CI is), else the tests that need them say how.
# The tests start private servers of their own: the system's services are never used.
SYSTEM_DEPS := /usr/bin/chromium:chromium /usr/sbin/postfix:postfix \
               /usr/sbin/dovecot:dovecot-core /usr/lib/dovecot/imap:dovecot-imapd \
               /usr/lib/dovecot/pop3:dovecot-pop3d /usr/bin/systemd-analyze:systemd

.PHONY: install demo test lint bench clean system-deps screenshots

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

system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
		[ -e "$${dep%%:*}" ] || missing="$$missing $${dep#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "system-deps: not installing$$missing (needs root and apt-get); the tests" \
			"that need them will say how to get them"; exit 0; fi; \
	echo "system-deps: installing$$missing"; \
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	for try in 1 2 3 4 5 6; do \
		{ [ -n "$$updated" ] || apt-get update -q; } && updated=1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$$missing && exit 0; \
		echo "apt-get busy or failed; trying again"; sleep 20; \
	done; exit 1

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The admin page's screenshots in docs/, taken by its browser test.
screenshots: $(STAMP) system-deps
	POSTROOM_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/web/test_web_browser.py -k every_page

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(MAKE) -C bench

clean:
	rm -rf $(VENV) demo-output
