# Everything a fresh clone needs: `make test` and `make run` install, fetch the data, then do their job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install data test run smoke bench test-slurm replicate-check clean-venv

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .  # Utils, Models importable anywhere
	touch $@

data: install
	$(PY) -m Utils.fetch_data

test: install data
	$(PY) -m pytest

run: install data
	$(PY) vae_experiments/mnist_vae.py --preset quick

smoke: install data
	$(PY) vae_experiments/mnist_vae.py --preset smoke

test-slurm: install data  ## opt-in (root + apt): a real single-node Slurm cluster runs a 2-cell grid array job
	bash Tests/slurm/run_slurm_smoke.sh

bench: install data  ## speed benchmark table (about 45 min on 2 slow cores); BENCH_ARGS=--quick for a ~2 min check
	$(PY) Tests/benchmarks/bench_speed.py $(BENCH_ARGS)

replicate-check: install  ## every shipped budget's tables and figure data (and the DLGMM tables) regenerate exactly from their records (Results/runs*)
	$(PY) vae_experiments/replication_report.py --check
	$(PY) vae_experiments/dlgmm_report.py --check

clean-venv:
	rm -rf $(VENV)
