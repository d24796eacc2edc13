# govguard developer tasks. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv/bin
# System packages the controller itself needs: Pango (and HarfBuzz's subsetter) for WeasyPrint's
# PDF reports, and fonts-dejavu-core, a font covering Vietnamese that the PDFs embed (without
# one `govguard report --format pdf` fails rather than print boxes). `make setup` installs
# them when run as root, so `make demo` makes PDFs on a fresh Debian.
RUN_APT := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# System packages the tests need: iproute2 for the network-namespace scenarios, postgresql for the
# store tests (they use the server on 127.0.0.1:5432 when one answers, else start a private one),
# chromium for the dashboard's browser tests (Playwright drives it; it never downloads a browser),
# fonts-dejavu-core so Vietnamese text renders in their screenshots, and poppler-utils (pdftotext,
# pdffonts, pdftoppm) to read back the PDF reports; snmpd (net-snmp's agent, polled over
# loopback with v2c and v3), snmp (snmpbulkwalk/snmpset, the peer of bench/snmp_poll.py) and
# openssh-server/openssh-client (an sshd on a loopback port for the agentless SSH tests);
# nftables (nft: enable_firewall.yml loads its ruleset inside the playbooks' test host, and the
# agent reads it back); prometheus (promtool checks /metrics and the alert rules, and a real
# Prometheus scrapes a controller); nginx with its stream module (the scale-out test puts the
# shipped packaging/nginx/govguard.conf in front of three controller processes).
TEST_APT := $(RUN_APT) iproute2 postgresql chromium poppler-utils snmpd snmp openssh-server \
	openssh-client nftables prometheus nginx libnginx-mod-stream
# The peers the footprint benchmark compares the agent with.
BENCH_APT := fusioninventory-agent ocsinventory-agent

.PHONY: help setup demo clean-demo check lint typecheck test test-unit messages schema config-docs bench bench-ingest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

setup: ## create .venv and install govguard with its development tools
	@scripts/setup.sh $(RUN_APT)

# DEMO_ARGS: more options of `govguard demo`, e.g. DEMO_ARGS=--smoke (the bounded run CI uses);
# GOVGUARD_DEMO_DIR and GOVGUARD_DEMO_PORT move its folder (.demo) and port (8443).
demo: setup ## set up and run the example district: controller, worker, snmpsim, this PC's and simulated agents (Ctrl-C stops)
	$(VENV)/govguard-agent once --summary --config examples/agent-demo.yaml
	$(VENV)/govguard demo $(DEMO_ARGS)

clean-demo: ## forget the demo's controller, agents and network (.demo/)
	rm -rf .demo

check: ## set up everything and run lint, type checks and the whole test suite (what CI runs)
	@scripts/setup.sh $(TEST_APT)
	$(MAKE) lint typecheck test

lint: ## ruff lint and format check
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: ## mypy (strict on agent/ and controller/)
	$(VENV)/mypy

# Two workers: the suite mostly waits (controller and agent processes, PostgreSQL, sleeps of the
# scenarios), so two halves overlap well on two cores. tests/support/scheduling.py keeps the
# browser suite and modules sharing a real agent run each on one worker.
test: ## the whole pytest suite on two workers, integration tests included (needs root for namespaces)
	$(VENV)/pytest -n 2 --dist loadgroup --durations=25

test-unit: ## only the unit tests (no root; PostgreSQL on 127.0.0.1:5432 or its binaries)
	$(VENV)/pytest tests/unit

messages: ## extract the dashboard's messages and merge them into the Vietnamese catalogue
	$(VENV)/pybabel extract -F controller/web/babel.cfg -k N_ -k gettext -k ngettext:1,2 \
		--no-location --omit-header --sort-output -o controller/web/translations/messages.pot .
	$(VENV)/pybabel update --no-wrap --omit-header -i controller/web/translations/messages.pot \
		-d controller/web/translations -l vi

schema: ## regenerate docs/report-schema.json and docs/host-facts-schema.json from the models
	$(VENV)/govguard-agent schema --out docs/report-schema.json
	$(VENV)/python -c 'import json; from controller.policy.host_facts import json_schema; \
	print(json.dumps(json_schema(), indent=2, ensure_ascii=False))' > docs/host-facts-schema.json

config-docs: ## regenerate docs/configuration.md from the settings models
	$(VENV)/python -m controller.config_reference

bench: ## footprint benchmark against fusioninventory-agent and ocsinventory-agent
	@scripts/setup.sh $(BENCH_APT)
	@# The agent is measured as an office PC runs it: installed with its runtime dependencies
	@# only (the development venv adds packages that change what msgspec imports at start-up).
	@test -x .bench-venv/bin/python || python3 -m venv .bench-venv
	@.bench-venv/bin/python -m pip install -q --upgrade --force-reinstall --no-deps . >/dev/null
	@.bench-venv/bin/python -m pip install -q . >/dev/null
	$(VENV)/python bench/agent_footprint.py --agent .bench-venv/bin/govguard-agent

bench-ingest: setup ## ingest benchmark: signed reports into a controller vs a bare endpoint
	$(VENV)/python bench/ingest.py

clean: ## remove the virtual environment, caches and the demo
	rm -rf .demo .venv .bench-venv .mypy_cache .pytest_cache .ruff_cache build *.egg-info
