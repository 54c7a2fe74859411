#!/bin/sh
# Regenerate the lock files from setup.cfg with pip-tools: requirements/test.txt (install_requires plus the test
# extra: what scripts/test.sh installs) first, then requirements/service.txt (install_requires alone: what
# scripts/demo.sh and a deployment install), constrained by it so the two never pin a package differently.
# Pins that still satisfy setup.cfg are kept; pass --upgrade or --upgrade-package NAME to move them.
# pip-tools runs from a venv of its own, so the project's .venv holds only what the lock says.
set -eu
cd "$(dirname "$0")/.."
tools="${TMPDIR:-/tmp}/kb-pip-tools"
[ -x "$tools/bin/pip-compile" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install --quiet "pip-tools==7.7.0"; }
compile() {
    CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$tools/bin/pip-compile" --quiet --strip-extras \
        --no-emit-index-url --no-emit-find-links "$@" setup.cfg
}
compile --extra test "$@" --output-file requirements/test.txt
compile --constraint requirements/test.txt "$@" --output-file requirements/service.txt
