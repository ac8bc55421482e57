"""Leak measurement (run by tests/test_leaks.py in a child interpreter):

    python leak_program.py MODULE WORKLOAD CYCLES

Runs WORKLOAD CYCLES/10 times to warm up, measures, runs it CYCLES times,
measures again, and prints one JSON line with the growth of the process's
RSS, of tracemalloc's traced memory (CPython only) and of the number of
objects the GC tracks, after a full collection each time.
"""
import gc
import importlib
import json
import sys
import threading

G = importlib.import_module(sys.argv[1])
CPYTHON = sys.implementation.name == "cpython"


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def collect():
    for _ in range(3):
        gc.collect()


# -- workloads: one cycle each -------------------------------------------

def spawn_switch_kill():
    """Start a greenlet, switch into it twice, then kill it both ways:
    by throw() and by dropping it."""
    def run():
        main.switch()
        main.switch()
    g = G.greenlet(run)
    g.switch()
    g.switch()
    g.throw()
    g = G.greenlet(run)
    g.switch()
    del g           # killed on collection (at once where refcounted)


def throw_with_traceback():
    """throw() a caught exception, traceback and all, into a suspended
    greenlet that re-raises it into its parent."""
    try:
        raise ValueError("x")
    except ValueError as e:
        exc = e
    def run():
        try:
            main.switch()
        except ValueError:
            raise
    g = G.greenlet(run)
    g.switch()
    try:
        g.throw(ValueError, exc, exc.__traceback__)
    except ValueError:
        pass


def throw_into_parent():
    """A greenlet that throws into its parent, which catches it, and is
    then dropped (issue 8: greenlet kills and frees it)."""
    def run():
        try:
            G.getcurrent().parent.throw(ValueError)
        except BaseException:
            pass
    g = G.greenlet(run)
    try:
        g.switch()
    except ValueError:
        pass
    del g


def thread_leaving_suspended():
    """A thread that ends with two suspended greenlets of its own, which
    are dropped once it has ended."""
    box = []
    def body():
        here = G.getcurrent()
        def run():
            here.switch()
        for _ in range(2):
            g = G.greenlet(run)
            g.switch()
            box.append(g)
    t = threading.Thread(target=body)
    t.start()
    t.join()
    del box[:]


WORKLOADS = {f.__name__: f for f in (spawn_switch_kill, throw_with_traceback,
                                     throw_into_parent, thread_leaving_suspended)}


def measure():
    collect()
    if not CPYTHON:
        # PyPy: let finalizers (our kills) queued by the collection run.
        G.getcurrent()
        collect()
    traced = tracemalloc.get_traced_memory()[0] if CPYTHON else 0
    return rss(), traced, len(gc.get_objects())


if __name__ == "__main__":
    workload = WORKLOADS[sys.argv[2]]
    cycles = int(sys.argv[3])
    main = G.getcurrent()
    if CPYTHON:
        import tracemalloc
        tracemalloc.start()
    for _ in range(max(cycles // 10, 100)):
        workload()
    before = measure()
    for i in range(cycles):
        workload()
        if i % 1000 == 999 and not CPYTHON:
            # PyPy: without it, killing dropped greenlets waits on the GC.
            G.getcurrent()
    after = measure()
    print(json.dumps({"rss": after[0] - before[0], "traced": after[1] - before[1],
                      "objects": after[2] - before[2], "cycles": cycles}))
