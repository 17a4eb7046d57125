# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
STAMP  := $(VENV)/.installed

.PHONY: run test install lint unit browser-deps ocr-deps bench clean translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: create the virtual environment, install, initialise and serve on http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/kb init
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

## browser-deps: Debian's Chromium for the end-to-end test (installed when we are root)
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	else echo "chromium is missing and we are not root: the browser test will be skipped"; fi

## ocr-deps: Debian's ocrmypdf and tesseract with the programme's languages (installed when root)
OCR_LANGS    := eng fra spa rus ron srp srp_latn ara
OCR_PACKAGES := ocrmypdf tesseract-ocr $(foreach l,$(OCR_LANGS),tesseract-ocr-$(subst _,-,$(l)))
ocr-deps:
	@missing=; for l in $(OCR_LANGS); do \
	  tesseract --list-langs 2>/dev/null | grep -qx "$$l" || missing="$$missing $$l"; done; \
	if command -v ocrmypdf >/dev/null 2>&1 && [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(OCR_PACKAGES) >/dev/null; \
	else echo "ocrmypdf or tesseract languages ($$missing) are missing and we are not root:" \
	  "the OCR tests will be skipped"; fi

## translations: extract the interface's messages (babel.cfg) and merge them into each
## catalogue, kb/translations/<lang>/LC_MESSAGES/messages.po (new ones empty, gone ones
## dropped); translate the empty ones, then `make test` checks that none is missing. The
## .mo files are compiled from the .po files when the app starts (kb.i18n).
POT := build/messages.pot
translations: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel --quiet extract -F babel.cfg -k lazy_gettext -k _l -k N_ \
	  --no-location --sort-output --project=kb \
	  --ignore-dirs='.* _* build bench tests docs instance uploads' -o $(POT) .
	$(BIN)/pybabel --quiet update -i $(POT) -d kb/translations --no-fuzzy-matching \
	  --ignore-obsolete --no-wrap

lint: $(STAMP)
	$(BIN)/ruff check kb tests bench wsgi.py
	$(BIN)/mypy

## unit: every test on SQLite, then those that touch the database again on PostgreSQL
## (tests/postgres.sh finds, or installs and starts, a server; else it says why not)
unit: $(STAMP)
	$(BIN)/python -m pytest -q
	@url="$$(bash tests/postgres.sh $(BIN)/python)"; \
	if [ -n "$$url" ]; then \
	  echo "The suite again on PostgreSQL ($$url); browser and benchmark runs were once."; \
	  KB_TEST_DATABASE_URL="$$url" $(BIN)/python -m pytest -q -m "not browser" \
	    --ignore=tests/test_bench_smoke.py; \
	else echo "SKIPPED: the PostgreSQL run of the suite (see the reason above)."; fi

## test: install what the tests need, lint, type-check and run every test
test: $(STAMP) browser-deps ocr-deps lint unit

## bench: the benchmarks at full size (they print figures; they are not tests). search.py,
## search_bounds.py, oai_harvest.py and load.py reuse the instance ingest.py builds in $(BENCH_DIR);
## load.py adds to it (so it runs after those that count its documents).
ifndef BENCH_DIR
BENCH_DIR := $(shell mktemp -d -u /tmp/kb-bench-XXXXXX)
endif
bench: $(STAMP)
	$(BIN)/python bench/ingest.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/search.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/search_bounds.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/oai_harvest.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/load.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/relevance.py
	$(BIN)/python bench/crosslang.py
	$(BIN)/python bench/hidden_404.py
	$(BIN)/python bench/backup.py --workdir $(BENCH_DIR)
	$(BIN)/python bench/capacity.py
	rm -rf $(BENCH_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
