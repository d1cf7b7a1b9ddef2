# courtarchive: two commands on a fresh machine - `make demo` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PG_DSN ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DEMO_DIR ?= demo-out
DEMO_CASES ?= 3000
# The suite runs on both cores (pytest-xdist); a worker takes a whole test file at a time, so a
# module's fixtures are built once.  `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2

.PHONY: install browser test test-slow demo bench clean

$(UV):
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (this project's CI is one
# such machine) Python would otherwise compile every imported module on every start, ~4 s of a
# 25k-case `courtarchive analyse` run.  Our own sources are compiled on each install (cheap when
# unchanged).
.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

install: .venv/.installed
	@$(UV) run --frozen python -m compileall -q src >/dev/null

# Debian's Chromium drives the browser tests (Playwright never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || true; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
			sudo apt-get install -y -q chromium >/dev/null 2>&1 || true; \
		fi; \
		[ -x /usr/bin/chromium ] || echo "no /usr/bin/chromium: browser tests will be skipped (apt-get install -y chromium)"; \
	fi

# PostgreSQL store tests run when the server answers (CI and this machine); else they skip visibly.
# (one recipe for both suites: `make test` the default run, `make test-slow` the slow one)
define run_pytest
	@if [ -z "$$COURTARCHIVE_TEST_PG" ] && $(UV) run --frozen python -c "import psycopg; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=test', connect_timeout=3).close()" 2>/dev/null; then \
		export COURTARCHIVE_TEST_PG=$(PG_DSN); echo "PostgreSQL answers: store suite runs on SQLite and PostgreSQL"; \
	fi; \
	$(UV) run --frozen pytest -q -p no:cacheprovider -n $(2) --dist loadfile $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
endef

test: install browser
	$(call run_pytest,,$(PYTEST_WORKERS))

# the scale and long-running tests (marked slow), on both backends like `make test`; in one
# process: Spark's JVM takes a core of its own
test-slow: install browser
	$(call run_pytest,-m slow,0)

demo: install
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	COURTARCHIVE_HOME=$(DEMO_DIR)/home $(UV) run --frozen bash scripts/demo.sh $(DEMO_DIR) $(DEMO_CASES)

bench: install
	$(UV) run --frozen python bench/ingest.py

clean:
	rm -rf $(DEMO_DIR) .venv courtarchive-data
