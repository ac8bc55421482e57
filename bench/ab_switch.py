#!/usr/bin/env python
"""Same-process A/B of a few of bench.py's workloads: short samples of
greenlet_cffi and the reference greenlet alternate for SECONDS per
workload, and the best sample of each side gives the ratio.  Alternating
often makes both sides see the same machine load, which is what a small
change of the switch path needs (bench.py's repeats are 0.1 s long).

    python bench/ab_switch.py [--seconds 8] [--only switch,switch_thread]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# workload -> operations per sample
SAMPLES = {"switch": 5000, "switch_value": 5000, "switch_thread": 5000,
           "switch_traced": 2000, "spawn": 2000, "throw": 1000}


def ab(name, seconds, mods):
    fn = getattr(bench, "bench_" + name)
    n = SAMPLES[name]
    best = [float("inf")] * len(mods)
    for mod in mods:            # warm up
        fn(mod, n)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i, mod in enumerate(mods):
            elapsed, ops = fn(mod, n)
            best[i] = min(best[i], elapsed / ops)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--only", default="switch,switch_value,switch_thread,spawn,throw")
    args = ap.parse_args()
    mods = [bench.load("ours"), bench.load("reference")]
    print("%s %s; ours %s, reference %s" % (
        sys.implementation.name, sys.version.split()[0], mods[0].__file__,
        getattr(mods[1], "__version__", "?")))
    for name in args.only.split(","):
        ours, ref = ab(name, args.seconds, mods)
        print("%-14s ours %8.1f ns   reference %8.1f ns   ratio %.3f"
              % (name, ours * 1e9, ref * 1e9, ours / ref))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
