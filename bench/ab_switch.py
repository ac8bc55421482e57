#!/usr/bin/env python
"""Same-process A/B of a few of bench.py's workloads: short samples of
greenlet_cffi and the reference greenlet alternate for SECONDS per
workload, and the best sample of each side gives the ratio.  Alternating
often makes both sides see the same machine load, which is what a small
change of the switch path needs (bench.py's repeats are 0.1 s long).

    python bench/ab_switch.py [--seconds 8] [--only switch,switch_thread]
                              [--cffi-transfer]

--cffi-transfer (CPython) adds a third side: greenlet_cffi switching
through cffi's wrapper of the core's transfer instead of the core's builtin
function (csrc/core.c), swapped in between samples.
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


def ab(name, seconds, sides):
    """sides: (module, prepare) pairs; prepare() runs before each sample."""
    fn = getattr(bench, "bench_" + name)
    n = SAMPLES[name]
    best = [float("inf")] * len(sides)
    for mod, prepare in sides:      # warm up
        prepare()
        fn(mod, n)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i, (mod, prepare) in enumerate(sides):
            prepare()
            elapsed, ops = fn(mod, n)
            best[i] = min(best[i], elapsed / ops)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--only", default="switch,switch_value,switch_thread,spawn,throw")
    ap.add_argument("--cffi-transfer", action="store_true")
    args = ap.parse_args()
    ours, ref = bench.load("ours"), bench.load("reference")
    print("%s %s; ours %s, reference %s" % (
        sys.implementation.name, sys.version.split()[0], ours.__file__,
        getattr(ref, "__version__", "?")))
    layer = ours._greenlet
    builtin = layer._transfer

    def use(transfer):
        def prepare():
            layer._transfer = transfer
        return prepare
    sides = [(ours, use(builtin)), (ref, lambda: None)]
    if args.cffi_transfer:
        from greenlet_cffi._backend_cpython import lib
        sides.append((ours, use(lib.gcffi_transfer)))
    try:
        for name in args.only.split(","):
            best = ab(name, args.seconds, sides)
            line = "%-14s ours %8.1f ns   reference %8.1f ns   ratio %.3f" % (
                name, best[0] * 1e9, best[1] * 1e9, best[0] / best[1])
            if args.cffi_transfer:
                line += "   | cffi's transfer %8.1f ns   ratio %.3f" % (
                    best[2] * 1e9, best[2] / best[1])
            print(line)
            sys.stdout.flush()
    finally:
        layer._transfer = builtin


if __name__ == "__main__":
    main()
