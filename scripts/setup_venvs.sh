#!/usr/bin/env bash
# Creates one virtualenv per supported interpreter under $VENV_ROOT (default
# .venvs/) and installs greenlet_cffi into each with pip (which compiles the
# C core on CPython), plus what the tests and the benchmark need.
# Usage: scripts/setup_venvs.sh [NAME...]
#   (names: cp39 cp310 cp311 cp312 cp313 cp314 cp315 pypy3 pypy8; default all)
# Interpreters: see scripts/interpreters.sh.  Debian's pypy3 is installed on
# the host with apt-get when missing; cp314, cp315 and pypy8 live in the
# Debian unstable root that scripts/sid_root.sh makes (once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
. scripts/interpreters.sh
names=${*:-$ALL_INTERPRETERS}
# A new sdist for this run (scripts/build_dist.sh makes it, once).
rm -f dist/greenlet_cffi-*.tar.gz

# g++: greenlet's C++ test extension, which tests/upstream compiles.
if ! command -v g++ >/dev/null; then
    echo ">>> installing g++ with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi

# Chromium and speedscope: tests/test_viewer.py
bash scripts/setup_viewer.sh

for name in $names; do
    if [ "$name" = pypy3 ] && ! command -v pypy3 >/dev/null; then
        echo ">>> installing PyPy with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-dev pypy3-venv >/dev/null
    fi
    py=$(interpreter "$name")
    if [ -z "$py" ] || ! for_interp "$name" test -x "$py"; then
        echo "!!! no interpreter found for $name" >&2
        exit 1
    fi
    venv="$VENV_ROOT/$name"
    echo ">>> $name: $py -> $venv"
    # pytest-timeout, objgraph: greenlet's own suite (tests/upstream);
    # hypothesis: tests/test_differential.py; greenlet 3.5.6 on CPython: the
    # reference of the benchmark and of the differential tests.
    common="pytest pytest-timeout objgraph hypothesis"
    case $name in
        pypy3) extra="$common psutil<6" ;;       # PyPy's own greenlet is the reference
        pypy8) extra="$common psutil" ;;
        # greenlet 3.5.6 needs 3.10+; on 3.9 the newest greenlet 3 is the
        # benchmark's reference (the differential tests use cp311's 3.5.6).
        cp39) extra="$common cffi>=1.15 setuptools psutil greenlet>=3 mypy" ;;
        *) extra="$common cffi>=1.15 setuptools psutil greenlet==3.5.6 mypy" ;;  # setuptools: the fault-injection build
    esac
    # Then the wheel built from the sdist (the C core compiled on CPython),
    # as users get it, and the real libraries of tests/clients/.
    for_interp "$name" sh -ec '
        py=$1 venv=$2 extra=$3 name=$4
        [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
        # hypothesis: a wheel (one of its sdists fetches its version from the
        # network while building, which fails where only PyPI is reachable).
        "$venv/bin/python" -m pip install -q --only-binary=hypothesis $extra
        bash scripts/build_dist.sh install "$name" "$venv/bin/python"
    ' setup "$py" "$venv" "$extra" "$name"
done
