# Two commands from a fresh clone:  `make demo` (set up, then launch the app)  and  `make test`.
# Each creates or refreshes .venv when requirements change, then runs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tests (and the app processes they start) share one repo-local, git-ignored cache.
TEST_CACHE := $(CURDIR)/.cache/latent
FAST := not slow and not browser

.PHONY: setup demo serve test test-fast bench bench-batch bench-gpu bench-startup clean-cache

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar off -r requirements.txt
	$(PY) -m pip install --progress-bar off --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --progress-bar off --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) -m app.launch

# Hosted mode for strangers: ADDRESS=0.0.0.0 make serve (default 127.0.0.1), PORT=8501.
ADDRESS ?= 127.0.0.1
PORT    ?= 8501
serve: setup
	$(PY) -m app.launch --hosted --address $(ADDRESS) --port $(PORT)

test: setup
	LATENT_CACHE_DIR=$(TEST_CACHE) $(PY) -m pytest

test-fast: setup
	LATENT_CACHE_DIR=$(TEST_CACHE) $(PY) -m pytest -m "$(FAST)"

# The benchmark suite: benchmarks/report.md and report.csv, every row a ratio against its reference in one run
# (latentis rows need `pip install -r benchmarks/requirements-bench.txt`; GPU rows need LATENT_DEVICE=cuda).
bench: setup
	LATENT_CACHE_DIR=$(TEST_CACHE) $(PY) benchmarks/suite.py

# The batch pipeline's throughput (translate 20k and 1M synthetic rows, encode 20k BBC sentences) in one local Ray
# session against bare numpy / encoder references, with peak memory per worker (5-10 min on 2 shared cores).
bench-batch: setup
	LATENT_CACHE_DIR=$(TEST_CACHE) $(PY) benchmarks/batch_speed.py --json benchmarks/report-batch.json

# On a GPU machine: the GPU rows (benchmarks/report-gpu.md) and the CUDA tests, in under 8 minutes.
bench-gpu:
	bash benchmarks/gpu.sh

bench-startup: setup
	$(PY) benchmarks/startup.py

clean-cache:
	rm -rf $(TEST_CACHE)
