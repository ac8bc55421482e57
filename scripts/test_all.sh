#!/usr/bin/env bash
# Sets up (scripts/setup_venvs.sh) and runs the test suites on every
# supported interpreter; fails if any interpreter fails.
# Usage: scripts/test_all.sh [NAME...]
#   (default: cp39 cp310 cp311 cp312 cp313 cp314 cp315 pypy3 pypy8;
#    cp314, cp315 and pypy8 run inside scripts/sid_root.sh's Debian root)
# Interpreters run TEST_JOBS at a time (default 2, the machine's cores),
# each into its own log, printed whole when it is done.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
. scripts/interpreters.sh
# Longest first (the PyPys take about three times a CPython), so that the
# two job slots stay busy to the end.
names=${*:-"pypy3 pypy8 $(echo " $ALL_INTERPRETERS " | sed 's/ pypy3 / /; s/ pypy8 / /')"}
jobs_max=${TEST_JOBS:-2}
started=$SECONDS

bash scripts/setup_venvs.sh $names || { echo "!!! setup failed"; exit 1; }

# tests/test_core_c.py also runs the C core for AArch64 under qemu-user;
# tests/test_fuzz_stack.py needs clang (libFuzzer).
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
        || ! command -v clang >/dev/null; then
    echo ">>> installing an AArch64 cross compiler and qemu-user with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user clang >/dev/null) \
        || echo "!!! could not install them: the AArch64 test will be skipped"
fi

# The suites for one interpreter; non-zero if any fails.  Plain `pytest`
# (not `python -m pytest`) so the installed package is imported, not the
# source tree.
run_suites() {
    local name=$1 rc=0
    for_interp "$name" "$VENV_ROOT/$name/bin/pytest" tests -q -p no:cacheprovider -rs || rc=1
    # greenlet's own test suite (downloaded into a cache at test time).
    echo "---- $name, greenlet's own test suite ----"
    for_interp "$name" "$VENV_ROOT/$name/bin/python" tests/upstream/run_upstream.py \
        --timeout 300 || rc=1
    # Where CPython has a JIT (3.14+, off by default), our suite again with it on.
    if for_interp "$name" "$VENV_ROOT/$name/bin/python" -c \
            "import sys; sys.exit(not (hasattr(sys, '_jit') and sys._jit.is_available()))"; then
        echo "---- $name, PYTHON_JIT=1 ----"
        for_interp "$name" env PYTHON_JIT=1 "$VENV_ROOT/$name/bin/pytest" tests -q -p no:cacheprovider || rc=1
    fi
    return $rc
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

report() {     # prints a finished interpreter's log
    local name=$1
    echo
    echo "================ $name ($(cat "$logs/$name.time")s) ================"
    cat "$logs/$name.log"
}

pending=""
for name in $names; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    (
        t0=$SECONDS
        run_suites "$name" >"$logs/$name.log" 2>&1
        echo $? >"$logs/$name.rc"
        echo $((SECONDS - t0)) >"$logs/$name.time"
    ) &
    echo ">>> $name: running"
    pending="$pending $name"
done
wait

failed=""
for name in $pending; do
    report "$name"
    [ "$(cat "$logs/$name.rc" 2>/dev/null)" = 0 ] || failed="$failed $name"
done
echo
echo "test_all.sh: $((SECONDS - started))s"
if [ -n "$failed" ]; then
    echo "FAILED on:$failed"
    exit 1
fi
echo "all interpreters passed: $names"
