#!/usr/bin/env python
"""What tracing costs a switch: ping-pong under each kind of observer.

    python bench/bench_tracing.py [--quick] [--repeats N] [--json FILE]

Every configuration runs the same ping-pong (main <-> one partner
greenlet, n round trips) in this one process; repeats go round the
configurations in turn (order reversed every other round), and each
configuration reports its best and worst repeat and the ratio of its best
to the plain switch's best:

  plain              no observer (greenlet_cffi)
  plain_after        no observer, after a listener was added and removed
  listener           one no-op listener (greenlet_cffi.tracing.add_listener)
  settrace           greenlet_cffi.settrace with a no-op Python callback
  blocking_watch     watch_blocking(10 s): one counter per switch
  profile            greenlet_cffi.profile.record(): the profiler recording
  profile_1khz       the same with the sampler at 1 kHz
  ref_plain          greenlet (the reference), no observer          [if installed]
  ref_settrace       greenlet.settrace with a no-op Python callback [if installed]

The ref_* ratios are to ref_plain.
"""
import argparse
import gc
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.append(REPO)   # lowest priority: an installed package wins

import greenlet_cffi                            # noqa: E402
from greenlet_cffi import blocking, profile, tracing    # noqa: E402

perf_counter = time.perf_counter


def noop(event, args):
    pass


def ping_pong(mod, n):
    """Seconds for n round trips main -> partner -> main."""
    main = mod.getcurrent()

    def partner():
        sw = main.switch
        while sw():
            pass
    p = mod.greenlet(partner)
    p.switch()
    sw = p.switch
    t0 = perf_counter()
    for _ in range(n):
        sw(True)
    elapsed = perf_counter() - t0
    sw(False)
    assert p.dead
    return elapsed


class Config:
    """A name, the module switched with, and how to set up / tear down."""

    def __init__(self, name, mod, setup=None, base="plain"):
        self.name, self.mod, self.setup, self.base = name, mod, setup, base
        self.times = []

    def run(self, n):
        undo = self.setup() if self.setup else None
        gc.collect()
        try:
            return ping_pong(self.mod, n)
        finally:
            if undo is not None:
                undo()


def with_listener():
    h = tracing.add_listener(noop)
    return h.remove


def with_settrace(mod):
    def setup():
        old = mod.settrace(noop)
        return lambda: mod.settrace(old)
    return setup


def with_watch():
    w = blocking.watch_blocking(10.0)
    return w.stop


def with_profile(hz):
    def setup():
        rec = profile.record(sample_hz=hz).start()
        return rec.stop
    return setup


def configs():
    out = [
        Config("plain", greenlet_cffi),
        Config("plain_after", greenlet_cffi),
        Config("listener", greenlet_cffi, with_listener),
        Config("settrace", greenlet_cffi, with_settrace(greenlet_cffi)),
        Config("blocking_watch", greenlet_cffi, with_watch),
        Config("profile", greenlet_cffi, with_profile(0)),
        Config("profile_1khz", greenlet_cffi, with_profile(1000)),
    ]
    try:
        import greenlet as ref
    except ImportError:
        ref = None
    if ref is not None and getattr(ref, "greenlet", None) is not greenlet_cffi.greenlet:
        out.append(Config("ref_plain", ref, base="ref_plain"))
        out.append(Config("ref_settrace", ref, with_settrace(ref), base="ref_plain"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--n", type=int, default=None, help="round trips per repeat")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    n = args.n or (20000 if args.quick else 200000)
    repeats = args.repeats or (3 if args.quick else 7)
    cfgs = configs()
    # One listener added and removed before plain_after runs: the hook
    # comes and goes.
    tracing.add_listener(noop).remove()
    for c in cfgs:                  # warm-up (PyPy's JIT too)
        c.run(max(n // 10, 1000))
    for r in range(repeats):
        for c in (cfgs if r % 2 == 0 else cfgs[::-1]):
            c.times.append(c.run(n) / (2 * n))      # per switch
    best = {c.name: min(c.times) for c in cfgs}
    print("python: %s %s" % (platform.python_implementation(), sys.version.split()[0]))
    print("greenlet_cffi: %s (%s)" % (greenlet_cffi.__file__, greenlet_cffi.BACKEND))
    print("%d round trips per repeat, %d repeats, ns per switch\n" % (n, repeats))
    fmt = "%-16s %10s %10s %8s"
    print(fmt % ("config", "best", "worst", "ratio"))
    print(fmt % ("-" * 16, "-" * 10, "-" * 10, "-" * 8))
    rows = []
    for c in cfgs:
        b, w = min(c.times), max(c.times)
        ratio = b / best[c.base]
        rows.append({"config": c.name, "best_ns": b * 1e9, "worst_ns": w * 1e9,
                     "ratio": ratio, "base": c.base})
        print(fmt % (c.name, "%.1f" % (b * 1e9), "%.1f" % (w * 1e9), "%.2f" % ratio))
    if args.json:
        with open(args.json, "w") as fp:
            json.dump({"python": sys.version, "n": n, "repeats": repeats, "rows": rows},
                      fp, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
