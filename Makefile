# One entry point for every check; CI runs the same targets (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run check test lint fmt bench clean servers servers-stop

# Bootstrap the virtual environment once, again whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "domicile needs Python >= 3.11" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## make run: create a demo deployment in ./domicile-data (if none), show it working, then
## serve it over S3 (endpoint, credentials and a ready-to-paste aws command are printed)
run: $(STAMP)
	$(BIN)/domicile --config domicile-data/domicile.toml demo
	$(BIN)/domicile --config domicile-data/domicile.toml serve --show-secret

## make check: everyday work, in under 2 minutes: lint, then every test that needs no S3
## test servers, no PostgreSQL server, no Chromium and no node build (agejs) and is not
## slow, in 2 processes, Hypothesis in its quick profile (a tenth of the examples).
## make test runs everything.
CHECK_TESTS := not servers and not postgres and not chromium and not agejs and not slow
check: lint
	env -u DOMICILE_TEST_CATALOG_URL $(BIN)/python -m pytest -q -n 2 -m "$(CHECK_TESTS)" \
	    --hypothesis-profile=quick $(PYTEST_ARGS)

## make test: every test (age's TypeScript reference, for the post-quantum interop tests,
## is installed from tools/agejs/package-lock.json once; it needs node and npm)
AGEJS := tools/agejs/node_modules/.package-lock.json
$(AGEJS): tools/agejs/package-lock.json
	npm ci --prefix tools/agejs --no-audit --no-fund --silent

test: $(STAMP) $(AGEJS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff, mypy --strict, import-linter layer contracts
lint: $(STAMP)
	$(BIN)/ruff check src tests bench testbed tools/domicile_exit.py
	$(BIN)/ruff format --check src tests bench testbed tools/domicile_exit.py
	$(BIN)/mypy
	$(BIN)/mypy --strict tools/domicile_exit.py
	$(BIN)/lint-imports

## make servers: install (once, cached) and start the S3 test bed (Swift + SeaweedFS on
## 127.0.0.1); prints each server's endpoint, credentials and an aws command to try
servers: $(STAMP)
	@$(BIN)/python -m testbed.servers start

## make servers-stop: stop the S3 test bed, saying which processes it stopped
servers-stop: $(STAMP)
	@$(BIN)/python -m testbed.servers stop

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The benchmarks' own baselines (obstore, uvicorn): the bench extra, installed on demand.
$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

## make bench: the benchmarks, each printing ratios against a baseline measured in the same run
bench: $(VENV)/.installed-bench
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## make clean: remove the virtual environment, every tool's cache and build output (not
## ./domicile-data, the demo deployment, nor the test bed's cache in ~/.cache)
clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .import_linter_cache \
	       build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
