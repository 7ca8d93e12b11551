# Every target bootstraps .venv itself, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ifeq ($(OS),Windows_NT)
BIN    := $(VENV)/Scripts
endif
STAMP  := $(VENV)/.installed

.PHONY: lab demo test test-lite bench lite clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,serve,servers,test,lite]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gateway-lab)" >/dev/null
	touch $(STAMP)

# JupyterLab on 127.0.0.1 in this folder: lessons, exercises and solutions, lesson 00
# open, the engine and the tests hidden from the file browser (gateway_lab/workspace).
# LAB_ARGS adds options, e.g. make lab LAB_ARGS='--port 9999 --no-browser'.
lab: $(STAMP)
	$(BIN)/gateway-lab lab . $(LAB_ARGS)

demo: $(STAMP)
	$(BIN)/gateway-lab demo

# The whole suite but the browser site's (make test-lite: a Pyodide kernel per lesson
# takes minutes).  .ci/run runs both.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not lite" $(PYTEST_ARGS)

test-lite: $(STAMP)
	$(BIN)/python -m pytest -q -m lite $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/servers.py
	$(BIN)/python bench/lite.py

# The lessons in the browser: a JupyterLite site in build/lite (Pyodide from npm, wheels
# from PyPI; needs node and npm), then `gateway-lab lite --serve` serves it on 127.0.0.1.
lite: $(STAMP)
	$(BIN)/gateway-lab lite --build build/lite

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
