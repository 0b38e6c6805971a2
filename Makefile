# Quartermaster tasks: used by the README, CI (.ci/run → make test) and people alike.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY       := .venv/bin/python
PIP      := .venv/bin/pip
CACHE    ?= $(or $(QM_CACHE_DIR),$(HOME)/.cache/quartermaster)
LLAMA    := llama-cpp-python==0.3.36
MODEL    ?= qwen2.5-coder-0.5b
JUDGE_MODEL ?= qwen2.5-coder-1.5b
export QM_CACHE_DIR := $(CACHE)

.PHONY: help setup setup-python setup-bench setup-llama setup-kafka setup-prometheus model up down demo test test-fast \
        lint typecheck schemas asyncapi-view check bench bench-planner bench-load bench-parser bench-parser-model clean

help: ## Show the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: setup-python setup-llama setup-kafka setup-prometheus model ## Everything a fresh machine needs (venv, llama.cpp, Kafka jars, Prometheus, model)

setup-python: .venv/.installed ## Virtualenv with the project and dev tools; builds the planner's C search once
	@$(PY) -c 'from services.planner import sisr; sisr.available()'
.venv/.installed: pyproject.toml
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@touch $@

setup-bench: .venv/.bench ## VROOM and PyVRP for `qm bench planner --solver` (the bench extra; wheels, ~15 s)
.venv/.bench: .venv/.installed
	$(PIP) install -q --only-binary=pyvroom,pyvrp -e '.[dev,bench]'
	@touch $@

setup-llama: .venv/.llama ## llama-cpp-python, built once into the cache (about 7 min on 2 cores)
.venv/.llama: .venv/.installed
	@mkdir -p $(CACHE)/wheels
	@ls $(CACHE)/wheels/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "building $(LLAMA) once (about 7 minutes on 2 cores)…"; \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) wheel -q --no-deps $(LLAMA) -w $(CACHE)/wheels; }
	$(PIP) install -q --find-links $(CACHE)/wheels $(LLAMA)
	@touch $@

setup-kafka: ## Apache Kafka jars from Maven Central into the cache
	deploy/kafka/kafka.sh fetch

setup-prometheus: ## Prometheus + promtool (Debian package), installed only where missing
	deploy/prometheus/prometheus.sh install

model: setup-python ## Fetch and verify the pinned GGUF models (extraction + red-line judge) into the cache
	.venv/bin/qm model fetch $(MODEL)
	.venv/bin/qm model fetch $(JUDGE_MODEL)

up: setup ## Start Kafka, the services and Prometheus locally
	deploy/kafka/kafka.sh start
	.venv/bin/qm topics create
	deploy/local.sh start
	deploy/prometheus/prometheus.sh start
	@echo "Prometheus: $$(deploy/prometheus/prometheus.sh url)"

down: ## Stop everything `make up`/`make demo` started
	-deploy/prometheus/prometheus.sh stop
	-deploy/local.sh stop
	deploy/kafka/kafka.sh stop

demo: setup ## Set up, start everything, submit sample orders, stop at a plan awaiting approval
	deploy/demo.sh

test: setup setup-bench ## Set up, then run lint, types, schema drift and every test (real Kafka, real model)
	deploy/test.sh

test-fast: setup-python setup-bench ## Unit and in-memory handler tests only (no Kafka, no model)
	.venv/bin/pytest -m "not kafka and not llm" -q

lint: setup-python ## ruff
	.venv/bin/ruff check services schemas lab tests

typecheck: setup-python ## mypy --strict
	.venv/bin/mypy

schemas: setup-python ## Regenerate schemas/json: JSON Schemas from the models, AsyncAPI (asyncapi/) from the service apps
	$(PY) -m schemas.export
	$(PY) -m lab.asyncapi

asyncapi-view: setup-python ## The AsyncAPI documents as pages that open offline (.run/asyncapi/*.html; the viewer is fetched once into the cache)
	$(PY) -m lab.asyncapi_view .run/asyncapi

check: lint typecheck ## Lint, types and schema drift
	$(PY) -m schemas.export --check
	$(PY) -m lab.asyncapi --check

bench: bench-planner bench-parser bench-load ## Every benchmark table (planner gap, parser accuracy/latency, load)

bench-planner: setup-bench ## Planner gap to best-known (BENCH_SET=, TIME=s, SOLVERS="vroom pyvrp")
	mkdir -p .run && .venv/bin/qm bench planner $(or $(BENCH_SET),../shared/bench/solomon) \
	  --bks ../shared/bench/bks.csv --time-limit $(or $(TIME),30) --json .run/bench-planner.json \
	  $(foreach s,$(SOLVERS),--solver $(s))

EVAL_CORPORA := tests/eval/own-tune.jsonl tests/eval/own-holdout.jsonl tests/eval/multi-tune.jsonl \
  tests/eval/multi-holdout.jsonl ../shared/eval/orders-dev.jsonl ../shared/eval/adversarial-dev.jsonl
bench-parser: setup setup-bench ## Parser and red-line layers on both halves of our corpus and the dev files, side by side
	mkdir -p .run && .venv/bin/qm eval parser $(foreach c,$(EVAL_CORPORA),--corpus $(c)) \
	  --scenario ../shared/eval/scenario.yaml --backend rules \
	  --backend rules@judge=encoder:$(MODEL) --backend rules@judge=prompt:$(JUDGE_MODEL) \
	  --backend rules@judge=both $(if $(LIMIT),--limit $(LIMIT)) --json .run/eval-parser.json

bench-parser-model: setup setup-bench ## The same with the model extracting what the rules cannot (slow: ~10 s per such order)
	mkdir -p .run && .venv/bin/qm eval parser $(foreach c,$(EVAL_CORPORA),--corpus $(c)) \
	  --scenario ../shared/eval/scenario.yaml --backend rules@judge=both \
	  --backend llama:$(MODEL)@fallback@judge=both $(if $(LIMIT),--limit $(LIMIT)) \
	  --json .run/eval-parser-model.json

bench-load: setup setup-bench ## Parser throughput on a real broker, 1 vs 2 parser processes
	deploy/kafka/kafka.sh start
	.venv/bin/qm bench load --orders $(or $(ORDERS),5000) --parsers 1,2 $(if $(REPEAT),--repeat $(REPEAT))

clean: down ## Stop everything and delete local state (.run)
	rm -rf .run
