# Harbour: `make run` serves the embedded default with a worker and scheduler; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install lint bench

$(BIN)/django-admin: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/django-admin .env

# Keys for a local installation, generated once and never committed.
.env:
	$(PYTHON) -c "import base64, os, secrets; print('DEBUG=1'); \
	print('SECRET_KEY=' + secrets.token_urlsafe(50)); \
	print('FIELD_ENCRYPTION_KEYS=' + base64.urlsafe_b64encode(os.urandom(32)).decode()); \
	print('FIELD_HASH_KEY=' + secrets.token_urlsafe(32))" > $@

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
