.PHONY: install regenerate check test demo bench clean ts-install ts-check ts-test release docs-check docs-fingerprints
VENV ?= .venv
PY := $(VENV)/bin/python
SPEC := spec/modelstudio.yaml
VECTORS := spec/conformance/generated
# The contract as last released: `make check` fails on a breaking change against it unless
# info.version's major is raised; `make release` refreshes it.
RELEASED := spec/released/modelstudio.yaml
STAMP := $(VENV)/.installed
# Saved copies of the docs pages the spec cites (x-docs-pages.<id>.file).
DOCS ?=
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
	@$(PY) -m codegen diff HEAD:$(SPEC) $(SPEC) || true

check: $(STAMP)
	$(PY) -m codegen $(SPEC) --out generated --vectors $(VECTORS) --check
	$(PY) -m codegen diff $(RELEASED) $(SPEC) --fail-on-breaking --quiet
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

release: $(STAMP)
	$(PY) -m codegen diff $(RELEASED) $(SPEC)
	cp $(SPEC) $(RELEASED)

docs-check: $(STAMP)
	@test -n "$(DOCS)" || { echo 'usage: make docs-check DOCS=<folder of saved docs pages>'; exit 2; }
	$(PY) -m codegen docs-check $(DOCS)

# After re-reading what docs-check listed: record the cited sections' text as it is now.
docs-fingerprints: $(STAMP)
	@test -n "$(DOCS)" || { echo 'usage: make docs-fingerprints DOCS=<folder of saved docs pages>'; exit 2; }
	$(PY) -m codegen docs-check $(DOCS) --update-fingerprints \
		--write-excerpts tests/fixtures/docs-excerpts.json

demo: $(STAMP)
	$(PY) -m modelstudio._demo

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py
	$(PY) bench/run_typescript.py
