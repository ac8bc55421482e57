"""Issue 10's chain and gc.collect(), again and again in one process.

    python bench/pileup.py [--rounds 40] [--links 10000] [--module greenlet_cffi]

Each round builds a chain of suspended greenlets that all become garbage
(the issue's program), then calls gc.collect(); it prints the chain's time,
the collection's time and the process's RSS after each round.  A process
that kills a chain's links one per collection (PyPy without the sweep:
GREENLET_CFFI_PYPY_SWEEP=0) grows round after round; with the sweep, or
with the reference greenlet (--module greenlet), it levels off.
"""
import argparse
import gc
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finalizer_kills import chain  # noqa: E402  (the same chain)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--links", type=int, default=10000)
    ap.add_argument("--module", default="greenlet_cffi")
    args = ap.parse_args()
    mod = importlib.import_module(args.module)
    print("%s, %s (sweep: %s): %d rounds of a %d-link garbage chain + gc.collect()"
          % (sys.version.split("\n")[-1], args.module,
             os.environ.get("GREENLET_CFFI_PYPY_SWEEP", "default"), args.rounds, args.links))
    print("round   chain ms  collect ms    RSS MB")
    start = time.perf_counter()
    for r in range(args.rounds):
        t = time.perf_counter()
        chain(mod.greenlet, mod.getcurrent, args.links)
        made = time.perf_counter() - t
        t = time.perf_counter()
        gc.collect()
        collected = time.perf_counter() - t
        print("%5d %10.1f %11.1f %9.0f" % (r + 1, made * 1e3, collected * 1e3, rss_mb()))
    print("total %.1f s" % (time.perf_counter() - start))


if __name__ == "__main__":
    main()
