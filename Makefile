# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv if missing and install what they need. torch is installed first with an exact
# pin (a CPU wheel), so that no later requirement can pull a multi-GB CUDA build.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.graphsparse-installed
TORCH  := torch==2.13.0

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m graphsparse demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/masks_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
