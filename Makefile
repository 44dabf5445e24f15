# xcomkit: all set-up on a fresh machine is `make serve` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
DB ?= sqlite:///xcomkit.db

.PHONY: serve test lint unasync compat bench stress install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/xcomkit serve --host $(HOST) --port $(PORT) --db $(DB) --dags examples/demo_dags.yaml --demo

# pytest's last line gives the wall time; --durations lists the ten slowest steps.
# -n auto: pytest-xdist runs the suite on one worker process per CPU core, each with its
# own PostgreSQL cluster, servers and temporary directories (docs/performance.md, "The
# test suite"); --dist loadfile keeps each file's tests on one worker, in order (some
# tests of tests/testing/test_plugin.py check what an earlier one left on a shared
# server), and --no-loadscope-reorder hands files out in collection order, the long ones
# first (tests/conftest.py). (--dist loadgroup would group finer, but pytest-xdist 3.8's
# group marks do not take under pytest 9: it renames a node attribute pytest 9 no longer reads.)
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: each worker (and each
# Python process the tests start) would otherwise compile xcomkit and rewrite the test
# modules' asserts again, ~3 s of CPU per worker (.gitignore keeps __pycache__ out of git).
test: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=10

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples compat scripts
	$(BIN)/ruff format --check src tests benchmarks examples compat scripts
	$(BIN)/mypy
	$(BIN)/python scripts/unasync_client.py --check

# The blocking client (modern/_sync.py) is generated from the asyncio one (modern/_async.py).
unasync: $(STAMP)
	$(BIN)/python scripts/unasync_client.py

compat: $(STAMP)
	$(BIN)/python compat/run.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

stress: $(STAMP)
	$(BIN)/python benchmarks/stress.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
