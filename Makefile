# One set-up path for a fresh machine: every target installs what it needs.
#   make demo   start the local default and converge inventories/local
#   make test   lint + unit tests + collection build + molecule
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
BIN      := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
INVENTORY ?= inventories/local
STAMP    := $(VENV)/.installed

.PHONY: help venv deps up down reset env status demo converge teardown check-mode \
        lint pytest sanity build molecule test clean lock bench bench-e2e bench-deploy

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP) ## Create the project virtualenv with the pinned Python packages

deps: ## Install the Debian packages the local default needs (PostgreSQL 15, curl, openssl)
	@missing=""; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql-15"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

up: venv deps ## Start the emulator (HTTPS, 127.0.0.1:5055) and PostgreSQL 15 (127.0.0.1:55432); SMARTSTREAM_EMULATOR_SLOW=60: AWS times / 60
	scripts/localenv.sh up

down: ## Stop the emulator and PostgreSQL
	scripts/localenv.sh down

reset: ## Wipe the emulator's state
	scripts/localenv.sh reset

env: ## Print the exports that aim the AWS CLI at the emulator: eval "$(make -s env)"
	@scripts/localenv.sh env

status: ## Say what runs where
	scripts/localenv.sh status

demo: up ## Deploy into the emulator, seed, show changes arriving stage by stage, then the answers in SQL
	$(BIN)/ansible-playbook playbooks/site.yml -i $(INVENTORY)
	$(BIN)/ansible-playbook playbooks/seed.yml -i $(INVENTORY)
	$(BIN)/ansible-playbook playbooks/replication.yml -i $(INVENTORY) -e replication_action=start
	$(PY) -m tests.harness.demo
	$(BIN)/ansible-playbook playbooks/crawlers.yml -i $(INVENTORY)
	$(BIN)/ansible-playbook playbooks/train.yml -i $(INVENTORY) -e train_score_now=true
	$(BIN)/ansible-playbook playbooks/crawlers.yml -i $(INVENTORY)
	@set -o pipefail; show() { echo; echo "== $$1"; shift; \
	  $(BIN)/ansible-playbook playbooks/query.yml -i $(INVENTORY) "$$@" \
	  | sed -n '/^TASK \[.*Query | Result\]/,/^$$/p' | sed -e '1,3d' -e '/^$$/d' -e 's/^        //'; }; \
	show "Current employees (view current_employees)" -e '{"query_sql": "SELECT count(*) AS current_employees, count(DISTINCT department) AS departments FROM current_employees"}'; \
	show "Salary by department (view salary_by_department)" -e query_view=salary_by_department; \
	show "Changes per day (view changes_per_day)" -e query_view=changes_per_day; \
	show "Anomalies the model found (view salary_anomalies)" -e query_view=salary_anomalies

converge: up ## Converge the inventory (INVENTORY=inventories/local)
	$(BIN)/ansible-playbook playbooks/site.yml -i $(INVENTORY)

teardown: up ## Tear the inventory's environment down
	$(BIN)/ansible-playbook playbooks/teardown.yml -i $(INVENTORY)

lint: venv ## yamllint, ansible-lint (production profile), ruff
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: up ## pytest: plugins, emulator patches and engines (unit), playbooks (integration), the data path (e2e)
	$(BIN)/pytest

build: venv ## Build the collection tarball into dist/ and install it into a scratch path
	rm -rf dist && mkdir -p dist
	$(BIN)/ansible-galaxy collection build --output-path dist --force
	printf '[defaults]\n' > dist/ansible.cfg
	ANSIBLE_CONFIG=$(CURDIR)/dist/ansible.cfg $(BIN)/ansible-galaxy collection install --offline --no-deps --force \
	  -p dist/installed dist/smartstream-pipeline-*.tar.gz
	cd dist && ANSIBLE_CONFIG=$(CURDIR)/dist/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/dist/installed \
	  $(BIN)/ansible-playbook -i localhost, --syntax-check smartstream.pipeline.site smartstream.pipeline.teardown

sanity: venv ## ansible-test sanity of what the collection ships (validate-modules, import, pylint, pep8, ...)
	scripts/sanity.sh

molecule: up ## Molecule default scenario: check mode, converge, idempotence, verify, teardown
	cd $(CURDIR) && $(BIN)/molecule reset -s default >/dev/null && $(BIN)/molecule test -s default

test: lint sanity pytest build molecule ## Everything CI runs

lock: ## Re-pin requirements.txt from requirements.in (needs the registry)
	python3 -m venv /tmp/smartstream-lock && /tmp/smartstream-lock/bin/pip install -q -r requirements.in
	/tmp/smartstream-lock/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.txt

bench: venv ## Benchmarks of the Lambda cores (writes bench/results.json)
	$(PY) bench/bench_lambdas.py

bench-e2e: up ## End-to-end freshness, sustained throughput and memory of the local default (bench/results-e2e.json)
	$(BIN)/ansible-playbook playbooks/site.yml -i $(INVENTORY)
	$(BIN)/ansible-playbook playbooks/seed.yml -i $(INVENTORY)
	$(BIN)/ansible-playbook playbooks/replication.yml -i $(INVENTORY) -e replication_action=start
	$(PY) bench/bench_e2e.py

bench-deploy: up ## Deploy timings: cold and no-op site.yml, teardown; slow mode (AWS times / 60): wall vs longest dependency chain (bench/.work/results-deploy.json)
	$(PY) bench/bench_deploy.py

clean: down ## Stop everything and remove build output
	rm -rf dist outputs .pytest_cache .ruff_cache
