# The two commands of the quick start: `make run` and `make test`. Both build the virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test test-fast test-services bench migrate clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py runserver 127.0.0.1:8008

test: $(STAMP)
	bash tests/run_tiers.sh

test-fast: $(STAMP)
	HS_TEST_TIER=fast $(PY) -m pytest

test-services: $(STAMP)
	HS_TEST_TIER=services $(PY) -m pytest

# Benchmarks (bench/, JSON on stdout): each starts its own server on a free loopback port
# (bench/send_persisters.py, which needs PostgreSQL, Redis and nginx, is run by hand).
bench: $(STAMP)
	for b in send fanout initial_sync idle_syncs; do $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .venv-synapse data
