.PHONY: install regenerate check test demo bench clean
VENV ?= .venv
PY := $(VENV)/bin/python
SPEC := spec/modelstudio.yaml
VECTORS := spec/conformance/generated
STAMP := $(VENV)/.installed

install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip uninstall -q -y modelstudio 2>/dev/null || true  # the distribution's old name
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

regenerate: $(STAMP)
	$(PY) -m codegen $(SPEC) --out generated --vectors $(VECTORS)

check: $(STAMP)
	$(PY) -m codegen $(SPEC) --out generated --vectors $(VECTORS) --check
	$(PY) -m openapi_spec_validator $(SPEC)
	$(VENV)/bin/ruff check codegen generated tests bench
	$(VENV)/bin/ruff format --check codegen generated tests bench
	$(VENV)/bin/mypy

test: check
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m modelstudio._demo

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py
