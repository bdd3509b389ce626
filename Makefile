# recbole-easrec: `make demo` and `make test` work on a fresh machine (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= saved/demo

.PHONY: install demo test test-upstream test-upstream-ci lint format bench bench-scaling bench-sparse bench-speed bench-report clean

install: $(STAMP)

$(STAMP): requirements.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# RecBole 1.2.1 pins ray<=2.6.3 (NumPy 1 only): install it without its pins (see README).
	$(PY) -m pip install --quiet --no-deps recbole==1.2.1
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# EASRec search (2-layer supernet) + retraining on ml-100k, then architecture, cost, metrics, top-10
DEMO_USER ?= 1
demo: install
	$(PY) run_recbole_easrec.py --model=EASRec --dataset=ml-100k --train_mode=autoregressive \
		--MAX_ITEM_LIST_LENGTH=50 --n_layers=2 --hidden_dropout_prob=0.2 --attn_dropout_prob=0.2 \
		--epochs=8 --retrain_epochs=20 --train_batch_size=64 --retrain_batch_size=128 \
		--gumbel_tau_decay=5e-3 --max_train_seconds=150 --efficiency_repeats=1 \
		--show_progress=False --output_dir=$(DEMO_DIR)
	$(PY) -m recbole_easrec.demo $(DEMO_DIR) --user=$(DEMO_USER)

test: install
	$(PY) -m pytest -q

# RecBole 1.2.1's own test suite under our compatibility layer (docs/compatibility.md).
RECBOLE_TESTS ?= ../shared/recbole-tests
test-upstream: install
	tools/test_upstream.sh $(PY) $(RECBOLE_TESTS)

# the same without the slowest model tests (DIN, DIEN): what .ci/run runs
test-upstream-ci: install
	tools/test_upstream.sh --ci $(PY) $(RECBOLE_TESTS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install bench-scaling bench-speed

# benchmarks/README.md lists every result, its command and how long it takes
bench-scaling: install
	$(PY) -m benchmarks run attention_scaling

bench-sparse: install
	$(PY) -m benchmarks run dsl_sparse_inference

# ML-1M at the paper's settings (about 15 minutes on 2 cores); needs ../shared/datasets/ml-1m
bench-speed: install
	$(PY) -m benchmarks run speed

# every benchmarks/results/*.md and .png rebuilt from its JSON (seconds, no training)
bench-report: install
	$(PY) -m benchmarks report --all

clean:
	rm -rf $(VENV) saved log log_tensorboard .pytest_cache
