"""Memory stays flat: tests/leak_program.py runs each workload many times in
a child interpreter and reports the growth of RSS, of tracemalloc's traced
memory (CPython) and of the GC's object count over the last 80% of the
cycles (its docstring says why not from the start).  Bounds are per run,
far below what one leaked object per cycle would add (a leaked greenlet is
kilobytes, test_a_leak_shows), and above the noise of the allocators
(PyPy's GC heap grows in steps without leaking, hence its larger RSS
bound)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYPY = sys.implementation.name == "pypy"
MiB = 1 << 20
BOUNDS = {"rss": (64 if PYPY else 8) * MiB, "traced": 1 * MiB, "objects": 500}

WORKLOADS = [
    ("spawn_switch_kill", 100000),
    ("throw_with_traceback", 100000),
    ("throw_into_parent", 100000),
    ("thread_leaving_suspended", 10000),
]


def run_program(workload, cycles):
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "leak_program.py"), "greenlet_cffi",
         workload, str(cycles)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    growth = json.loads(proc.stdout.splitlines()[-1])
    print("%s x %d: %s" % (workload, cycles, growth))
    return growth


@pytest.mark.parametrize("workload,cycles", WORKLOADS)
def test_flat(workload, cycles):
    growth = run_program(workload, cycles)
    over = ["%s grew by %d (bound %d, %.1f per cycle)"
            % (k, growth[k], b, growth[k] / growth["cycles"])
            for k, b in BOUNDS.items() if growth[k] > b]
    assert not over, "LEAK in %s over %d cycles: %s" % (workload, cycles, "; ".join(over))


def test_a_leak_shows():
    """The measurement catches a real leak: one suspended greenlet kept per
    cycle (PyPy 8: ~8 KB of RSS each) goes over every bound."""
    growth = run_program("leaking", 20000)
    assert growth["rss"] > BOUNDS["rss"], growth
    assert growth["objects"] > BOUNDS["objects"], growth
    if sys.implementation.name == "cpython":
        assert growth["traced"] > BOUNDS["traced"], growth
