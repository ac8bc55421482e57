#!/usr/bin/env bash
# Builds the C core with AddressSanitizer + UndefinedBehaviorSanitizer
# (flags through build_ffi.py's GCFFI_CFLAGS/GCFFI_LDFLAGS) into its own
# venv per interpreter, and runs our suite with the sanitizer runtimes
# preloaded into CPython.  Any report fails the run (UBSan halts on error).
# Usage: scripts/sanitize.sh [NAME...]   (default: cp311 cp313)
#        PYTEST_ARGS="tests/test_switch.py" scripts/sanitize.sh cp311
# CPython itself is not instrumented; its own allocations are outside the
# leak checker's view, so detect_leaks=0.  Left out by default: the leak
# bounds (ASan's quarantine grows RSS) and the fuzzer test (it links its own
# clang ASan runtime, which the preloaded gcc one would clash with).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
names=${*:-cp311 cp313}
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
failed=""
for name in $names; do
    py=$(ls -d /root/.pyenv/versions/3.${name#cp3}.*/bin/python 2>/dev/null | tail -1)
    venv="$VENV_ROOT/asan-$name"
    echo ">>> $name: $py -> $venv (ASan + UBSan)"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "cffi>=1.15" pytest psutil hypothesis "greenlet==3.5.6" >/dev/null
    rm -rf build
    GCFFI_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -g -O1" \
    GCFFI_LDFLAGS="-fsanitize=address,undefined" \
        "$venv/bin/python" -m pip install -q --force-reinstall --no-deps . \
        || { failed="$failed $name(build)"; continue; }
    rm -rf build
    # shellcheck disable=SC2086
    LD_PRELOAD="$asan:$ubsan" \
    ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$venv/bin/pytest" ${PYTEST_ARGS:-tests --ignore=tests/test_leaks.py --ignore=tests/test_fuzz_stack.py} \
        -q -p no:cacheprovider \
        || failed="$failed $name"
done
if [ -n "$failed" ]; then echo "sanitizers FAILED on:$failed"; exit 1; fi
echo "sanitizers clean: $names"
