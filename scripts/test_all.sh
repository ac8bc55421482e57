#!/usr/bin/env bash
# Sets up (scripts/setup_venvs.sh) and runs the full test suite on every
# supported interpreter; fails if any interpreter fails.
# Usage: scripts/test_all.sh [NAME...]   (default: cp39 cp310 cp311 cp312 cp313 pypy3)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
names=${*:-cp39 cp310 cp311 cp312 cp313 pypy3}

bash scripts/setup_venvs.sh $names || { echo "!!! setup failed"; exit 1; }

# tests/test_core_c.py also runs the C core for AArch64 under qemu-user.
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    echo ">>> installing an AArch64 cross compiler and qemu-user with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null) \
        || echo "!!! could not install them: the AArch64 test will be skipped"
fi

failed=""
for name in $names; do
    echo
    echo "================ $name ================"
    # Plain `pytest` (not `python -m pytest`) so the installed package is
    # imported, not the source tree.
    "$VENV_ROOT/$name/bin/pytest" tests -q -rs -p no:cacheprovider || failed="$failed $name"
done
echo
if [ -n "$failed" ]; then
    echo "FAILED on:$failed"
    exit 1
fi
echo "all interpreters passed: $names"
