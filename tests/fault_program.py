"""Allocation-failure walk (run by tests/test_fault_injection.py, in a child
interpreter importing a greenlet_cffi built with -DGCFFI_FAULT_INJECTION).

For N = 1, 2, ...: the N-th allocation of the C core fails while a scenario
of spawns, switches (from stacks deep enough that saved slices grow),
throws and finishes (into a suspended and into an unstarted parent) runs.
Each step that meets MemoryError is retried once; the scenario must end with
the same results as without failures.  Stops at the first N that the
scenario never reaches.  Prints one JSON line.
"""
import json
import sys

import greenlet_cffi
from greenlet_cffi import _core, greenlet, getcurrent

fault_after = _core.lib.gcffi_fault_after
assert fault_after(0) != -1, "this greenlet_cffi was built without -DGCFFI_FAULT_INJECTION"


def deep(n, fn):
    """fn() called n frames further down the C stack."""
    return fn() if n == 0 else deep(n - 1, fn)


def scenario(step):
    main = getcurrent()
    out = []

    # A switch that fails raises MemoryError in the greenlet that made it:
    # bodies retry their own switches as the main program does its steps.
    def worker(x):
        while x != "stop":
            x = deep(x if isinstance(x, int) else 0,
                     lambda: step(lambda: main.switch(("echo", x))))
        return "finished"

    def thrower():
        try:
            step(lambda: main.switch("ready"))
        except ValueError as e:
            return "caught %s" % e

    g = step(lambda: greenlet(worker))
    out.append(step(lambda: g.switch(5)))
    for depth in (10, 40, 120):
        out.append(step(lambda: deep(depth, lambda: g.switch(depth))))
    t = step(lambda: greenlet(thrower))
    out.append(step(lambda: t.switch()))
    out.append(step(lambda: t.throw(ValueError("v"))))
    out.append(step(lambda: g.switch("stop")))
    # A child finishing into an unstarted parent starts the parent.
    parent = step(lambda: greenlet(lambda *a: ("parent ran", a)))
    child = step(lambda: greenlet(lambda: "child done", parent))
    out.append(step(lambda: child.switch()))
    # Many arguments: the core's argument array is allocated.
    h = step(lambda: greenlet(lambda *a: sum(a)))
    out.append(step(lambda: h.switch(*range(20))))
    out.append([x.dead for x in (g, t, parent, child, h)])
    return out


def run_with(n):
    failures = []

    def step(fn):
        try:
            return fn()
        except MemoryError as e:
            failures.append(str(e))
            return fn()     # the countdown has run out: this one succeeds
    fault_after(n)
    try:
        out = scenario(step)
    finally:
        left = fault_after(0)
    return out, failures, left


def main():
    expected, failures, _ = run_with(0)
    assert not failures
    n, seen = 0, 0
    problems = []
    while True:
        n += 1
        out, failures, left = run_with(n)
        if left > 0:
            break           # fewer than n allocations: every one was failed once
        seen += len(failures)
        if out != expected:
            problems.append("allocation %d failing: %r instead of %r (MemoryErrors: %s)"
                            % (n, out, expected, failures))
        if not failures:
            problems.append("allocation %d failed without a MemoryError" % n)
        # Every greenlet still usable afterwards: a fresh round trip works.
        g = greenlet(lambda x: getcurrent().parent.switch(x + 1) + 1)
        if g.switch(1) != 2 or g.switch(5) != 6 or not g.dead:
            problems.append("allocation %d failing left switching broken" % n)
    print(json.dumps({"allocations": n - 1, "memory_errors": seen, "problems": problems}))


if __name__ == "__main__":
    main()
