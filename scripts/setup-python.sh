#!/usr/bin/env bash
# Creates the Python virtual environment the test suites use (<workspace>/target/venv, or
# $SPANFORGE_VENV when set) and installs scripts/requirements-test.txt into it.
# Needs: python3 with the venv module (Debian/Ubuntu: apt-get install -y python3-venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SPANFORGE_VENV:-$root/target/venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$root/scripts/requirements-test.txt"
echo "Python test environment ready: $venv"
