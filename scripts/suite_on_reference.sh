#!/usr/bin/env bash
# Runs the test suite against the interpreter's *reference* greenlet instead
# of greenlet_cffi (a throwaway shim package in a temp dir makes
# `import greenlet_cffi` give `greenlet`), to show which tested behaviours the
# reference has.  On CPython (greenlet from PyPI) everything passes; on PyPy
# the failures are where PyPy's bundled greenlet falls short.
# Usage: scripts/suite_on_reference.sh [NAME]   (default pypy3; after setup_venvs.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
name=${1:-pypy3}
repo=$(pwd)
python=$(cd "$VENV_ROOT/$name/bin" && pwd)/python
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
mkdir "$shim/greenlet_cffi"
cat > "$shim/greenlet_cffi/__init__.py" <<'PY'
from greenlet import greenlet, getcurrent, GreenletExit, error, settrace, gettrace
from greenlet import __version__
GREENLET_USE_GC = GREENLET_USE_TRACING = GREENLET_USE_CONTEXT_VARS = True
BACKEND = "reference"
PY
# From the shim's directory, so that this checkout is not importable.
cd "$shim" && PYTHONPATH="$shim" "$python" -m pytest \
    -p no:cacheprovider -q "$repo/tests" \
    --ignore="$repo/tests/test_backend.py" \
    --ignore="$repo/tests/test_backend_interface.py" | grep -E "^FAILED|passed|failed"
