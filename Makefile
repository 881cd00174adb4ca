# Xabar: `make run` runs the platform with demo content; `make test` passes the tests.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv run --frozen
# make test runs its files on this many pytest-xdist workers (each file's tests on one worker, so
# a module's servers start once); TEST_WORKERS=0 runs everything in this process, one at a time
TEST_WORKERS ?= 2

.PHONY: install run test test-fast test-cluster lint bench drills clean vendor

install:  ## install what is missing: redis-server, uv, the Python env, FerretDB
	@./scripts/bootstrap.sh

run: install  ## Redis, FerretDB and the four services on fixed ports, with demo content
	@$(UV) python -m xabar.devstack run

test:  ## the whole suite against real Redis, FerretDB and a headless Chromium, the cluster tier too
	@XABAR_BROWSER=1 ./scripts/bootstrap.sh
	@$(UV) pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast:  ## the tests that need no Redis, FerretDB or browser (tests/conftest.py marks them)
	@$(UV) pytest -m "not infra and not browser and not slow and not cluster" $(PYTEST_ARGS)

test-cluster:  ## the cluster tier alone: a local 3+3 Redis Cluster and a Sentinel setup (tests.support.ha)
	@$(UV) pytest -m cluster $(PYTEST_ARGS)

lint: install  ## ruff and mypy strict
	@$(UV) ruff check .
	@$(UV) ruff format --check .
	@$(UV) mypy shared/contracts/src shared/runtime/src services/*/src

bench: install  ## speed and memory, as ratios against baselines measured in the same run
	@XABAR_BENCH_TOOLS=1 ./scripts/bootstrap.sh
	@$(UV) python -m xabar.devstack bench

drills: install  ## faults under load; each drill ends with lost=0 duplicated=0
	@$(UV) python -m xabar.devstack drills

vendor:  ## refresh the newsroom's third-party JS/CSS from npm, exactly as package-lock.json pins
	@$(UV) python scripts/vendor_assets.py

clean:  ## remove local state (Redis AOF, FerretDB files) of `make run`
	rm -rf .state
