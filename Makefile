.PHONY: install regenerate check test demo bench clean release docs-check
VENV ?= .venv
PY := $(VENV)/bin/python
SPEC := spec/modelstudio.yaml
# The contract as last released: `make check` fails on a breaking change against it unless
# info.version's major is raised; `make release` refreshes it.
RELEASED := spec/released/modelstudio.yaml
STAMP := $(VENV)/.installed

install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

regenerate: $(STAMP)
	$(PY) -m codegen $(SPEC) --out generated
	@$(PY) -m codegen diff HEAD:$(SPEC) $(SPEC) || true

check: $(STAMP)
	$(PY) -m codegen $(SPEC) --out generated --check
	$(PY) -m codegen diff $(RELEASED) $(SPEC) --fail-on-breaking --quiet
	$(PY) -m openapi_spec_validator $(SPEC)
	$(VENV)/bin/ruff check codegen generated tests bench
	$(VENV)/bin/ruff format --check codegen generated tests bench
	$(VENV)/bin/mypy

test: check
	$(PY) -m pytest -q

release: $(STAMP)
	$(PY) -m codegen diff $(RELEASED) $(SPEC)
	cp $(SPEC) $(RELEASED)

demo: $(STAMP)
	$(PY) -m modelstudio._demo

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py
