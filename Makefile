# fashion-research: `make report` rebuilds the report on the embedded sample data; `make test` runs every test.
# Both create .venv and install the project (with its dev extra) when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# nbdev_test runs the notebooks in parallel; two workers match the 2-core machines this was sized on.
NB_WORKERS ?= 2

.PHONY: install report test lint test-nbs test-py lab export clean-report sample-data readme

$(STAMP): setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

sample-data: install
	$(BIN)/fashion-research sample-data

report: sample-data
	$(BIN)/fashion-research report --profile sample --jobs 2

# Notebook tests write their figures to a throwaway folder, not into reports/.
test-nbs: sample-data
	cd nbs && FASHION_REPORT_DIR=$$(mktemp -d) ../$(BIN)/nbdev_test --n_workers $(NB_WORKERS) --do_print --timing

test-py: sample-data
	$(BIN)/python -m pytest -q tests

# The layers of DESIGN.md as import-linter contracts (.importlinter): an upward import or a circle fails here.
lint: install
	$(BIN)/lint-imports

test: lint test-nbs test-py

# JupyterLab refuses to start as root (a container's usual user) unless told to: pass --allow-root only then.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: install
	$(BIN)/jupyter lab nbs $(LAB_ROOT_FLAG)

export: install
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean

clean-report:
	rm -rf reports/figures reports/tables reports/notebooks reports/index.html reports/report.md reports/run.json

# README.md is generated from nbs/index.ipynb.
readme: install
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README
