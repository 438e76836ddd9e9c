# The README's commands. `make run` and `make test` set everything up on a fresh machine
# (Python 3.10+, Java 17 or 21, pip): the virtual environment, the project, its test tools.

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.sparkkit-installed
JOB      ?= streams
DURATION ?= 60s
ARGS     ?=
## three pytest workers, one test file each at a time (module-scoped Spark sessions stay shared):
## most of the suite waits on batch intervals, drivers and brokers rather than on the 2 cores
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder

export PYSPARK_PYTHON        := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)

.PHONY: install run test lint bench clean cluster-up cluster-down

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run JOB on local[*] for DURATION (0 = until Ctrl-C); the default, streams, is the stream
## processor over conf/jobs/streams.toml (PIPELINE=FILE for another pipeline file), shown live;
## just before it stops, ASK is put to the still-running job as an ad-hoc query (sparkkit query)
PIPELINE ?=
ASK ?= SELECT value AS page, count(*) AS views FROM global_temp.views GROUP BY value ORDER BY views DESC, page LIMIT 5
run: $(STAMP)
	$(BIN)/sparkkit run $(JOB) --duration $(DURATION) $(if $(PIPELINE),--pipeline $(PIPELINE)) \
		$(if $(filter streams,$(JOB)),$(if $(ASK),--ask "$(ASK)")) $(ARGS)

## a Spark standalone cluster on 127.0.0.1 (no Docker): WORKERS workers of 1 core
WORKERS ?= 2
cluster-up: $(STAMP)
	$(BIN)/sparkkit cluster up --workers $(WORKERS)

cluster-down: $(STAMP)
	$(BIN)/sparkkit cluster down

lint: $(STAMP)
	$(BIN)/ruff check sparkkit jobs tests benchmarks
	$(BIN)/ruff format --check sparkkit jobs tests benchmarks
	$(BIN)/mypy

## the whole suite: lint, then unit, integration (local[2]) and recovery tests
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## benchmarks (not part of the test suite): results in benchmarks/results, report in docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.window_cost
	$(BIN)/python -m benchmarks.state_scaling
	$(BIN)/python -m benchmarks.kafka_throughput
	$(BIN)/python -m benchmarks.kafka_throughput --records 5000000 --max-offsets-per-trigger 200000 --results kafka_throughput_5m
	$(BIN)/python -m benchmarks.produce_rate
	$(BIN)/python -m benchmarks.startup
	$(BIN)/python -m benchmarks.processor_memory
	$(BIN)/python -m benchmarks.approx_memory
	$(BIN)/python -m benchmarks.run_picture
	$(BIN)/python -m benchmarks.archive_latency
	$(BIN)/python -m benchmarks.latency
	$(BIN)/python -m benchmarks.report

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
