#!/usr/bin/env python
"""Benchmark greenlet_cffi against the running interpreter's reference greenlet.

Reference: ``import greenlet`` -- the PyPI C extension on CPython, PyPy's
bundled pure-Python module on PyPy.  Both implementations run the same
workloads in one process; repeats alternate between them and the best
(fastest) repeat of each is reported.  Memory is measured in fresh child
processes.

    python bench/bench.py [--quick] [--only NAME[,NAME...]] [--json FILE]

See bench/README.md.
"""
import argparse
import collections
import gc
import json
import os
import platform
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# Lowest priority: an installed greenlet_cffi or PYTHONPATH wins over the checkout.
for _p in (REPO, os.path.join(REPO, "src")):
    if os.path.isdir(_p) and _p not in sys.path:
        sys.path.append(_p)

perf_counter = time.perf_counter
IS_PYPY = platform.python_implementation() == "PyPy"
API = ("greenlet", "getcurrent", "GreenletExit", "settrace", "gettrace")
DEPTH = 100            # Python frames on each side for switch_deep
CHAIN_LENGTH = 100000  # --quick uses a tenth
THREAD_ROUND_TRIPS = 300000   # likewise
MEMORY_COUNT = 20000   # suspended greenlets per memory child
MEMORY_FRAMES = 5      # Python frames each of them is suspended in


# ---------------------------------------------------------------- loading

def load(which):
    """Import 'ours' (greenlet_cffi) or 'reference' (greenlet), or exit non-zero."""
    name = "greenlet_cffi" if which == "ours" else "greenlet"
    try:
        mod = __import__(name)
    except Exception:
        traceback.print_exc()
        sys.exit("bench: cannot import %s (%s)%s; not benchmarking"
                 % (name, which, "" if IS_PYPY or which == "ours"
                    else ": pip install greenlet"))
    missing = [a for a in API if not hasattr(mod, a)]
    if missing:
        sys.exit("bench: %s (%s) lacks %s" % (name, mod.__file__, ", ".join(missing)))
    path = os.path.abspath(getattr(mod, "__file__", "") or "")
    if which == "reference" and IS_PYPY and (
            "site-packages" in path or "dist-packages" in path):
        sys.exit("bench: on PyPy the reference must be PyPy's bundled greenlet "
                 "(lib_pypy), got %s" % path)
    return mod


# ---------------------------------------------------------------- helpers

class _Ping(Exception):
    pass


def _deep(depth, fn):
    """Call fn() from `depth` extra Python frames."""
    return _deep(depth - 1, fn) if depth else fn()


# Partner side of a round trip: park k times by switching to `main`.
def _park_plain(main, k):
    sw = main.switch
    for _ in range(k):
        sw()


def _park_echo(main, k):
    sw = main.switch
    v = None
    for _ in range(k):
        v = sw(v)


def _park_catch(main, k):
    sw = main.switch
    for _ in range(k):
        try:
            sw()
        except _Ping:
            pass


# Main side: n round trips into the parked partner p.
def _drive_plain(p, n):
    sw = p.switch
    for _ in range(n):
        sw()


def _drive_value(p, n):
    sw = p.switch
    for i in range(n):
        sw(i)


def _drive_throw(p, n):
    th = p.throw
    for _ in range(n):
        th(_Ping)


def _round_trips(mod, n, drive, park, depth=0):
    """Seconds for n round trips main -> partner -> main, both `depth` frames deep."""
    def measured():
        main = mod.getcurrent()
        p = mod.greenlet(lambda: _deep(depth, lambda: park(main, n + 1)))
        p.switch()                  # start the partner; it parks in its loop
        t0 = perf_counter()
        drive(p, n)
        elapsed = perf_counter() - t0
        p.switch()                  # last resume: the partner's loop ends, it returns
        if not p.dead:
            raise RuntimeError("partner greenlet did not finish")
        return elapsed
    return _deep(depth, measured)


# ---------------------------------------------------------------- workloads
# Each takes (module, n) and returns (elapsed seconds, operations done).

def bench_switch(mod, n):
    return _round_trips(mod, n, _drive_plain, _park_plain), 2 * n


def bench_switch_value(mod, n):
    return _round_trips(mod, n, _drive_value, _park_echo), 2 * n


def bench_switch_deep(mod, n):
    return _round_trips(mod, n, _drive_plain, _park_plain, DEPTH), 2 * n


def _return_now():
    pass


def bench_spawn(mod, n):
    new = mod.greenlet
    t0 = perf_counter()
    for _ in range(n):
        new(_return_now).switch()
    return perf_counter() - t0, n


def bench_chain(mod, n):
    """n greenlets are started from main and park; then a value runs down the
    chain, each greenlet switching into the next one passing value+1, and the
    last returns the result to main.  (All parents are main: with a 100,000-deep
    parent chain the reference greenlet 3.5 is quadratic and segfaulted.)"""
    main = mod.getcurrent()
    chain = []

    def link(i):
        v = main.switch()                       # parked until the predecessor comes
        if i + 1 == n:
            return v + 1
        chain[i + 1].switch(v + 1)              # resumed only by the teardown below

    new = mod.greenlet
    t0 = perf_counter()
    for i in range(n):
        g = new(link)
        g.switch(i)
        chain.append(g)
    result = chain[0].switch(0)
    elapsed = perf_counter() - t0
    if result != n:
        raise RuntimeError("chain returned %r, expected %r" % (result, n))
    for g in chain:                             # untimed: let every link return
        if not g.dead:
            g.switch()
    return elapsed, n


def bench_getcurrent(mod, n):
    get = mod.getcurrent
    t0 = perf_counter()
    for _ in range(n):
        get()
    return perf_counter() - t0, n


def bench_throw(mod, n):
    return _round_trips(mod, n, _drive_throw, _park_catch), n


def _trace(event, args):
    pass


def bench_switch_traced(mod, n):
    old = mod.settrace(_trace)
    try:
        return bench_switch(mod, n)
    finally:
        mod.settrace(old)


def bench_switch_thread(mod, n):
    stop = []
    started = threading.Event()

    def busy():
        started.set()
        x = 0
        while not stop:
            x += 1

    t = threading.Thread(target=busy)
    t.daemon = True
    t.start()
    started.wait()
    try:
        return bench_switch(mod, n)
    finally:
        stop.append(True)
        t.join()


Workload = collections.namedtuple("Workload", "name func unit scale fixed_n")
WORKLOADS = [
    Workload("switch", bench_switch, "ns/switch", 1e9, None),
    Workload("switch_value", bench_switch_value, "ns/switch", 1e9, None),
    Workload("switch_deep", bench_switch_deep, "ns/switch", 1e9, None),
    Workload("spawn", bench_spawn, "us/greenlet", 1e6, None),
    Workload("chain", bench_chain, "us/greenlet", 1e6, CHAIN_LENGTH),
    Workload("getcurrent", bench_getcurrent, "ns/call", 1e9, None),
    Workload("throw", bench_throw, "ns/throw", 1e9, None),
    Workload("switch_traced", bench_switch_traced, "ns/switch", 1e9, None),
    # Long enough to span many of the interpreter's 5 ms GIL switch
    # intervals, so that sharing the GIL with the busy thread is measured.
    Workload("switch_thread", bench_switch_thread, "ns/switch", 1e9, THREAD_ROUND_TRIPS),
]
NAMES = [w.name for w in WORKLOADS] + ["memory"]


# ---------------------------------------------------------------- timing

def _timed(work, mod, n):
    gc.collect()    # start clean; GC stays enabled: collecting is part of the cost
    return work.func(mod, n)


def measure(work, impls, cfg):
    """Returns ({impl: best seconds per op}, {impl: seconds of that run}, n)."""
    if work.fixed_n:
        # Warm up both, small first: PyPy's bundled greenlet retains ~85 KB per
        # greenlet started while the JIT is still tracing (100,000: 45 s, 8 GB).
        n = work.fixed_n // cfg.shrink
        for warm_n in (min(1000, n), n):
            for _, mod in impls:
                _timed(work, mod, warm_n)
    else:
        # Warm up both and grow n until three runs in a row of the slower impl
        # take >= target (runs while a JIT compiles are slow and do not count).
        n, long_enough = 16, 0
        while long_enough < 3:
            slowest = max(_timed(work, mod, n)[0] for _, mod in impls)
            if slowest >= cfg.target:
                long_enough += 1
            else:
                long_enough = 0
                n = int(n * min(10.0, max(2.0, 1.2 * cfg.target / max(slowest, 1e-9))))
    best = {}
    total = {}
    for r in range(cfg.repeats):
        order = impls if r % 2 == 0 else impls[::-1]
        for name, mod in order:
            elapsed, ops = _timed(work, mod, n)
            if name not in best or elapsed / ops < best[name]:
                best[name] = elapsed / ops
                total[name] = elapsed
    return best, total, n


# ---------------------------------------------------------------- memory

def _rss_reader():
    try:
        import psutil
        proc = psutil.Process()
        return "psutil", lambda: proc.memory_info().rss
    except ImportError:
        page = os.sysconf("SC_PAGE_SIZE")

        def statm():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page
        return "/proc/self/statm", statm


def memory_child(which, count):
    """Runs in a fresh process: RSS growth per suspended greenlet, as JSON."""
    mod = load(which)
    method, rss = _rss_reader()
    main = mod.getcurrent()

    def park():
        main.switch()

    def run():
        _deep(MEMORY_FRAMES, park)

    keep = []

    def spawn(k):
        for _ in range(k):
            g = mod.greenlet(run)
            g.switch()
            keep.append(g)

    spawn(1000)                 # warm-up (kept alive so nothing is reused)
    gc.collect()
    before = rss()
    spawn(count)
    gc.collect()
    after = rss()
    print(json.dumps({"bytes": (after - before) / float(count), "method": method}))
    sys.stdout.flush()
    os._exit(0)                 # skip killing the greenlets at shutdown


def measure_memory(count):
    best = {}
    for which in ("ours", "reference"):
        cmd = [sys.executable, os.path.abspath(__file__),
               "--_memory-child", which, "--_memory-count", str(count)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError("memory child for %s failed (rc=%s):\n%s"
                               % (which, proc.returncode, err))
        data = json.loads(out.strip().splitlines()[-1])
        best[which] = data["bytes"]
    return best, data["method"]


# ---------------------------------------------------------------- main

def fmt(x):
    if x is None:
        return "error"
    return "%.3f" % x if abs(x) < 10 else "%.1f" % x if abs(x) < 10000 else "%.0f" % x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="few short repeats (whole run ~15 s), for tests/CI")
    ap.add_argument("--only", metavar="NAME",
                    help="comma-separated workloads: " + ", ".join(NAMES))
    ap.add_argument("--json", metavar="FILE", help="also write results as JSON")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    ap.add_argument("--_memory-count", dest="memory_count", type=int,
                    default=MEMORY_COUNT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.memory_count)

    selected = NAMES
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in selected if s not in NAMES]
        if unknown:
            ap.error("unknown workload(s) %s; choose from %s"
                     % (", ".join(unknown), ", ".join(NAMES)))
    cfg = argparse.Namespace(target=0.01 if args.quick else 0.1,
                             repeats=9 if args.quick else 7,
                             shrink=10 if args.quick else 1)

    ref, ours = load("reference"), load("ours")
    impls = [("ours", ours), ("reference", ref)]
    header = collections.OrderedDict([
        ("python", "%s %s" % (platform.python_implementation(),
                              sys.version.replace("\n", " "))),
        ("executable", sys.executable),
        ("greenlet_cffi", getattr(ours, "__file__", "?")),
        ("greenlet_cffi backend", getattr(ours, "BACKEND", "?")),
        ("reference greenlet", "%s (%s)" % (getattr(ref, "__version__", "?"),
                                            getattr(ref, "__file__", "?"))),
        ("mode", "quick" if args.quick else "full"),
        ("repeats", "best of %d, alternating" % cfg.repeats),
    ])
    for k, v in header.items():
        print("%-22s %s" % (k + ":", v))
    if ours.greenlet is ref.greenlet:
        print("NOTE: greenlet_cffi.greenlet IS the reference class (a shim?): "
              "ratios should be ~1.0")
    print()

    rows = []
    failed = False
    cols = "%-15s %-15s %12s %12s %8s"
    print(cols % ("workload", "unit", "ours", "reference", "ratio"))
    print(cols % ("-" * 15, "-" * 15, "-" * 12, "-" * 12, "-" * 8))

    def emit(name, unit, o, r, n=None):
        ratio = o / r if o is not None and r else None
        rows.append(collections.OrderedDict([
            ("workload", name), ("unit", unit), ("ours", o), ("reference", r),
            ("ratio", ratio), ("n", n)]))
        print(cols % (name, unit, fmt(o), fmt(r), fmt(ratio)))
        sys.stdout.flush()

    start = perf_counter()
    for work in WORKLOADS:
        if work.name not in selected:
            continue
        try:
            best, total, n = measure(work, impls, cfg)
        except Exception:
            failed = True
            traceback.print_exc()
            emit(work.name, work.unit, None, None)
            continue
        emit(work.name, work.unit, best["ours"] * work.scale,
             best["reference"] * work.scale, n)
        if work.fixed_n:
            emit(work.name + "_total", "ms/%d" % n, total["ours"] * 1e3,
                 total["reference"] * 1e3, n)
    memory_method = None
    if "memory" in selected:
        try:
            mem, memory_method = measure_memory(MEMORY_COUNT)
            emit("memory", "bytes/greenlet", mem["ours"], mem["reference"],
                 MEMORY_COUNT)
        except Exception:
            failed = True
            traceback.print_exc()
            emit("memory", "bytes/greenlet", None, None)
    print()
    print("ratio = ours / reference (> 1: greenlet_cffi slower or bigger)")
    if memory_method:
        print("memory: RSS growth over %d greenlets suspended %d frames deep, "
              "one fresh process each, via %s" % (MEMORY_COUNT, MEMORY_FRAMES,
                                                  memory_method))
    print("elapsed: %.1f s" % (perf_counter() - start))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(collections.OrderedDict([
                ("header", header), ("results", rows)]), f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
