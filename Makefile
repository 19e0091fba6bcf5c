# The course in two commands:
#   make course   set up a virtual environment, install, check the data, run every notebook (quick mode)
#   make test     the test suite (unit tests, loader tests on real data, every notebook end to end)
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

course: $(STAMP)
	$(BIN)/python -m mmer_utils.course $(if $(FULL),--full,)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build
