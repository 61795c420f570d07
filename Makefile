# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench-ingest bench-reps clean demo

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

## Set up, migrate, start Redis (embedded unless REDIS_URL is set), web + worker + scheduler.
run: install
	$(BIN)/flask --app integration serve

## The whole product on this machine: stand-ins for both platforms, two shops installed, a burst of webhooks.
demo: install
	$(BIN)/python -m scripts.demo

## Set up and run the whole suite (PostgreSQL cases run when one answers on 127.0.0.1:5432).
test: install
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## End-to-end benchmark of the whole stack, started the Procfile way, on SQLite and (when one answers on
## 127.0.0.1:5432) PostgreSQL. BENCH_N=5000 make bench for a quicker run; see bench/stack.py for flags.
.PHONY: bench
bench: install
	$(BIN)/python -m bench.stack

## Request-path benchmark against a bare Flask route (needs wrk: apt-get install wrk).
bench-ingest: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk first"; exit 2; }
	$(BIN)/python -m bench.ingest

## Reps per-event cost at 1k customers / 7 reps vs 100k / 700 (in-process, SQLite; about two minutes).
bench-reps: install
	$(BIN)/python -m bench.reps

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
