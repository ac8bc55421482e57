#!/usr/bin/env bash
# valgrind memcheck on the threads stress test (tests/stress_program.py),
# CPython's own noise suppressed by scripts/valgrind.supp.  Exits non-zero
# (99) on any memcheck error the suppressions do not name.
# Usage: scripts/valgrind.sh [--leaks] [NAME] [SECONDS] [THREADS] [GREENLETS]
# (default cp311 5 4 200: memcheck runs Python some 50 times slower).
# --leaks: also count blocks left "definitely lost" at exit as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
leaks=(--leak-check=no)
if [ "${1:-}" = --leaks ]; then
    leaks=(--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite)
    shift
fi
name=${1:-cp311}; secs=${2:-5}; threads=${3:-4}; greenlets=${4:-200}
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
# An empty bytecode cache: CPython 3.11 reading .pyc headers
# (importlib's int.from_bytes) makes ints memcheck considers uninitialised
# (--track-origins=yes: allocated in _PyLong_FromByteArray), and every later use of them in the eval loop is reported --
# at sites no suppression could name without hiding our own errors.  Compiling
# from source instead reads no .pyc header.
pycache=$(mktemp -d)
trap 'rm -rf "$pycache"' EXIT
# PYTHONMALLOC=malloc: memcheck sees every object allocation (pymalloc's
# arenas would hide use-after-free inside them).  -s: which suppressions were
# used, and how often.
PYTHONPYCACHEPREFIX=$pycache PYTHONMALLOC=malloc valgrind --tool=memcheck \
    --error-exitcode=99 "${leaks[@]}" -s \
    --suppressions=scripts/valgrind.supp --num-callers=30 \
    "$VENV_ROOT/$name/bin/python" tests/stress_program.py greenlet_cffi "$secs" "$threads" "$greenlets"
