# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Prefect keeps its state under the project, never in the user's home; no telemetry.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Tests log quietly; `make demo` logs at INFO so a run's logs show in the UI (PREFECT_API_URL set).
test: export PREFECT_LOGGING_LEVEL ?= WARNING
# Prefect's ephemeral API waits 20 s for its server by default; a busy CI machine takes longer.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180

.PHONY: test demo install clean lint

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/autodialer demo

clean:
	rm -rf $(VENV) .prefect .pytest_cache autodialer.db demo-out
