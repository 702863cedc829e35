.PHONY: install regenerate check test demo bench clean ts-install ts-check ts-test
VENV ?= .venv
PY := $(VENV)/bin/python
SPEC := spec/modelstudio.yaml
VECTORS := spec/conformance/generated
STAMP := $(VENV)/.installed
TS := generated/typescript
TS_STAMP := $(TS)/node_modules/.installed

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
	$(MAKE) ts-check

test: check
	$(PY) -m pytest -q
	$(MAKE) ts-test

# TypeScript: dev dependencies from the committed lock file, strict tsc, node --test.
ts-install: $(TS_STAMP)
$(TS_STAMP): $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(TS_STAMP)

ts-check: $(TS_STAMP)
	cd $(TS) && node_modules/.bin/tsc -p . --noEmit

ts-test: $(TS_STAMP) $(STAMP)
	rm -rf $(TS)/dist
	cd $(TS) && node_modules/.bin/tsc -p . && PYTHON=$(abspath $(PY)) node --test dist/test/*.test.js

demo: $(STAMP)
	$(PY) -m modelstudio._demo

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py
	$(PY) bench/run_typescript.py
