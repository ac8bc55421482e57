"""Why bench.py's chain is slower on PyPy: where its time goes, and the heap
each implementation keeps afterwards.  PyPy only (it reads PyPy's GC hooks).

    pypy3 bench/chain_heap.py [--rounds 5] [--links 100000]

For greenlet_cffi and for PyPy's bundled greenlet, each in a fresh process,
it runs bench.py's chain workload round after round and prints, per round:
the chain's time, the time PyPy's GC spent in minor collections and in
major-collection steps during it, how many major collections completed, and
then, after three full collections, the GC heap still in use.

What it showed (PyPy 7.3.11, 100,000 links): the bundled greenlet keeps
about 600 MB of GC heap alive after its first chain, for good (the greenlets
are gone; what stays is not ours to name without PyPy's debug symbols), and
with that heap PyPy's next major-collection threshold is so high that its
later chains run no major collection at all; greenlet_cffi keeps 6 MB, so
each later chain of 100,000 suspended greenlets runs major collections,
which walk every suspended stack.  With --ballast 600 (as much heap kept
alive for both) neither runs a major collection, and ours is still slower:
its minor collections take longer (see the README's performance section).
"""
import argparse
import gc
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def child(module, rounds, links, ballast):
    import bench
    mod = bench.load("ours" if module == "greenlet_cffi" else "reference")
    # Plain bytes (nothing for the GC to trace inside), kept alive throughout.
    kept = [bytearray(1 << 16) for _ in range(ballast * 16)]
    spent = {"minor": 0.0, "step": 0.0, "majors": 0}

    def on_minor(stats):
        spent["minor"] += stats.duration

    def on_step(stats):
        spent["step"] += stats.duration

    def on_collect(stats):
        spent["majors"] += 1

    gc.hooks.on_gc_minor = on_minor
    gc.hooks.on_gc_collect_step = on_step
    gc.hooks.on_gc_collect = on_collect
    for r in range(rounds):
        gc.collect()
        for k in spent:
            spent[k] = 0
        elapsed, _ = bench.bench_chain(mod, links)
        minor, step, majors = spent["minor"], spent["step"], spent["majors"]
        for _ in range(3):      # a finalizer's objects go a collection later
            gc.collect()
        heap = gc.get_stats().total_gc_memory
        print("%-14s %5d %9.3f %9.3f %9.3f %7d %12s"
              % (module, r + 1, elapsed, minor, step, majors, heap))
        sys.stdout.flush()
    del kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--links", type=int, default=100000)
    ap.add_argument("--ballast", type=int, default=0, metavar="MB",
                    help="keep MB of plain bytes alive first, so that both start "
                         "from as big a heap (and as high a major-collection threshold)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if sys.implementation.name != "pypy":
        sys.exit("chain_heap.py: PyPy only (it reads PyPy's GC hooks)")
    if args.child:
        return child(args.child, args.rounds, args.links, args.ballast)
    print("%s: bench.py's chain of %d links, %d rounds per fresh process, %d MB ballast"
          % (sys.version.split("\n")[-1], args.links, args.rounds, args.ballast))
    print("%-14s %5s %9s %9s %9s %7s %12s"
          % ("module", "round", "chain s", "minor s", "major s", "majors", "heap after"))
    for module in ("greenlet_cffi", "greenlet"):
        subprocess.check_call([sys.executable, __file__, "--child", module,
                               "--rounds", str(args.rounds), "--links", str(args.links),
                               "--ballast", str(args.ballast)])


if __name__ == "__main__":
    main()
