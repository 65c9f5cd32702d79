# Harbour: `make run` serves the embedded default with workers and a scheduler; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= harbour-demo-2026
DEMO_REFERRALS ?= 200
export DEMO_PASSWORD

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

# The embedded default: SQLite and an on-disk Celery broker in var/, no servers to install.
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo --if-empty --referrals $(DEMO_REFERRALS)
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo "Harbour on http://$(or $(HARBOUR_BIND),127.0.0.1:8000) with Celery workers for deliveries and sweeps and a scheduler; Ctrl-C stops all four."
	@echo "Demo users: responder, responder2, manager, provider, provider2 (password: $(DEMO_PASSWORD))"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

# axe-core, injected into pages by the browser tests (which also need Debian's chromium).
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The suite runs on every core (pytest-xdist); TEST_PROCESSES=0 runs it in one process.
TEST_PROCESSES ?= auto
test: install node_modules/axe-core/axe.min.js
	$(BIN)/pytest --numprocesses $(TEST_PROCESSES)

# mypy checks the apps that [tool.mypy] in pyproject.toml lists, with django-stubs and DRF's stubs.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks against PostgreSQL under gunicorn; see bench/README.md.
bench: install
	bench/run
