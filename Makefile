# The course in two commands:
#   make course   set up a virtual environment, install, check the data, run every notebook (quick mode)
#   make test     the test suite: the unit tests (loader tests on real data included) first, then every
#                 notebook end to end (pytest marker `notebooks`); the last line sums both runs
# Options: PYTHON=python3.11  FULL=1 (full mode)  MMER_DATA_DIR=/path/to/data

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mmer-installed

.PHONY: course test setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	@# the app's browser runtime (onnxruntime-web from npm, web/package-lock.json); without npm the app still works
	$(BIN)/python -m mmer_utils.app.vendor || echo "setup: the in-browser face models stay off (see docs/browser.md)"

course: $(STAMP)
	$(BIN)/python -m mmer_utils.course $(if $(FULL),--full,)

PYTEST := $(BIN)/python -m pytest
COUNTS := build/pytest-counts

# Fastest failure first: the unit tests, then (only if they pass) the notebooks. Each run saves
# its counts (tests/conftest.py) and tests/pytest_counts.py prints their sum as the last line, in
# pytest's format. Exit status 5 (no test selected, e.g. PYTEST_ARGS="-k audio") is not a failure.
test: $(STAMP)
	@rm -rf $(COUNTS)
	MMER_PYTEST_COUNTS=$(COUNTS)/1-unit.json $(PYTEST) -m "not notebooks" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	MMER_PYTEST_COUNTS=$(COUNTS)/2-notebooks.json $(PYTEST) -m notebooks $(PYTEST_ARGS); rc=$$?; \
	  $(BIN)/python tests/pytest_counts.py $(COUNTS); [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

clean:
	rm -rf build
