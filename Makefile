# corpus-search: `make app` opens the app on the bundled corpus; `make test` runs the tests.
# Both create .venv and install everything on a fresh machine; nothing else is needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# apt waits for a lock another install holds (up to 10 min) instead of failing: a fresh machine that lost
# that race was left without tesseract, chromium and the word list, and its tests skipped or scored apart.
APT    := apt-get -o DPkg::Lock::Timeout=600
PIP    := $(PY) -m pip
CLI    := $(VENV)/bin/corpus-search
PORT   ?= 8501
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install install-dev browser tesseract wordlist iproute2 pandoc index app test test-fast bench eval clean

install: $(VENV)/.installed

# torch first, as the local CPU build; constraints.txt keeps every later install from replacing it.
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -r requirements.txt
	$(PIP) install -q -c constraints.txt --no-deps -e .
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -c constraints.txt -r requirements-dev.txt
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then ($(APT) update -qq && $(APT) install -y -qq chromium >/dev/null) || echo "chromium could not be installed: browser tests will be skipped"; \
	else echo "chromium missing and not root: browser tests will be skipped (sudo apt-get install chromium)"; fi

# Debian's Tesseract (OCR of scanned PDFs) with its English data; CORPUS_SEARCH_OCR_LANGUAGE may name
# other packs (tesseract-ocr-rus, tesseract-ocr-chi-sim, ...), installed the same way.
tesseract:
	@if command -v tesseract >/dev/null && [ -n "$$(tesseract --list-langs 2>/dev/null | grep -x eng)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then ($(APT) update -qq && $(APT) install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null) || echo "tesseract could not be installed: scanned PDFs will not be OCR'd and the OCR tests will be skipped"; \
	else echo "tesseract missing and not root: scanned PDFs will not be OCR'd and the OCR tests will be skipped (sudo apt-get install tesseract-ocr tesseract-ocr-eng)"; fi
# Debian's iproute2 (`ip netns`) for tests/test_hosts.py, which runs cluster nodes in network namespaces
# (root only); minimal Debian images leave it out.
iproute2:
	@if command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then ($(APT) update -qq && $(APT) install -y -qq iproute2 >/dev/null) || echo "iproute2 could not be installed: the several-hosts tests will be skipped"; \
	else echo "no ip command and not root: the several-hosts tests will be skipped (they need root and iproute2)"; fi
# Debian's pandoc: tests/formats_fixtures.py makes the Word and web-page fixtures from the CRS reports'
# Markdown with it (real text, not hand-written samples); without it those format tests are skipped.
pandoc:
	@if command -v pandoc >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then ($(APT) update -qq && $(APT) install -y -qq pandoc >/dev/null) || echo "pandoc could not be installed: the Word/web-page format tests will be skipped"; \
	else echo "pandoc missing and not root: the Word/web-page format tests will be skipped (sudo apt-get install pandoc)"; fi
# Debian's English word list: the entity noise rules take its lower-case words as ordinary words.
wordlist:
	@if [ -r /usr/share/dict/words ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then ($(APT) update -qq && $(APT) install -y -qq wamerican >/dev/null) || echo "wamerican could not be installed: entity rules use the corpus's own words"; \
	else echo "no /usr/share/dict/words: entity rules use the corpus's own words (sudo apt-get install wamerican)"; fi

# Builds when sources changed or no index exists; otherwise returns at once.
index: install tesseract wordlist
	$(CLI) build

app: index
	$(CLI) app --port $(PORT)

# Two pytest-xdist workers, each module whole on one (tests/conftest.py keeps the Ray, netns, browser and
# kill -9 modules together on one worker): 835-885 s instead of 1452 s on two cores. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: install-dev browser tesseract wordlist iproute2 pandoc
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install-dev tesseract
	$(PY) -m pytest -m "not browser and not slow"

bench: install-dev
	$(PY) bench/run_all.py

# Ranking quality on the frozen questions (bench/eval/): the dev set; --set heldout only when a change is final.
eval: install-dev
	$(PY) -m corpus_search --index bench/out/eval-index build
	$(PY) bench/eval_ranking.py --index bench/out/eval-index --set dev

clean:
	rm -rf indexes .pytest_cache
