# The two commands: `make run` and `make test`. Both create .venv when missing and install the
# pinned dependencies (requirements.lock) before they do anything else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast bench install clean-state

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.lock pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## Start the whole system on the embedded default (Ctrl-C stops everything cleanly).
run: $(STAMP)
	$(PY) -m engine.cli up

## The full test suite, after the linter. Two workers (pytest-xdist), a test file each at a time: most
## integration tests wait on their servers, so two run in about the time of one; long files go first.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile

## The tests that start no process and no server (`-m "not integration"`): the quick loop while coding.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not integration"

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.lock
	touch $(BENCH_STAMP)

## Benchmarks: writes bench/results/<name>.json and prints a table of ratios. The references that only
## the benchmarks use (backtrader, backtesting.py) are pinned in requirements-bench.lock.
bench: $(BENCH_STAMP)
	$(PY) -m bench.run $(BENCH)

## Remove run-time state under data/ (keeps the bundled market data).
clean-state:
	rm -rf data/lake data/journal data/prefect data/mlflow data/run data/logs data/sim
