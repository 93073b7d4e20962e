# voicelive-nb: two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   headless end-to-end run on the local emulator
#   make test   lint, type-check and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= runs

.PHONY: setup system demo test lint typecheck pytest lab bench clean

setup: system $(STAMP)

system:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "voicelive-nb needs Python >= 3.10"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[emulator,dev]'
	@touch $(STAMP)

demo: setup
	$(PY) -m voicelive_nb.cli demo --notebook notebooks/quickstart.ipynb

lint: setup
	$(VENV)/bin/ruff check voicelive_nb tests bench

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(PY) -m pytest

test: lint typecheck pytest

# JupyterLab refuses to run as root without --allow-root (containers, CI machines): pass it then.
LAB_ARGS ?=
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: setup
	@for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
