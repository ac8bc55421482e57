"""Threads under stress (run by tests/test_stress.py in a child interpreter):

    python stress_program.py MODULE SECONDS [THREADS] [GREENLETS]

THREADS threads each keep GREENLETS greenlets switching at random for
SECONDS (the thread's main greenlet switches to a random one, which runs a
random number of steps, each switching back; a suspended greenlet's frames
reference no other greenlet than main, so no garbage cycle -- which greenlet
would leak -- ever forms), with throws, while setting and clearing a trace
callback.  Greenlets
are dropped in their own thread (killed there at once on CPython, when the
GC finds them on PyPy) and handed to the main thread to be dropped there
(killed in their own thread at its next switch).  Each thread ends leaving
some greenlets suspended, which the main thread drops after the thread has
ended: those must never run again.

Every greenlet records how it ended: "ended" (run returned) or "killed"
(GreenletExit).  Prints one JSON line; "errors" lists every greenlet that
ended twice, ran after its thread ended, or never ended at all.
"""
import gc
import importlib
import itertools
import json
import random
import sys
import threading
import time
import weakref

G = importlib.import_module(sys.argv[1])
SECONDS = float(sys.argv[2])
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
GREENLETS = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
REFCOUNTED = sys.implementation.name == "cpython"

# Re-entrant: without reference counting (PyPy) a collected greenlet is
# killed where the collection's finalizers run, which is between any two
# bytecodes of its thread -- maybe inside `with lock:` below, and the
# greenlet's GreenletExit handler records under the same lock (a plain
# Lock deadlocked there: the hang of test_threads_under_stress on PyPy).
lock = threading.RLock()
seqs = itertools.count()
outcome = {}        # seq -> "ended" / "killed"
errors = []
handoff = []        # greenlets another thread is to drop
orphans = []        # (seq, greenlet) suspended when their thread ended
counts = {"switches": 0, "created": 0, "traced": 0, "handed": 0, "dropped": 0}


def record(seq, how):
    with lock:
        if seq in outcome:
            errors.append("greenlet %d %s after it %s" % (seq, how, outcome[seq]))
        outcome[seq] = how


def where(seqs):
    """For a failure report: what became of these greenlets -- freed
    without running, or alive, and then in which of greenlet_cffi's pending
    lists (when MODULE is it) and held by what."""
    found = {}
    for o in gc.get_objects():
        if isinstance(o, G.greenlet) and getattr(o, "seq", None) in seqs:
            found[o.seq] = o
    impl = sys.modules.get(G.__name__ + "._greenlet")
    if not hasattr(impl, "_gc_found"):
        impl = None     # greenlet's C module: no lists to look in
    out = []
    for seq in seqs:
        g = found.get(seq)
        if g is None:
            out.append("%d: freed" % seq)
            continue
        lists = []
        if impl is not None:
            if any(x is g for x in impl._lost):
                lists.append("_lost")
            if any(x is g for _, x in impl._gc_found):
                lists.append("_gc_found")
            if any(any(x is g for x in ts.doomed) for ts in list(impl._all_states)):
                lists.append("doomed")
        holders = [type(r).__name__ for r in gc.get_referrers(g)]
        out.append("%d: alive %r, in %s, held by %s" % (seq, g, lists, holders))
        del g
    return "; ".join(out)


def worker(tid, deadline):
    rnd = random.Random(tid)
    local = threading.local()
    pool = []
    mine = set()            # seqs of greenlets of this thread that started
    switches = traced = handed = 0

    def run(x):
        seq = G.getcurrent().seq
        mine.add(seq)
        try:
            for i in range(rnd.randint(0, 30)):
                try:
                    local.main.switch(i)
                except KeyError:
                    pass
        except G.GreenletExit:
            record(seq, "killed")
            raise
        record(seq, "ended")
        return x

    def new():
        g = G.greenlet(run)
        g.seq = next(seqs)
        return g

    def tracer(event, args):
        nonlocal traced
        traced += 1

    local.main = G.getcurrent()
    pool.extend(new() for _ in range(GREENLETS))
    created = GREENLETS
    while time.monotonic() < deadline:
        i = rnd.randrange(len(pool))
        if pool[i].dead:
            pool[i] = new()
            created += 1
        r = rnd.random()
        if r < 0.05 and pool[i]:
            pool[i].throw(KeyError)
        else:
            pool[i].switch(r)
        switches += 1
        if r < 0.01:
            G.settrace(tracer if G.gettrace() is None else None)
        elif r < 0.03:
            g = pool[i]
            pool[i] = new()
            created += 1
            if g:       # suspended: someone else drops it
                with lock:
                    handoff.append(g)
                handed += 1
            del g
        elif r < 0.05:
            pool[i] = new()     # dropped here
            created += 1
    G.settrace(None)
    # Leave a few suspended greenlets behind for after this thread ends.
    with lock:
        for g in pool[:GREENLETS // 10]:
            if g:
                orphans.append((g.seq, g))
                mine.discard(g.seq)
    del pool[:]
    # Every other greenlet of this thread must now end or be killed: dropped
    # ones here, handed-off ones once the main thread has dropped them (and,
    # without reference counting, once a collection has found them).
    limit = time.monotonic() + 60
    while time.monotonic() < limit:
        # Kills what other threads dropped (greenlet does it at a switch).
        G.greenlet(G.getcurrent).switch()
        with lock:
            left = [s for s in mine if s not in outcome]
        if not left:
            break
        if not REFCOUNTED:
            gc.collect()
        time.sleep(0.01)
    else:
        with lock:
            errors.append("thread %d: greenlets %s never ended nor were killed: %s"
                          % (tid, sorted(left)[:20], where(left[:5])))
    with lock:
        counts["switches"] += switches
        counts["created"] += created
        counts["traced"] += traced
        counts["handed"] += handed


def main():
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(t, deadline)) for t in range(THREADS)]
    for t in threads:
        t.start()
    # This thread drops what the workers hand over.
    while any(t.is_alive() for t in threads):
        with lock:
            batch = handoff[:]
            del handoff[:]
        counts["dropped"] += len(batch)
        del batch
        if not REFCOUNTED:
            gc.collect()
        time.sleep(0.005)
    for t in threads:
        t.join()
    with lock:
        left = handoff[:]
        del handoff[:]
    if left:
        errors.append("%d handed-off greenlets were never dropped" % len(left))
    # Greenlets left suspended by threads that have ended are released
    # without running.
    seqs_left = [s for s, _ in orphans]
    refs = [weakref.ref(g) for _, g in orphans]
    del orphans[:]
    for _ in range(200):
        gc.collect()
        if all(r() is None for r in refs):
            break
        time.sleep(0.01)
    alive = sum(r() is not None for r in refs)
    ran = [s for s in seqs_left if s in outcome]
    if ran:
        errors.append("greenlets %s ran after their thread ended" % ran[:20])
    if alive:
        errors.append("%d greenlets of ended threads were never released" % alive)
    counts.update(orphans=len(seqs_left), ended=sum(v == "ended" for v in outcome.values()),
                  killed=sum(v == "killed" for v in outcome.values()), errors=errors)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
