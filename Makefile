# lxdsite: `make run` serves on SQLite under ./var; `make test` installs everything and runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LXD_DIR ?= $(CURDIR)/var
HTTPS ?= 127.0.0.1:8443
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/lxdsite

.PHONY: run test deps venv lint bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# System packages the suite drives: the real LXD 5.0.2 daemon and lxc client, busybox (the
# static binary the daemon's test containers run), curl and
# script (lxc edit tests), Chromium and its driver (admin browser test), Redis and ss (events
# tests), nftables (the bridges the daemon makes in the network tests), and PostgreSQL.
deps: venv
	@if ! command -v lxd >/dev/null || ! command -v lxc >/dev/null || ! command -v busybox >/dev/null \
		|| ! command -v curl >/dev/null \
		|| ! command -v script >/dev/null || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
		|| ! command -v redis-server >/dev/null || ! command -v ss >/dev/null || ! command -v nft >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lxd lxd-client busybox-static curl bsdutils \
			chromium chromium-driver redis-server iproute2 nftables; \
	fi
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1 -p 5432

run: venv
	LXD_DIR=$(LXD_DIR) $(PY) manage.py serve --https $(HTTPS)

# The whole suite on SQLite (live servers run SQLite and PostgreSQL themselves), then the
# in-process tests again on PostgreSQL (pytest-django creates and drops test_lxdsite).
test: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest
	DATABASE_URL=$(TEST_POSTGRES_URL) $(VENV)/bin/pytest -m "not live"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	$(PY) -m bench --docs
