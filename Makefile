# dtcd developer commands. `make demo` and `make test` install first when .venv is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYNTH := data/synth

.PHONY: install test test-fast demo lint format clean

install: $(STAMP)

# Re-running is cheap: the stamp is rebuilt only when the project metadata changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev,terratorch]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Everything except the tests marked slow, for quick local iteration.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

demo: $(STAMP)
	$(BIN)/python -m dtcd.demo --synth-dir $(SYNTH)

lint: $(STAMP)
	$(BIN)/ruff check dtcd tests benchmarks notebooks
	$(BIN)/ruff format --check dtcd tests benchmarks notebooks

format: $(STAMP)
	$(BIN)/ruff format dtcd tests benchmarks notebooks
	$(BIN)/ruff check --fix dtcd tests benchmarks notebooks

clean:
	rm -rf $(VENV) $(SYNTH) lightning_logs
