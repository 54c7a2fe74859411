#!/bin/sh
# Install kb and its test tools into .venv from the lock (plus Debian's chromium, postgresql, a Chinese font, Pango
# and poppler-utils when missing and we may install them), then run the checks (ruff, ruff format, mypy, import-linter) and the whole test suite.
set -eu
cd "$(dirname "$0")/.."
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
# a Chinese font, so the browser tests' screenshots show characters rather than boxes
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need="$need fonts-wqy-microhei"
# WeasyPrint's text layout (PDF export), and pdftotext, which reads the exported PDFs back in the tests
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0.so.0 || need="$need libpango-1.0-0 libpangoft2-1.0-0"
ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset.so.0 || need="$need libharfbuzz-subset0"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
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
