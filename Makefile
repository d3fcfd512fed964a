# tongban — the two commands of the README, and the tools around them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000
export TONGBAN_DATA_DIR ?= $(CURDIR)/var

.PHONY: demo test lint bench install install-test messages serve

# --- installation -------------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed messages
install-test: $(VENV)/.installed-test messages

# Compiled translations are build output, made from the .po files in each app.
messages:
	@scripts/ensure-system-packages msgfmt:gettext
	@for po in src/tongban/*/locale/*/LC_MESSAGES/django.po; do \
		msgfmt --check-format -o "$${po%.po}.mo" "$$po" || exit 1; \
	done

# --- the two commands -----------------------------------------------------------------------------
demo: install
	$(BIN)/tongban migrate --noinput
	$(BIN)/tongban collectstatic --noinput --verbosity 0
	$(BIN)/tongban demo
	@echo
	@echo "打开 Open: http://$(BIND)   (Ctrl-C 停止 / to stop)"
	scripts/run-demo-server $(BIND)

test: install-test
	@scripts/ensure-system-packages chromium:chromium
	scripts/test-both-databases

# --- tools --------------------------------------------------------------------------------------------
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench

bench: install-test
	$(BIN)/python bench/run.py

serve: install
	$(BIN)/tongban serve --bind $(BIND)
