# quidam: a thin front end over the `quidam` command line.
# Every target runs `setup` first when the environment is missing or stale.

VENV    ?= .venv
QUIDAM  := $(VENV)/bin/quidam
PYTEST  := $(VENV)/bin/pytest
STAMP   := $(VENV)/.quidam-installed

PE      ?= lightpe1
OUT     ?= build/$(PE)
SWEEP   ?= default
JOBS    ?=

.PHONY: help setup test test-fast generate characterize characterize-mac characterize-blocks models explore report coexplore

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup:  ## Create .venv, install quidam + dev extras, apt-get iverilog/opensta/verilator if missing
	@VENV=$(VENV) ./scripts/setup.sh

$(STAMP): pyproject.toml
	@VENV=$(VENV) ./scripts/setup.sh

test: $(STAMP)  ## Run the test suite (RTL simulations included)
	$(PYTEST) -n auto --dist worksteal

test-fast: $(STAMP)  ## Run the fast tier: no RTL simulation, no tool, nothing slow (markers in tests/conftest.py)
	$(PYTEST) -n auto --dist worksteal -m "not rtl and not tools and not slow"

generate: $(STAMP)  ## Generate the MAC unit of PE=fp32|int16|lightpe1|lightpe2|int into OUT (default build/PE)
	$(QUIDAM) generate --unit mac --pe $(PE) --out $(OUT)

characterize: $(STAMP)  ## Sweep PE (SWEEP=default|full|FILE.yaml, JOBS=N) on Dask into runs/ and data/characterization/PE.csv
	$(QUIDAM) characterize --pe $(PE) --sweep $(SWEEP) $(if $(JOBS),--jobs $(JOBS))

characterize-blocks: $(STAMP)  ## Characterize the blocks (PE, MAC, scratchpads, GLB, controller) into data/characterization/blocks/
	$(QUIDAM) characterize-blocks

characterize-mac: $(STAMP)  ## Synthesize, time and power the MAC unit of PE (Yosys + OpenSTA on Nangate45) into runs/
	$(QUIDAM) characterize-mac --pe $(PE)

models: $(STAMP)  ## Fit the PPA model cards of every committed dataset (models/cards/), accuracy report in reports/models/
	$(QUIDAM) fit

# The six workload/dataset pairs of the exploration (QADAM's and QUIDAM's networks).
EXPLORE_PAIRS := vgg16:cifar10 resnet20:cifar10 resnet56:cifar100 vgg16:imagenet resnet34:imagenet resnet50:imagenet

explore: $(STAMP)  ## Explore the default space on the six workloads from the committed cards into reports/explore/
	@set -e; for pair in $(EXPLORE_PAIRS); do \
	  $(QUIDAM) explore --workload $${pair%%:*} --dataset $${pair##*:}; done

report: $(STAMP)  ## One HTML page (reports/quidam.html): model accuracy, exploration results, comparison with QADAM
	$(QUIDAM) report --out reports/quidam.html

# The digits networks of quidam accuracy; each trains on its own core, kept results are never retrained.
COEXPLORE_NETS := resnet8 vgg8

coexplore: $(STAMP)  ## Accuracy of every format x 5 seeds on digits (trained only when missing), fronts vs perf/area and energy into reports/coexplore/
	@set -e; pids=; for net in $(COEXPLORE_NETS); do \
	  $(QUIDAM) accuracy --network $$net --dataset digits & pids="$$pids $$!"; done; \
	  for pid in $$pids; do wait $$pid; done
	@set -e; for net in $(COEXPLORE_NETS); do $(QUIDAM) coexplore --network $$net --dataset digits; done
