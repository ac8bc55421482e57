"""greenlet_cffi.tracing's registry: live_greenlets(), current_frames()."""
import gc
import sys
import threading
import weakref

import pytest

import greenlet_cffi
from greenlet_cffi import getcurrent, greenlet, tracing


@pytest.fixture(autouse=True, params=["tracked", "scanned"])
def mode(request):
    """Each test with the registry kept (track_greenlets) and without it
    (the GC walk)."""
    if request.param == "tracked":
        with tracing.track_greenlets():
            yield request.param
    else:
        yield request.param


def collect():
    for _ in range(4):
        gc.collect()


def parked():
    getcurrent().parent.switch()


def test_live_greenlets_started_unfinished_only():
    main = getcurrent()
    started = greenlet(parked)
    started.switch()
    unstarted = greenlet(parked)
    finished = greenlet(lambda: None)
    finished.switch()
    live = tracing.live_greenlets()
    assert main in live
    assert started in live
    assert unstarted not in live
    assert finished not in live
    started.switch()            # it finishes
    assert started not in tracing.live_greenlets()


def test_registry_is_weak():
    g = greenlet(parked)
    g.switch()
    tracing.live_greenlets()
    ref = weakref.ref(g)
    g.throw()       # end it: what killing would do, without depending on GC
    del g
    collect()
    assert ref() is None
    h = greenlet(parked)
    h.switch()
    assert h in tracing.live_greenlets()
    ref = weakref.ref(h)
    del h           # killed on collection; the registry does not keep it
    collect()
    getcurrent()
    assert ref() is None
    assert all(g is not None for g in tracing.live_greenlets())


def test_current_frames_running_and_suspended():
    def inner_park():
        getcurrent().parent.switch()

    def run():
        inner_park()
    g = greenlet(run)
    g.switch()
    frames = {gr: (ident, f) for gr, ident, f in tracing.current_frames()}
    ident, f = frames[g]
    assert ident == threading.get_ident()
    assert f.f_code.co_name == "inner_park"
    assert f.f_back.f_code.co_name == "run"
    ident, f = frames[getcurrent()]
    assert f.f_code is sys._getframe().f_code       # the caller, not the registry
    g.switch()


def test_current_frames_other_thread_running(check_script):
    lines = check_script("""
        import threading, time
        from greenlet_cffi import greenlet, getcurrent, tracing
        inside, stop = threading.Event(), threading.Event()
        def spinning_in_greenlet():
            inside.set()
            while not stop.is_set():
                time.sleep(0.001)
        def thread_main():
            greenlet(spinning_in_greenlet).switch()
        t = threading.Thread(target=thread_main)
        t.start()
        inside.wait()
        found = [(g, f) for g, ident, f in tracing.current_frames() if ident == t.ident]
        names = sorted((g.parent is None, f and f.f_code.co_name) for g, f in found)
        print(names)
        stop.set()
        t.join()
    """)
    # Its main greenlet is suspended in the switch; its other one runs.
    if sys.implementation.name == "pypy":
        # No frames of greenlets suspended in other threads there.
        assert lines == ["[(False, 'spinning_in_greenlet'), (True, None)]"]
    else:
        assert lines == ["[(False, 'spinning_in_greenlet'), (True, 'thread_main')]"]


def test_greenlets_started_before_the_registry(check_script):
    lines = check_script("""
        from greenlet_cffi import greenlet, getcurrent
        def parked():
            getcurrent().parent.switch()
        early = greenlet(parked)
        early.switch()
        from greenlet_cffi import tracing      # nothing kept until now
        print(early in tracing.live_greenlets())
        with tracing.track_greenlets():
            print(early in tracing.live_greenlets())
            late = greenlet(parked)
            late.switch()
            print(late in tracing.live_greenlets(), len(tracing._live))
        ts = getcurrent()._greenlet__ts
        print(ts.hook, len(tracing._live))       # all let go
    """)
    assert lines == ["True", "True", "True 2", "None 0"]


def test_registry_under_four_switching_threads(check_script, mode):
    lines = check_script("""
        import sys, threading, time
        from greenlet_cffi import greenlet, getcurrent, tracing
        WORKERS = {"ping", "pong", "worker", "spawner", "switch", "_switch_to",
                   "is_set"}     # worker() calls stop.is_set()
        stop = threading.Event()
        errors = []
        threading.excepthook = lambda a: errors.append(repr(a.exc_value))
        def ping(n):
            while n:
                n = getcurrent().parent.switch(n - 1)
        def pong():
            return 1
        def worker():
            while not stop.is_set():
                g = greenlet(ping)
                n = g.switch(200)
                while not g.dead:
                    n = g.switch(n)
                for _ in range(20):
                    greenlet(pong).switch()
        def spawner():
            worker()
        if "MODE" == "tracked":
            tracing.track_greenlets()
        threads = [threading.Thread(target=spawner) for _ in range(4)]
        for t in threads:
            t.start()
        reads = frames = 0
        bad = []
        deadline = time.time() + 2.0
        try:
            rounds = 0
            while time.time() < deadline or rounds < 5:
                rounds += 1
                for g, ident, f in tracing.current_frames():
                    reads += 1
                    if f is None:
                        continue
                    frames += 1
                    walk = tracing.frames_from(f) if tracing.can_walk(ident) else [f]
                    names = set(f.f_code.co_name for f in walk)
                    if not names & (WORKERS | {"<module>"}):
                        bad.append(sorted(names))
        finally:
            stop.set()
        for t in threads:
            t.join()
        left = [g for g in tracing.live_greenlets() if g.parent is not None]
        # (The GC walk is slow on PyPy, more so on a busy machine: a few
        # rounds, not a rate.)
        print(reads >= 5, frames >= 5, bad[:3], left, errors)
    """.replace("MODE", mode), timeout=120)
    assert lines == ["True True [] [] []"]
