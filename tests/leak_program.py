"""Leak measurement (run by tests/test_leaks.py in a child interpreter):

    python leak_program.py MODULE WORKLOAD CYCLES

Runs WORKLOAD CYCLES/10 times to warm up, then CYCLES times in ten chunks,
measuring after each chunk (after a full collection): the RSS of the
process, tracemalloc's traced memory (CPython only) and the number of
objects the GC tracks.  Prints one JSON line with the growth of each from
the end of the second chunk to the end, over the last 80% of the cycles
(a leak grows with the cycles), and the RSS at every checkpoint.

Why not from the warm-up on: PyPy's heap only reaches its steady size after
the GC has run its own major collections for a while, and how far it grows
before that depends on where its thresholds fall.  Measured on PyPy 8 with
throw_into_parent, one measurement before and one after the cycles (no
collection between) saw +84 MB over 50,000 cycles, +64 MB over 100,000 and
+2 MB over 200,000: a step of the heap, not growth with the cycles; with a
collection every 10,000 cycles its RSS was the same from the second
checkpoint to the thirtieth.  The control workload `leaking` (one
suspended greenlet kept per cycle) shows what a leak looks like.
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


_kept = []


def leaking():
    """Control: a real leak, one suspended greenlet kept per cycle (the
    test checks that it shows)."""
    def run():
        main.switch()
    g = G.greenlet(run)
    g.switch()
    _kept.append(g)


WORKLOADS = {f.__name__: f for f in (spawn_switch_kill, throw_with_traceback,
                                     throw_into_parent, thread_leaving_suspended,
                                     leaking)}


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
    if cycles < 10:
        sys.exit("leak_program.py: CYCLES must be at least 10 (one checkpoint a tenth)")
    main = G.getcurrent()
    if CPYTHON:
        import tracemalloc
        tracemalloc.start()
    for _ in range(max(cycles // 10, 100)):
        workload()
    points = []     # (cycles done, rss, traced, objects)
    for i in range(cycles):
        workload()
        if i % 1000 == 999 and not CPYTHON:
            # PyPy: without it, killing dropped greenlets waits on the GC.
            G.getcurrent()
        if (i + 1) * 10 // cycles != i * 10 // cycles:     # a tenth done
            points.append((i + 1,) + measure())
    start, end = points[1], points[-1]
    print(json.dumps({"rss": end[1] - start[1], "traced": end[2] - start[2],
                      "objects": end[3] - start[3], "cycles": end[0] - start[0],
                      "rss_points": [p[1] for p in points]}))
