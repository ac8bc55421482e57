"""Why killing garbage greenlets from a finalizer costs more on PyPy.

    pypy3 bench/finalizer_kills.py [--rounds N]

Builds issue 10's chain of 10,000 suspended greenlets and throws
GreenletExit into every link, newest first, three ways, for greenlet_cffi
and for PyPy's bundled greenlet alike:

* plain:     from ordinary code, the links held by a list;
* finalizer: from a __del__, the links reachable only from that finalizer
             (as a sweep's garbage is, see _Sweep in _greenlet.py);
* kept:      from a __del__, the links also held by a global list.

Per round it prints the time of the 10,000 throws, the GC's time during
them (gc.get_stats().total_gc_time) and the number of major-collection
steps and minor collections that ran meanwhile (gc.hooks).

Then, greenlet_cffi alone, bench.py's sequence shape: two garbage chains
(chain_garbage's, then gc_chain_garbage's own) and the timed gc.collect(),
with the kills it makes (those of a sweep's garbage, or one head) and the
major collections that completed inside it.  PyPy only.
"""
import gc
import importlib
import sys
import time

N = 10000
_steps = []
_minors = []
_kept = []


def _count_step(stats):
    _steps.extend([None] * stats.count)


def _count_minor(stats):
    _minors.append(stats.count)


def chain(greenlet, getcurrent, n=N):
    """Issue 10's chain of n links, all left suspended; returns them."""
    def link(nxt):
        v = getcurrent().parent.switch()
        nxt.switch(v + 1)
    start = getcurrent()
    links = []
    for _ in range(n):
        g = greenlet(link)
        g.switch(start)
        start = g
        links.append(g)
    start.switch(0)
    return links


def throw_all(links):
    """(milliseconds, GC milliseconds, major-collection steps, minor
    collections)"""
    before = gc.get_stats().total_gc_time
    del _steps[:], _minors[:]
    t = time.perf_counter()
    while links:
        links.pop().throw()
    elapsed = time.perf_counter() - t
    return (elapsed * 1e3, gc.get_stats().total_gc_time - before, len(_steps),
            sum(_minors))


class _Finalizer:
    def __init__(self, links, out):
        self.links, self.out = links, out

    def __del__(self):
        self.out.append(throw_all(self.links))


def one_round(module, how):
    links = chain(module.greenlet, module.getcurrent)
    gc.collect()
    out = []
    if how == "plain":
        out.append(throw_all(links))
    else:
        if how == "kept":
            _kept.append(links)
        f = _Finalizer(links, out)
        del links, f
        gc.collect()        # finds f garbage and runs its __del__
        del _kept[:]
    gc.collect()
    return out[0]


def sweep_rounds(module, rounds):
    from greenlet_cffi import _greenlet as layer
    kills = [0]
    kill = layer._kill

    def counted(g):
        kills[0] += 1
        return kill(g)
    done = []
    gc.hooks.on_gc_collect = lambda stats: done.extend([None] * stats.count)
    layer._kill = counted
    try:
        for r in range(rounds):
            chain(module.greenlet, module.getcurrent)
            chain(module.greenlet, module.getcurrent)
            kills[0] = 0
            del done[:], _steps[:]
            before = gc.get_stats().total_gc_time
            t = time.perf_counter()
            gc.collect()
            elapsed = time.perf_counter() - t
            print("sweep      round %d: gc.collect() %6.1f ms (GC %3.0f ms, %2d steps, "
                  "%d major collections done), %5d kills"
                  % (r + 1, elapsed * 1e3, gc.get_stats().total_gc_time - before,
                     len(_steps), len(done), kills[0]))
    finally:
        layer._kill = kill
        gc.hooks.on_gc_collect = None


def main():
    import argparse     # here: hold_floor.py imports chain(), and argparse moves its numbers
    if sys.implementation.name != "pypy":
        sys.exit("finalizer_kills.py: PyPy only (it reads PyPy's GC statistics and hooks)")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6, help="rounds per case (the first warms up)")
    ap.add_argument("--cases", default="finalizer,kept,plain,sweep",
                    help="which, in this order (default: %(default)s)")
    args = ap.parse_args()
    gc.hooks.on_gc_collect_step = _count_step
    gc.hooks.on_gc_minor = _count_minor
    modules = [importlib.import_module(name) for name in ("greenlet_cffi", "greenlet")]
    print("%s; %d throws into a garbage chain's links, per round: ms / GC ms / major steps / minor collections"
          % (sys.version.split("\n")[-1], N))
    for how in args.cases.split(","):
        if how == "sweep":
            sweep_rounds(modules[0], args.rounds)
            continue
        for m in modules:
            rounds = [one_round(m, how) for _ in range(args.rounds)]
            warm = sorted(rounds[1:]) or rounds
            print("%-10s %-14s best %6.1f ms (GC %3.0f ms, %2d steps, %3d minor)   all: %s" % (
                (how, m.__name__) + warm[0] + ("  ".join("%.0f/%.0f/%d/%d" % r for r in rounds),)))


if __name__ == "__main__":
    main()
