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

clock = time.perf_counter    # what workloads are timed by: --clock cpu makes it thread_time
wall_clock = time.perf_counter
IS_PYPY = platform.python_implementation() == "PyPy"
API = ("greenlet", "getcurrent", "GreenletExit", "settrace", "gettrace")
DEPTH = 100            # Python frames on each side for switch_deep
CHAIN_LENGTH = 100000  # --quick uses a tenth
THREAD_ROUND_TRIPS = 300000   # likewise
# PyPy's sequence: the chain and the suspended population at most this,
# since in a fresh process the bundled greenlet's 100,000-link chain grows
# past 14 GB (~85 KB per greenlet started while the JIT traces).
PYPY_SEQUENCE_CAP = 10000
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


def _round_trips(mod, n, drive, park, depth=0, timer=None):
    """Seconds for n round trips main -> partner -> main, both `depth` frames deep."""
    timer = timer or clock

    def measured():
        main = mod.getcurrent()
        p = mod.greenlet(lambda: _deep(depth, lambda: park(main, n + 1)))
        p.switch()                  # start the partner; it parks in its loop
        t0 = timer()
        drive(p, n)
        elapsed = timer() - t0
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
    t0 = clock()
    for _ in range(n):
        new(_return_now).switch()
    return clock() - t0, n


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
    t0 = clock()
    for i in range(n):
        g = new(link)
        g.switch(i)
        chain.append(g)
    result = chain[0].switch(0)
    elapsed = clock() - t0
    if result != n:
        raise RuntimeError("chain returned %r, expected %r" % (result, n))
    for g in chain:                             # untimed: let every link return
        if not g.dead:
            g.switch()
    return elapsed, n


def bench_getcurrent(mod, n):
    get = mod.getcurrent
    t0 = clock()
    for _ in range(n):
        get()
    return clock() - t0, n


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
        # Wall time even under --clock cpu: waiting for the GIL is the point.
        return _round_trips(mod, n, _drive_plain, _park_plain, timer=wall_clock), 2 * n
    finally:
        stop.append(True)
        t.join()


# -- the issue-10 program: garbage chains of suspended greenlets

def _garbage_chain(mod, n):
    """n greenlets, each parked in its predecessor's switch, passing a value
    along; all stay suspended and become garbage (the issue-10 program)."""
    getcurrent = mod.getcurrent

    def link(nxt):
        v = getcurrent().parent.switch()
        nxt.switch(v + 1)
    start = getcurrent()
    for _ in range(n):
        g = mod.greenlet(link)
        g.switch(start)
        start = g
    start.switch(0)


def bench_chain_garbage(mod, n):
    t0 = clock()
    _garbage_chain(mod, n)
    return clock() - t0, n


def bench_gc_chain_garbage(mod, n):
    _garbage_chain(mod, n)
    t0 = clock()
    gc.collect()
    return clock() - t0, 1


# -- server-like: many greenlets alive

ROUND_ROBIN = 10000     # greenlets a scheduler switches through
ALIVE = 100000          # greenlets kept suspended during churn and gc_alive
SERVER_FRAMES = 4       # Python frames each of them is suspended in


def _parked(mod, count, frames):
    """count greenlets, each suspended `frames` Python frames deep in a loop
    that switches back to main whenever it is resumed."""
    main = mod.getcurrent()

    def serve():
        sw = main.switch
        while True:
            sw()

    def run():
        _deep(frames, serve)
    new = mod.greenlet
    out = []
    for _ in range(count):
        g = new(run)
        g.switch()
        out.append(g)
    return out


def _kill_all(gs):
    for g in gs:
        g.throw()       # GreenletExit: each one ends at once, now, untimed


def bench_round_robin(mod, n):
    """A scheduler (main) resumes 10,000 greenlets parked a few frames deep,
    round-robin; one resume and the switch back count as 2 switches."""
    workers = _parked(mod, ROUND_ROBIN, SERVER_FRAMES)
    rounds = max(1, n // ROUND_ROBIN)
    switches = [g.switch for g in workers]
    t0 = clock()
    for _ in range(rounds):
        for sw in switches:
            sw()
    elapsed = clock() - t0
    del switches
    _kill_all(workers)
    return elapsed, 2 * rounds * ROUND_ROBIN


_alive = {}     # module -> its parked greenlets (see release_alive)
_alive_count = [ALIVE]      # --quick: fewer


def _population(mod):
    if mod not in _alive:
        _alive[mod] = _parked(mod, _alive_count[0], SERVER_FRAMES)
    return _alive[mod]


def release_alive():
    for gs in _alive.values():
        _kill_all(gs)
    _alive.clear()
    gc.collect()


def bench_churn(mod, n):
    """With ALIVE greenlets suspended: spawn one that parks, then kill it."""
    _population(mod)
    new = mod.greenlet
    main = mod.getcurrent()

    def parks():
        main.switch()
    t0 = clock()
    for _ in range(n):
        g = new(parks)
        g.switch()
        g.throw()
    return clock() - t0, n


def bench_gc_alive(mod, n):
    """gc.collect() with ALIVE greenlets suspended."""
    _population(mod)
    t0 = clock()
    for _ in range(n):
        gc.collect()
    return clock() - t0, n


Workload = collections.namedtuple("Workload", "name func unit scale fixed_n total")
Workload.__new__.__defaults__ = (False,)
# In this order in the one-process sequence.
WORKLOADS = [
    Workload("switch", bench_switch, "ns/switch", 1e9, None),
    Workload("switch_value", bench_switch_value, "ns/switch", 1e9, None),
    Workload("switch_deep", bench_switch_deep, "ns/switch", 1e9, None),
    Workload("spawn", bench_spawn, "us/greenlet", 1e6, None),
    Workload("chain", bench_chain, "us/greenlet", 1e6, CHAIN_LENGTH, True),
    Workload("getcurrent", bench_getcurrent, "ns/call", 1e9, None),
    Workload("throw", bench_throw, "ns/throw", 1e9, None),
    Workload("switch_traced", bench_switch_traced, "ns/switch", 1e9, None),
    # Long enough to span many of the interpreter's 5 ms GIL switch
    # intervals, so that sharing the GIL with the busy thread is measured.
    Workload("switch_thread", bench_switch_thread, "ns/switch", 1e9, THREAD_ROUND_TRIPS, True),
    Workload("chain_garbage", bench_chain_garbage, "us/greenlet", 1e6, 10000),
    Workload("gc_chain_garbage", bench_gc_chain_garbage, "ms/collect", 1e3, 10000),
    Workload("round_robin", bench_round_robin, "ns/switch", 1e9, 5 * ROUND_ROBIN),
    Workload("churn", bench_churn, "us/greenlet", 1e6, 20000),
    Workload("gc_alive", bench_gc_alive, "ms/collect", 1e3, 3),
]
# Keep ALIVE greenlets suspended (released after them, or after a round).
ALIVE_USERS = ("churn", "gc_alive")
NAMES = [w.name for w in WORKLOADS] + ["memory"]


# ---------------------------------------------------------------- timing

def _timed(work, mod, n):
    gc.collect()    # start clean; GC stays enabled: collecting is part of the cost
    return work.func(mod, n)


def calibrate(work, impls, cfg):
    """Warm both up; the n both are timed with."""
    if work.fixed_n:
        # Warm up both, small first: PyPy's bundled greenlet retains ~85 KB per
        # greenlet started while the JIT is still tracing (100,000: 45 s, 8 GB).
        n = max(1, work.fixed_n // cfg.shrink)
        for warm_n in (min(1000, n), n):
            for _, mod in impls:
                _timed(work, mod, warm_n)
        return n
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
    return n


def measure(work, impls, cfg):
    """Per-workload mode: returns ({impl: [seconds per op of each repeat]},
    {impl: seconds of its best repeat}, n)."""
    n = calibrate(work, impls, cfg)
    per_op = {}
    total = {}
    for r in range(cfg.repeats):
        order = impls if r % 2 == 0 else impls[::-1]
        for name, mod in order:
            elapsed, ops = _timed(work, mod, n)
            if name not in per_op or elapsed / ops < min(per_op[name]):
                total[name] = elapsed
            per_op.setdefault(name, []).append(elapsed / ops)
    if work.name in ALIVE_USERS:
        release_alive()
    return per_op, total, n


# ---------------------------------------------------------------- sequence

def sequence_child(which, plan):
    """Runs in a fresh process, as one long-lived program would: for each
    line read from stdin, one round of every planned workload in order,
    answered by one JSON line {name: seconds per op}."""
    mod = load(which)
    works = [(w, n) for w in WORKLOADS for name, n in plan if w.name == name]
    for line in sys.stdin:
        if not line.strip():
            break
        out = {}
        for work, n in works:
            elapsed, ops = _timed(work, mod, n)
            out[work.name] = elapsed / ops
        release_alive()         # the round's end: untimed
        print(json.dumps(out))
        sys.stdout.flush()
    os._exit(0)                 # skip killing greenlets at shutdown


def run_sequence(plan, rounds, alive, clock_name="wall"):
    """One child process per implementation runs every workload of `plan`
    ((name, n), in order) in sequence, `rounds` times; rounds alternate
    between the two children.  Returns {impl: {name: [seconds per op]}}."""
    kids = {}
    for which in ("ours", "reference"):
        cmd = [sys.executable, os.path.abspath(__file__), "--_sequence-child", which,
               "--_plan", json.dumps(plan), "--_alive", str(alive), "--clock", clock_name]
        kids[which] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       universal_newlines=True)
    times = {which: {} for which in kids}
    try:
        for r in range(rounds):
            order = ("ours", "reference") if r % 2 == 0 else ("reference", "ours")
            for which in order:
                kid = kids[which]
                kid.stdin.write("round\n")
                kid.stdin.flush()
                line = kid.stdout.readline()
                if not line:
                    raise RuntimeError("sequence child for %s died (rc=%s)"
                                       % (which, kid.wait()))
                for name, t in json.loads(line).items():
                    times[which].setdefault(name, []).append(t)
    finally:
        for kid in kids.values():
            try:
                kid.stdin.close()
            except OSError:
                pass
            kid.wait()
    return times


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
                    help="few short repeats, for tests/CI")
    ap.add_argument("--only", metavar="NAME",
                    help="comma-separated workloads: " + ", ".join(NAMES))
    ap.add_argument("--mode", choices=("both", "workload", "sequence"), default="both",
                    help="each workload on its own, all in sequence in one "
                         "process per implementation, or both (default)")
    ap.add_argument("--rounds", type=int, metavar="R",
                    help="rounds of the sequence (default 7, 5 with --quick)")
    ap.add_argument("--json", metavar="FILE", help="also write results as JSON")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time workloads by wall clock (default) or by this "
                         "thread's CPU time, which a busy shared machine "
                         "disturbs less (switch_thread stays on the wall clock)")
    ap.add_argument("--per-round", action="store_true",
                    help="sequence: also print every round's time of every "
                         "workload, for both implementations")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    ap.add_argument("--_memory-count", dest="memory_count", type=int,
                    default=MEMORY_COUNT, help=argparse.SUPPRESS)
    ap.add_argument("--_sequence-child", dest="sequence_child", help=argparse.SUPPRESS)
    ap.add_argument("--_plan", dest="plan", help=argparse.SUPPRESS)
    ap.add_argument("--_alive", dest="alive", type=int, default=ALIVE,
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _alive_count[0] = args.alive
    global clock
    if args.clock == "cpu":
        clock = time.thread_time
    if args.memory_child:
        memory_child(args.memory_child, args.memory_count)
    if args.sequence_child:
        sequence_child(args.sequence_child, json.loads(args.plan))

    selected = NAMES
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in selected if s not in NAMES]
        if unknown:
            ap.error("unknown workload(s) %s; choose from %s"
                     % (", ".join(unknown), ", ".join(NAMES)))
    cfg = argparse.Namespace(target=0.01 if args.quick else 0.1,
                             repeats=9 if args.quick else 7,
                             shrink=10 if args.quick else 1,
                             rounds=args.rounds or (5 if args.quick else 7))
    _alive_count[0] = ALIVE // cfg.shrink

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
        ("mode", ("quick" if args.quick else "full") + ", " + args.mode),
        ("clock", "wall (perf_counter)" if args.clock == "wall" else
                  "CPU time of the timing thread (thread_time); switch_thread: wall"),
        ("per workload", "best and worst of %d repeats, alternating, both in "
                         "this process" % cfg.repeats),
        ("sequence", "every workload in order, one fresh process per "
                     "implementation, %d rounds alternating between them%s"
                     % (cfg.rounds, "; chains and the suspended population at most "
                        "%d (PyPy)" % PYPY_SEQUENCE_CAP if IS_PYPY else "")),
    ])
    for k, v in header.items():
        print("%-22s %s" % (k + ":", v))
    if ours.greenlet is ref.greenlet:
        print("NOTE: greenlet_cffi.greenlet IS the reference class (a shim?): "
              "ratios should be ~1.0")

    rows = []
    failed = False
    cols = "%-19s %-15s %10s %10s %7s %9s %9s"
    cols_first = cols + " %9s %9s"      # the sequence's: with round 1 apart

    def table(title, first=False):
        c = cols_first if first else cols
        heads = ("workload", "unit", "ours", "reference", "ratio", "ours w/b", "ref w/b")
        rules = ("-" * 19, "-" * 15, "-" * 10, "-" * 10, "-" * 7, "-" * 9, "-" * 9)
        print()
        print(title)
        print(c % (heads + (("ours 1st/b", "ref 1st/b") if first else ())))
        print(c % (rules + (("-" * 9,) * 2 if first else ())))

    def emit(mode, name, unit, o, r, n=None, o_all=None, r_all=None, first=None):
        """o, r: best; o_all, r_all: every repeat (same unit) counted;
        first: (ours, reference) of a round 1 left out of those."""
        ratio = o / r if o is not None and r else None
        ow = max(o_all) / o if o_all and o else None
        rw = max(r_all) / r if r_all and r else None
        row = collections.OrderedDict([
            ("mode", mode), ("workload", name), ("unit", unit), ("ours", o),
            ("reference", r), ("ratio", ratio), ("ours_worst", o_all and max(o_all)),
            ("reference_worst", r_all and max(r_all)), ("n", n),
            ("ours_repeats", o_all), ("reference_repeats", r_all)])
        cells = (name, unit, fmt(o), fmt(r), fmt(ratio),
                 fmt(ow) if ow else "", fmt(rw) if rw else "")
        if mode == "sequence":
            row["ours_first"], row["reference_first"] = first or (None, None)
            cells += (fmt(first[0] / o) if first and o else "",
                      fmt(first[1] / r) if first and r else "")
        rows.append(row)
        print((cols_first if mode == "sequence" else cols) % cells)
        sys.stdout.flush()

    start = wall_clock()
    plan = []
    works = [w for w in WORKLOADS if w.name in selected]
    if args.mode != "sequence":
        table("Each workload on its own (best of %d repeats; w/b = worst/best)"
              % cfg.repeats)
    for work in works:
        try:
            if args.mode == "sequence":
                n = calibrate(work, impls, cfg)
                if work.name in ALIVE_USERS:
                    release_alive()
                plan.append((work.name, n))
                continue
            per_op, total, n = measure(work, impls, cfg)
        except Exception:
            failed = True
            traceback.print_exc()
            emit("workload", work.name, work.unit, None, None)
            continue
        plan.append((work.name, n))
        sc = work.scale
        emit("workload", work.name, work.unit, min(per_op["ours"]) * sc,
             min(per_op["reference"]) * sc, n,
             [t * sc for t in per_op["ours"]], [t * sc for t in per_op["reference"]])
        if work.total:
            emit("workload", work.name + "_total", "ms/%d" % n, total["ours"] * 1e3,
                 total["reference"] * 1e3, n)
    memory_method = None
    if "memory" in selected and args.mode != "sequence":
        try:
            mem, memory_method = measure_memory(MEMORY_COUNT)
            emit("workload", "memory", "bytes/greenlet", mem["ours"], mem["reference"],
                 MEMORY_COUNT)
        except Exception:
            failed = True
            traceback.print_exc()
            emit("workload", "memory", "bytes/greenlet", None, None)
    release_alive()
    seq_alive = _alive_count[0]
    if IS_PYPY and plan:
        capped = ("chain", "chain_garbage", "gc_chain_garbage")
        plan = [(name, min(n, PYPY_SEQUENCE_CAP) if name in capped else n)
                for name, n in plan]
        seq_alive = min(seq_alive, PYPY_SEQUENCE_CAP)
    if args.mode != "workload" and plan:
        # Round 1 runs cold (on PyPy the JIT compiles every workload there,
        # for both implementations): shown on its own, as 1st/b, and left out
        # of best and worst, which are those of the warm rounds.
        table("All in sequence, one process each (best of rounds 2-%d; w/b = worst/best "
              "of those; 1st/b = round 1 / best)" % cfg.rounds, first=True)
        try:
            seq = run_sequence(plan, cfg.rounds, seq_alive, args.clock)
        except Exception:
            failed = True
            traceback.print_exc()
            seq = None
        scaled = []             # (name, ours, reference): every round, per op
        for name, n in plan:
            work = [w for w in WORKLOADS if w.name == name][0]
            if seq is None or name not in seq["ours"] or name not in seq["reference"]:
                emit("sequence", name, work.unit, None, None, n)
                continue
            o = [t * work.scale for t in seq["ours"][name]]
            r = [t * work.scale for t in seq["reference"][name]]
            scaled.append((name, o, r))
            warm = slice(1, None) if len(o) > 1 else slice(None)
            emit("sequence", name, work.unit, min(o[warm]), min(r[warm]), n, o[warm], r[warm],
                 first=(o[0], r[0]))
        if args.per_round and seq is not None:
            print()
            print("Sequence, every round (round 1 first); n: %s"
                  % ", ".join("%s %d" % (name, n) for name, n in plan))
            for name, o, r in scaled:
                for which, ts in (("ours", o), ("reference", r)):
                    print("%-17s %-9s %s" % (name, which, " ".join(fmt(t) for t in ts)))
    print()
    print("ratio = ours / reference, best against best (> 1: greenlet_cffi slower or bigger);")
    print("w/b = that implementation's worst repeat / its best (a stall shows here);")
    print("sequence: best and w/b over rounds 2 on, 1st/b = round 1 (cold) / that best")
    print("round_robin: %d greenlets %d frames deep; churn, gc_alive: %d greenlets "
          "suspended meanwhile%s" % (ROUND_ROBIN, SERVER_FRAMES, _alive_count[0],
                                     " (sequence: %d)" % seq_alive
                                     if seq_alive != _alive_count[0] else ""))
    if memory_method:
        print("memory: RSS growth over %d greenlets suspended %d frames deep, "
              "one fresh process each, via %s" % (MEMORY_COUNT, MEMORY_FRAMES,
                                                  memory_method))
    print("elapsed: %.1f s" % (wall_clock() - start))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(collections.OrderedDict([
                ("header", header), ("results", rows)]), f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
