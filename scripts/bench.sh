#!/usr/bin/env bash
# The main job: set up CPython 3.11, CPython 3.14 (inside the Debian root of
# scripts/sid_root.sh) and PyPy (scripts/setup_venvs.sh) and run the
# benchmark on each, greenlet_cffi beside that interpreter's reference
# greenlet (PyPI's on CPython, PyPy's bundled one on PyPy), each workload on
# its own and all in sequence in one process per implementation (bench.py's
# two modes), plus the C-level floor of one raw switch of the core.
# On PyPy the sequence caps chains and the live population at 10,000
# (bench.py's PYPY_SEQUENCE_CAP): the bundled greenlet's 100,000-link chain
# grows past 14 GB in a fresh process.
# Usage: scripts/bench.sh [--quick] [--OPTION=VALUE...] [NAME...]   (default: cp311 cp314 pypy3)
# Options go to bench.py; one taking a value is written with "=" (--clock=cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
. scripts/interpreters.sh
args=()
names=()
for a in "$@"; do
    case $a in -*) args+=("$a") ;; *) names+=("$a") ;; esac
done
[ ${#names[@]} -gt 0 ] || names=(cp311 cp314 pypy3)

bash scripts/setup_venvs.sh "${names[@]}"
for name in "${names[@]}"; do
    echo
    echo "================ $name ================"
    for_interp "$name" "$VENV_ROOT/$name/bin/python" bench/bench.py "${args[@]}"
done
echo
# The floor under the Python-level numbers: one raw switch of csrc/stack.c.
quick=()
for a in "${args[@]}"; do [ "$a" = --quick ] && quick=(--quick); done
python3 bench/c_switch.py "${quick[@]}"
