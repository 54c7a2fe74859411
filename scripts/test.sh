#!/bin/sh
# Install kb and its test tools into .venv from the lock (plus Debian's chromium, postgresql and a Chinese font
# when missing and we may install them), then run the checks (ruff, ruff format, mypy, import-linter) and the whole test suite.
set -eu
cd "$(dirname "$0")/.."
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
# a Chinese font, so the browser tests' screenshots show characters rather than boxes
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need="$need fonts-wqy-microhei"
if [ -n "$need" ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# the locked set (scripts/lock.sh regenerates it from setup.cfg), then kb itself without resolving anything again
.venv/bin/python -m pip install --quiet -r requirements/test.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy kb
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q -n auto --dist loadgroup "$@"
