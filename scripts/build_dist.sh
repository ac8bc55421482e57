#!/usr/bin/env bash
# Builds greenlet_cffi's sdist, and from that sdist one wheel per
# interpreter (so each wheel also proves the sdist complete), into dist/;
# checks the sdist's contents (scripts/check_sdist.py).
#
#   scripts/build_dist.sh install NAME PYTHON
#       (what setup_venvs.sh runs for each venv) builds the sdist if dist/
#       has none, builds PYTHON's wheel from it, installs that wheel into
#       PYTHON's venv -- the suite then tests the wheel, never the source
#       tree -- and the real libraries that tests/clients/ runs.
#   scripts/build_dist.sh [NAME...]
#       the same for existing venvs of host interpreters under $VENV_ROOT
#       (default: all there), after removing the old sdist.
#
# Plain commands (no state between calls but dist/ itself), so that they
# can run wherever an interpreter lives.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST_DIR=dist

quiet() {   # runs "$@" with its output kept back unless it fails
    local log rc=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    [ $rc = 0 ] || tail -30 "$log" >&2
    rm -f "$log"
    return $rc
}

sdist() {
    local py=$1
    quiet "$py" -m build --sdist --outdir "$DIST_DIR" .
    "$py" scripts/check_sdist.py "$DIST_DIR"/greenlet_cffi-*.tar.gz
}

wheel() {
    local py=$1 src
    # From the unpacked sdist (older `build`s take only a directory).
    src=$(mktemp -d)
    tar xzf "$DIST_DIR"/greenlet_cffi-*.tar.gz -C "$src"
    if ! quiet "$py" -m build --wheel --outdir "$DIST_DIR" "$src"/greenlet_cffi-*; then
        rm -rf "$src"
        echo "!!! building the wheel with $py failed" >&2
        return 1
    fi
    rm -rf "$src"
    # From dist/ only, and only a wheel: pip picks the one for this
    # interpreter (the PyPy wheel is tagged for PyPy, not py3-none-any).
    "$py" -m pip install -q --force-reinstall --no-deps --no-index \
        --find-links "$DIST_DIR" --only-binary :all: greenlet_cffi
    echo "installed $("$py" -m pip show greenlet_cffi | grep ^Version) from a wheel built from the sdist"
}

each_line() {   # each_line FILE: its requirement lines
    grep -v '^[[:space:]]*\(#\|$\)' "$1"
}

# One at a time: one that cannot be installed on an interpreter only makes
# its tests skip.  On PyPy, requirements.txt's come without their
# dependencies (they require greenlet>=1; see that file), and
# requirements-pypy.txt's with theirs.
clients() {
    local name=$1 py=$2 nodeps="" req
    case $name in pypy*) nodeps="--no-deps" ;; esac
    while IFS= read -r req; do
        # shellcheck disable=SC2086
        quiet "$py" -m pip install $nodeps "$req" \
            || echo "!!! $name: could not install $req; its tests in tests/clients will skip"
    done < <(each_line tests/clients/requirements.txt)
    if [ -n "$nodeps" ]; then
        while IFS= read -r req; do
            quiet "$py" -m pip install "$req" \
                || echo "!!! $name: could not install $req; tests needing it will skip"
        done < <(each_line tests/clients/requirements-pypy.txt)
    fi
}

install() {
    local name=$1 py=$2
    quiet "$py" -m pip install build
    [ -n "$(ls "$DIST_DIR"/greenlet_cffi-*.tar.gz 2>/dev/null)" ] || sdist "$py"
    wheel "$py"
    clients "$name" "$py"
}

if [ "${1:-}" = install ]; then
    install "$2" "$3"
else
    VENV_ROOT=${VENV_ROOT:-.venvs}
    rm -f "$DIST_DIR"/greenlet_cffi-*.tar.gz
    for name in ${*:-$(ls "$VENV_ROOT")}; do
        echo ">>> $name"
        install "$name" "$VENV_ROOT/$name/bin/python"
    done
fi
