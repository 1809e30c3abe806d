#!/usr/bin/env sh
# Creates the Python venv the test suite uses (target/venv at the workspace root) and installs
# the pinned packages of scripts/requirements-test.txt into it. Safe to run again: an existing
# venv is reused and brought up to the pins.
#
# Usage: scripts/setup-python.sh            (from anywhere inside the workspace)
# Tests find the venv at target/venv, or at $SPANFORGE_VENV when that is set.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
venv=${SPANFORGE_VENV:-"$root/target/venv"}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet -r "$root/scripts/requirements-test.txt"

# Show the pinned packages as installed.
names=$(sed -n 's/^\([A-Za-z0-9_.-][A-Za-z0-9_.-]*\)==.*/\1/p' "$root/scripts/requirements-test.txt")
echo "installed into $venv:"
for name in $names; do
    "$venv/bin/python" -m pip freeze | grep -i "^$name==" || echo "  $name: missing"
done
