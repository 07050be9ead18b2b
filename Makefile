# Two commands on a fresh machine: `make demo` and `make test`. Both install first (`make setup`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch. GPU users: create .venv and install their own torch build into it first;
# setup keeps a torch that is already there.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test bench mutation clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
		|| echo "note: could not install dataset-fashion-mnist; tests that need it will skip"; fi
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
		|| echo "note: could not install chromium; the report's browser test will skip"; fi
	touch $@

demo: setup
	$(BIN)/vaelab demo

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/throughput.py

# Mutation testing of the formula and estimator modules ([tool.mutmut] in pyproject.toml; docs/testing.md): hours
# on 2 cores. One thread per test process: forked children must not share an OpenMP pool.
mutation: setup
	$(BIN)/pip install --quiet -e ".[mutation]"
	OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $$(nproc)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache mutants
