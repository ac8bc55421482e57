#!/usr/bin/env bash
# Creates one virtualenv per supported interpreter under $VENV_ROOT (default
# .venvs/) and installs greenlet_cffi into each from a wheel built from the
# sdist (scripts/build_dist.sh; the C core is compiled on CPython), plus
# what the tests and the benchmark need.
# Usage: scripts/setup_venvs.sh [NAME...]   (names: cp39 cp310 cp311 cp312 cp313 pypy3)
# Interpreters: pyenv's CPythons in /root/.pyenv/versions (or PY_<name>=path),
# and Debian's pypy3, installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
ALL="cp39 cp310 cp311 cp312 cp313 pypy3"
names=${*:-$ALL}
# A new sdist for this run (scripts/build_dist.sh makes it, once).
rm -f dist/greenlet_cffi-*.tar.gz

interpreter() {
    local var="PY_$1"
    if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
    case $1 in
        cp39) ls -d /root/.pyenv/versions/3.9.*/bin/python 2>/dev/null | tail -1 ;;
        cp310) ls -d /root/.pyenv/versions/3.10.*/bin/python 2>/dev/null | tail -1 ;;
        cp311) ls -d /root/.pyenv/versions/3.11.*/bin/python 2>/dev/null | tail -1 ;;
        cp312) ls -d /root/.pyenv/versions/3.12.*/bin/python 2>/dev/null | tail -1 ;;
        cp313) ls -d /root/.pyenv/versions/3.13.*/bin/python 2>/dev/null | tail -1 ;;
        pypy3) command -v pypy3 || true ;;
    esac
}

for name in $names; do
    if [ "$name" = pypy3 ] && ! command -v pypy3 >/dev/null; then
        echo ">>> installing PyPy with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-dev pypy3-venv >/dev/null
    fi
    py=$(interpreter "$name")
    if [ -z "$py" ] || [ ! -x "$py" ]; then
        echo "!!! no interpreter found for $name" >&2
        exit 1
    fi
    venv="$VENV_ROOT/$name"
    echo ">>> $name: $py -> $venv"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    if [ "$name" = pypy3 ]; then
        extra="pytest psutil<6"       # PyPy's own greenlet is the reference
    else
        extra="cffi>=1.15 pytest psutil greenlet>=3 mypy"   # greenlet: the benchmark's reference
    fi
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q $extra
    # The wheel built from the sdist (the C core compiled on CPython), as
    # users get it; then the real libraries of tests/clients/.
    bash scripts/build_dist.sh install "$name" "$venv/bin/python"
done
