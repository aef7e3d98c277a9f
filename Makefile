# notice-cli: `make demo` runs the main job, `make test` the whole suite, `make bench` the
# benchmark. Each installs what it needs itself (Debian packages, the virtual environment,
# the Asterisk sandbox), so they work on a fresh Debian 12 machine as root.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUITE  ?= sid

export DEBIAN_FRONTEND := noninteractive

.PHONY: all venv demo test unit bench sandbox host-packages bench-packages clean

all: test

# Debian packages: install only what is missing, and refresh the package lists once.
define apt_need
	@missing=""; for pkg in $(1); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

host-packages:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
	$(call apt_need,debootstrap zstd)

bench-packages:
	$(call apt_need,php-cli)

$(STAMP): setup.cfg pyproject.toml
	$(MAKE) --no-print-directory host-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

sandbox: host-packages
	bash tests/asterisk/sandbox.sh $(SUITE)

demo: venv
	$(BIN)/python tests/asterisk/demo.py

unit: venv
	$(BIN)/pytest tests/unit

# The sid sandbox (Asterisk 22) is required: in CI (CI=true) its tests fail rather than skip
# without it. bullseye (Asterisk 16) is built too when it can be; its tests run when it is there.
# The reliability figures (README, "Reliability"): FUZZ_EXAMPLES cases per property-based test
# (3,400 each: 10,200 cases from the three notice-spool tests alone, more with the import and
# config tests; the run fails if fewer than MIN_CASES ran) and CRASH_RUNS processes
# killed; the figures are printed at the end. `make test CRASH_RUNS=100` for a quicker run.
FUZZ_EXAMPLES ?= 3400
MIN_CASES     ?= 10000
CRASH_RUNS    ?= 1000
# Queue delivery on Asterisk: SIGKILLs of notice run per Asterisk version (at least 200 in CI),
# and far-future notices kept out of Asterisk (100000 for the issue's full run).
ENGINE_KILLS  ?= 200
FAR_NOTICES   ?= 10000

test: venv
	-bash tests/asterisk/sandbox.sh sid >/dev/null || echo "warning: the sid sandbox could not be built"
	-bash tests/asterisk/sandbox.sh bullseye >/dev/null || echo "note: no bullseye sandbox; Asterisk 16 is not tested"
	NOTICE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) NOTICE_MIN_CASES=$(MIN_CASES) NOTICE_CRASH_RUNS=$(CRASH_RUNS) \
		NOTICE_ENGINE_KILLS=$(ENGINE_KILLS) NOTICE_FAR_NOTICES=$(FAR_NOTICES) $(BIN)/pytest

# The three benchmarks run whatever the others say; the target fails if any does.
# QUEUE_BENCH_ARGS='--queued 100000' for a quicker queue benchmark (its queues are kept in /var/tmp).
bench: venv bench-packages
	@$(BIN)/python tests/bench/bench_spool.py $(BENCH_ARGS); spool=$$?; echo; \
	$(BIN)/python tests/bench/bench_inventory.py $(INVENTORY_BENCH_ARGS); inventory=$$?; echo; \
	$(BIN)/python tests/bench/bench_queue.py $(QUEUE_BENCH_ARGS); queue=$$?; \
	exit $$(( spool > inventory ? (spool > queue ? spool : queue) : (inventory > queue ? inventory : queue) ))

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
