#!/usr/bin/env bash
# Threads under stress (tests/stress_program.py), outside pytest, with a
# watch for hangs.
# Usage: scripts/stress.sh [--long] [--repeat N] [NAME] [SECONDS] [THREADS] [GREENLETS]
#   default: cp311 3 8 1000, once; --long: 60 s (the README's long run);
#   --repeat N: N runs in a row, stopping at the first failure (for the
#   intermittent CPython 3.10 hang).
# A run that has not ended SECONDS + 120 s after its start is taken as hung:
# gdb prints every thread's C backtrace (and the Python frames, where gdb
# has CPython's helpers), py-spy, when installed, the Python stacks; both go
# to stress-hang-<pid>.txt in the current directory, then the run is killed.
set -uo pipefail
here=$PWD
cd "$(dirname "$0")/.."
VENV_ROOT=${VENV_ROOT:-.venvs}
secs_default=3 repeat=1
while [ $# -gt 0 ]; do
    case $1 in
        --long) secs_default=60; shift ;;
        --repeat) repeat=$2; shift 2 ;;
        *) break ;;
    esac
done
name=${1:-cp311}; secs=${2:-$secs_default}; threads=${3:-8}; greenlets=${4:-1000}
py=$VENV_ROOT/$name/bin/python
[ -x "$py" ] || { echo "no venv $VENV_ROOT/$name (scripts/setup_venvs.sh $name)" >&2; exit 2; }
limit=${STRESS_HANG_AFTER:-$(( ${secs%.*} + 120 ))}   # STRESS_HANG_AFTER: seconds, to override

dump_hang() {
    local pid=$1 out
    out=$here/stress-hang-$pid.txt
    {
        echo "# $py tests/stress_program.py greenlet_cffi $secs $threads $greenlets"
        echo "# hung: no end $limit s after start ($(date -u +%FT%TZ))"
        if command -v gdb >/dev/null; then
            # CPython's gdb helpers (py-bt) sit beside the real binary.
            gdb -p "$pid" -batch -nx -iex "add-auto-load-safe-path $(dirname "$(readlink -f "$py")")" \
                -ex "set pagination off" -ex "info threads" \
                -ex "thread apply all bt" -ex "thread apply all py-bt" 2>&1
        else
            echo "(no gdb)"
        fi
        if command -v py-spy >/dev/null; then
            py-spy dump --native --pid "$pid" 2>&1
        fi
    } >"$out"
    echo "!!! hung; backtraces in $out" >&2
}

fails=0
for run in $(seq "$repeat"); do
    start=$SECONDS
    out=$(mktemp)
    PYTHONFAULTHANDLER=1 "$py" tests/stress_program.py greenlet_cffi "$secs" "$threads" "$greenlets" \
        >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - start)) -lt "$limit" ]; do sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
        dump_hang "$pid"
        kill -9 "$pid"; wait "$pid" 2>/dev/null
        rc=hung
    else
        wait "$pid"; rc=$?
    fi
    result=$(tail -1 "$out")
    echo "run $run/$repeat ($name, ${secs}s, $threads x $greenlets): exit $rc after $((SECONDS - start)) s: $result"
    ok=0
    [ "$rc" = 0 ] && case $result in *'"errors": []}') ok=1 ;; esac
    if [ $ok = 0 ]; then
        tail -30 "$out" >&2
        fails=$((fails + 1)); rm -f "$out"; break
    fi
    rm -f "$out"
done
exit $((fails > 0))
