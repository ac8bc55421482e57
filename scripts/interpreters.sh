# Sourced by setup_venvs.sh, test_all.sh and bench.sh: the interpreter
# names, where each one is, and how to run a command for it.
#   cp39 cp310 cp311 cp312 cp313   pyenv's CPythons on the host
#   pypy3                          Debian 12's PyPy 7.3.11 (Python 3.9), host
#   cp314 cp315 pypy8              CPython 3.14, 3.15 and PyPy 8 (Python 3.11),
#                                  inside the Debian unstable root of
#                                  scripts/sid_root.sh
# Expects to run from the project directory, with VENV_ROOT set.

ALL_INTERPRETERS="cp39 cp310 cp311 cp312 cp313 cp314 cp315 pypy3 pypy8"

mkdir -p "$VENV_ROOT"
VENV_ROOT=$(cd "$VENV_ROOT" && pwd -P)   # absolute: also the path inside the root

in_sid_root() {
    case $1 in cp314|cp315|pypy8) return 0 ;; esac
    return 1
}

# The interpreter's path (inside the root for the root's names); PY_<name>
# overrides it.
interpreter() {
    local var="PY_$1"
    if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
    case $1 in
        cp3*)
            if in_sid_root "$1"; then
                echo "/usr/bin/python3.${1#cp3}"
            else
                ls -d /root/.pyenv/versions/3."${1#cp3}".*/bin/python 2>/dev/null | sort -V | tail -1
            fi ;;
        pypy3) command -v pypy3 || true ;;
        pypy8) echo /usr/bin/pypy3 ;;
    esac
}

# for_interp NAME CMD...: runs CMD where NAME's interpreter is, with the
# project and VENV_ROOT at the same paths.
for_interp() {
    local name=$1
    shift
    if in_sid_root "$name"; then
        bash scripts/sid_root.sh run -b "$VENV_ROOT" -- "$@"
    else
        "$@"
    fi
}
