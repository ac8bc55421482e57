#!/usr/bin/env bash
# Runs gevent's own test suite (python -m gevent.tests) on PyPy through the
# drop-in: GREENLET_CFFI_AS_GREENLET=1 makes every interpreter it starts
# (the runner runs each test file in a child process) use greenlet_cffi as
# `greenlet`.  With --reference, runs it on PyPy's bundled greenlet instead,
# to tell gevent-on-PyPy failures from ours.  Not part of CI (about 4
# minutes with -j 2 on 2 cores); the README has the latest result.
# Usage: scripts/gevent_suite_pypy.sh [--reference] [gevent.tests options...]
#        (after scripts/setup_venvs.sh pypy3, which installs gevent)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
py=$VENV_ROOT/pypy3/bin/python
mode=drop-in
if [ "${1:-}" = --reference ]; then mode=reference; shift; fi
"$py" -c "import gevent" || { echo "!!! gevent is not installed in $VENV_ROOT/pypy3"; exit 1; }
# What gevent's tests import beyond gevent itself (its [test] extra, less
# coverage).
"$py" -m pip install -q requests objgraph "psutil<6" dnspython
if [ $mode = drop-in ]; then
    export GREENLET_CFFI_AS_GREENLET=1
    check="import greenlet, greenlet_cffi; assert greenlet.greenlet is greenlet_cffi.greenlet"
else
    unset GREENLET_CFFI_AS_GREENLET
    check="import greenlet, sys; assert 'greenlet_cffi' not in sys.modules, greenlet"
fi
"$py" -c "$check" || { echo "!!! not running on the $mode greenlet"; exit 1; }
echo ">>> gevent's test suite on PyPy, $mode greenlet"
# No network here: tests that need it are off (-u-network).
cd "$(mktemp -d)" && "$py" -m gevent.tests -u-network "$@"
