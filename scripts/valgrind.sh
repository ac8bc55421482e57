#!/usr/bin/env bash
# valgrind memcheck on the threads stress test (tests/stress_program.py),
# CPython's own noise suppressed by scripts/valgrind.supp.  Fails on any
# memcheck error.  Usage: scripts/valgrind.sh [NAME] [SECONDS] [THREADS] [GREENLETS]
# (default cp311 5 4 200: memcheck runs Python some 50 times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
name=${1:-cp311}; secs=${2:-5}; threads=${3:-4}; greenlets=${4:-200}
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
    --suppressions=scripts/valgrind.supp --num-callers=30 \
    "$VENV_ROOT/$name/bin/python" tests/stress_program.py greenlet_cffi "$secs" "$threads" "$greenlets"
