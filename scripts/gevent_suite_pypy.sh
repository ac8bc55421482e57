#!/usr/bin/env bash
# Runs gevent's own test suite (python -m gevent.tests) on PyPy through the
# drop-in: GREENLET_CFFI_AS_GREENLET=1 makes every interpreter it starts
# (the runner runs each test file in a child process) use greenlet_cffi as
# `greenlet`.  With --reference, runs it on PyPy's bundled greenlet instead,
# to tell gevent-on-PyPy failures from ours.  Not part of CI (about 4
# minutes with -j 2 on 2 cores); the README has the latest result.
# Usage: scripts/gevent_suite_pypy.sh [--venv NAME] [--reference] [gevent.tests options...]
#        (after scripts/setup_venvs.sh pypy3, which installs gevent; NAME:
#        the PyPy venv, default pypy3; pypy8 runs inside scripts/sid_root.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
name=pypy3
if [ "${1:-}" = --venv ]; then name=$2; shift 2; fi
py=$VENV_ROOT/$name/bin/python
mode=drop-in
if [ "${1:-}" = --reference ]; then mode=reference; shift; fi
"$py" -c "import gevent" || { echo "!!! gevent is not installed in $VENV_ROOT/$name"; exit 1; }
# What gevent's tests import beyond gevent itself (its [test] extra, less
# coverage).  psutil 6 and later do not build on PyPy 7.3.11 (Python 3.9);
# gevent's own tests on PyPy 8 call psutil 6's net_connections().
psutil="psutil<6"
"$py" -c "import sys; sys.exit(sys.version_info < (3, 10))" && psutil="psutil>=6"
"$py" -m pip install -q requests objgraph "$psutil" dnspython
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
