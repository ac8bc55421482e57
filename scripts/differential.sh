#!/usr/bin/env bash
# Differential random testing against greenlet 3.5.6 (tests/test_differential.py).
# Usage: scripts/differential.sh [--long] [NAME]   (NAME: a venv, default cp311)
# --long: 10,000 programs with a fresh seed; divergences are collected (not
# stopped at) and summarized by tests/differential/summarize.py.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
long=""; [ "${1:-}" = --long ] && { long=1; shift; }
name=${1:-cp311}
if [ -n "$long" ]; then
    out=$(mktemp); seed=${GCFFI_DIFF_SEED:-$RANDOM$RANDOM}
    GCFFI_DIFF_EXAMPLES=${GCFFI_DIFF_EXAMPLES:-10000} GCFFI_DIFF_SEED=$seed GCFFI_DIFF_COLLECT=$out \
        "$VENV_ROOT/$name/bin/pytest" tests/test_differential.py -q -s -p no:cacheprovider \
        -k random_programs -p no:randomly --runxfail
    "$VENV_ROOT/$name/bin/python" tests/differential/summarize.py "$out"
    rc=$?; rm -f "$out"; exit $rc
fi
exec "$VENV_ROOT/$name/bin/pytest" tests/test_differential.py -q -p no:cacheprovider
