#!/bin/sh
# Install kb into .venv from the lock (requirements/service.txt), create an instance with the demo content and serve
# it on 127.0.0.1.
# KB_INSTANCE_DIR (default ~/.local/share/kb), KB_PORT (default 8080), KB_ADMIN_PASSWORD are honoured.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements/service.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/kb init --demo
exec .venv/bin/kb serve --host 127.0.0.1 --port "${KB_PORT:-8080}"
