#!/usr/bin/env bash
# Builds greenlet_cffi's sdist and, from that sdist, one wheel per
# interpreter (so each wheel also proves the sdist complete) into $DIST_DIR
# (default dist/), and checks the sdist's contents (scripts/check_sdist.py).
# Usage: scripts/build_dist.sh [NAME...]   (venvs made by setup_venvs.sh
#        under $VENV_ROOT; default: every venv there)
# scripts/setup_venvs.sh sources this file for its functions: it installs
# the wheel (never the source tree) into each venv, and the client
# libraries that tests/clients/ runs.

DIST_DIR=${DIST_DIR:-dist}
GCFFI_SDIST=""

# gcffi_build_sdist PYTHON: build and check the sdist, once per run.
gcffi_build_sdist() {
    [ -n "$GCFFI_SDIST" ] && return 0
    local py=$1
    "$py" -m pip install -q build >/dev/null || return 1
    rm -f "$DIST_DIR"/greenlet_cffi-*.tar.gz
    local log
    log=$(mktemp)
    if ! "$py" -m build --sdist --outdir "$DIST_DIR" . >"$log" 2>&1; then
        tail -30 "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
    GCFFI_SDIST=$(ls "$DIST_DIR"/greenlet_cffi-*.tar.gz)
    "$py" scripts/check_sdist.py "$GCFFI_SDIST" || return 1
}

# gcffi_install_wheel PYTHON: build this interpreter's wheel from the sdist
# and install it.
gcffi_install_wheel() {
    local py=$1
    gcffi_build_sdist "$py" || { echo "!!! sdist failed" >&2; return 1; }
    "$py" -m pip install -q build >/dev/null || return 1
    # From the unpacked sdist (older `build`s take only a directory).
    local log src
    log=$(mktemp)
    src=$(mktemp -d)
    tar xzf "$GCFFI_SDIST" -C "$src"
    if ! "$py" -m build --wheel --outdir "$DIST_DIR" "$src"/greenlet_cffi-* >"$log" 2>&1; then
        tail -30 "$log" >&2; rm -rf "$log" "$src"
        echo "!!! building the wheel with $py failed" >&2
        return 1
    fi
    grep -o "Successfully built .*" "$log" || true
    rm -rf "$log" "$src"
    # From dist/ only, and only a wheel: pip picks the one for this
    # interpreter (the PyPy wheel is tagged for PyPy, not py3-none-any).
    "$py" -m pip install -q --force-reinstall --no-deps --no-index \
        --find-links "$DIST_DIR" --only-binary :all: greenlet_cffi
}

# gcffi_install_clients NAME PYTHON: the real libraries of tests/clients/,
# one at a time (one that cannot be installed on an interpreter only makes
# its tests skip).  On PyPy, requirements.txt's come without their
# dependencies, and requirements-pypy.txt's with theirs.
gcffi_install_clients() {
    local name=$1 py=$2 nodeps="" req
    case $name in pypy*) nodeps="--no-deps" ;; esac
    while read -r req; do
        case $req in ''|'#'*) continue ;; esac
        # shellcheck disable=SC2086
        "$py" -m pip install -q $nodeps "$req" 2>&1 | grep -v "dependency conflicts\|requires greenlet\|resolver does not" \
            || true
        "$py" -m pip show -q "${req%%[<>=;!]*}" >/dev/null 2>&1 \
            || echo "!!! $name: could not install $req; its tests in tests/clients will skip"
    done < tests/clients/requirements.txt
    if [ -n "$nodeps" ]; then
        while read -r req; do
            case $req in ''|'#'*) continue ;; esac
            "$py" -m pip install -q "$req" \
                || echo "!!! $name: could not install $req; tests needing it will skip"
        done < tests/clients/requirements-pypy.txt
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cd "$(dirname "$0")/.."
    VENV_ROOT=${VENV_ROOT:-.venvs}
    names=${*:-$(ls "$VENV_ROOT")}
    for name in $names; do
        echo ">>> $name"
        gcffi_install_wheel "$VENV_ROOT/$name/bin/python"
    done
    ls -l "$DIST_DIR"
fi
