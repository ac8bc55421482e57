#!/usr/bin/env bash
# Sets up (scripts/setup_venvs.sh) and runs the full test suite on every
# supported interpreter; fails if any interpreter fails.
# Usage: scripts/test_all.sh [NAME...]   (default: cp39 cp310 cp311 cp312 cp313 pypy3)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
names=${*:-cp39 cp310 cp311 cp312 cp313 pypy3}

bash scripts/setup_venvs.sh $names || { echo "!!! setup failed"; exit 1; }

failed=""
for name in $names; do
    echo
    echo "================ $name ================"
    # Plain `pytest` (not `python -m pytest`) so the installed package is
    # imported, not the source tree.
    "$VENV_ROOT/$name/bin/pytest" tests -q -p no:cacheprovider || failed="$failed $name"
done
echo
if [ -n "$failed" ]; then
    echo "FAILED on:$failed"
    exit 1
fi
echo "all interpreters passed: $names"
