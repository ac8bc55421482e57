"""greenlet_cffi.tracing.add_listener: events, fields, threads, failures."""
import sys
import textwrap
import threading

import pytest

import greenlet_cffi
from greenlet_cffi import GreenletExit, getcurrent, greenlet, tracing


@pytest.fixture
def events():
    got = []
    handle = tracing.add_listener(lambda event, args: got.append((event, args)))
    yield got
    handle.remove()


def names(got, keep=("switch", "throw", "spawn", "start", "finish", "collect")):
    return [e for e, _ in got if e in keep]


def test_switch_spawn_start_finish(events):
    main = getcurrent()

    def run(x):
        main.switch(x + 1)
        return "done"
    g = greenlet(run)
    line = sys._getframe().f_lineno - 1
    assert g.switch(1) == 2
    assert g.switch() == "done"
    assert names(events) == ["spawn", "switch", "start", "switch", "switch",
                             "finish", "switch"]
    spawn, sw1, start, sw2, sw3, finish, sw4 = [a for _, a in events]
    assert spawn[0] is g and spawn[1] is main
    assert spawn[2] == (__file__, line)
    assert sw1 == (main, g) and sw2 == (g, main) and sw3 == (main, g) and sw4 == (g, main)
    assert start == (g, run)
    assert finish == (g, "returned", "done")


def test_start_of_subclass_gives_bound_run(events):
    class Worker(greenlet):
        def run(self):
            return 5
    w = Worker()
    assert w.switch() == 5
    start = [a for e, a in events if e == "start"][0]
    assert start[0] is w
    assert start[1].__func__ is Worker.run


def test_throw_event_carries_the_exception(events):
    main = getcurrent()

    def run():
        try:
            main.switch()
        except ValueError as e:
            return "caught %s" % e
    g = greenlet(run)
    g.switch()
    del events[:]
    exc = ValueError("x")
    assert g.throw(exc) == "caught x"
    assert names(events) == ["throw", "finish", "switch"]
    origin, target, thrown = events[0][1]
    assert origin is main and target is g and thrown is exc
    assert events[1][1] == (g, "returned", "caught x")


def test_finish_raised_and_killed(events):
    def boom():
        raise KeyError("k")
    g = greenlet(boom)
    with pytest.raises(KeyError):
        g.switch()
    fin = [a for e, a in events if e == "finish"]
    assert fin[0][0] is g and fin[0][1] == "raised" and isinstance(fin[0][2], KeyError)

    main = getcurrent()
    h = greenlet(lambda: main.switch())
    h.switch()
    h.throw()           # GreenletExit
    fin = [a for e, a in events if e == "finish"]
    assert fin[1][0] is h and fin[1][1] == "killed" and isinstance(fin[1][2], GreenletExit)


def test_thrown_into_before_start_finishes_without_start(events):
    g = greenlet(lambda: 1)
    with pytest.raises(ValueError):
        g.throw(ValueError)
    assert "start" not in names(events)
    fin = [a for e, a in events if e == "finish"]
    assert fin[0][1] == "raised"


def test_remove_stops_events_and_restores_nothing_else():
    got = []
    handle = tracing.add_listener(lambda e, a: got.append(e))
    greenlet(lambda: None).switch()
    n = len(got)
    assert n > 0
    handle.remove()
    handle.remove()     # twice is harmless
    greenlet(lambda: None).switch()
    assert len(got) == n
    assert greenlet_cffi.gettrace() is None
    if not tracing._needs["registry"]:      # the registry keeps the hook
        ts = getcurrent()._greenlet__ts
        assert ts.hook is None and ts.trace is None


def test_settrace_gettrace_unchanged_under_a_listener():
    seen, traced = [], []

    def trace(event, args):
        traced.append(event)
    handle = tracing.add_listener(lambda e, a: seen.append(e))
    try:
        assert greenlet_cffi.gettrace() is None
        assert greenlet_cffi.settrace(trace) is None
        assert greenlet_cffi.gettrace() is trace
        greenlet(lambda: None).switch()
        assert traced == ["switch", "switch"]
        assert "switch" in seen
        assert greenlet_cffi.settrace(None) is trace
    finally:
        handle.remove()
    # A trace set while the listener was there survives its removal.
    greenlet_cffi.settrace(trace)
    handle = tracing.add_listener(lambda e, a: None)
    handle.remove()
    try:
        assert greenlet_cffi.gettrace() is trace
    finally:
        greenlet_cffi.settrace(None)


def test_failing_settrace_callback_removed_listener_stays():
    seen = []

    def bad_trace(event, args):
        raise RuntimeError("trace fails")
    handle = tracing.add_listener(lambda e, a: seen.append(e))
    try:
        greenlet_cffi.settrace(bad_trace)
        g = greenlet(lambda: None)
        with pytest.raises(RuntimeError):
            g.switch()
        assert greenlet_cffi.gettrace() is None     # removed, as greenlet does
        n = len(seen)
        greenlet(lambda: None).switch()
        assert len(seen) > n                        # the listener is still there
    finally:
        handle.remove()


def test_raising_listener_reported_and_kept(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    calls = []

    def bad(event, args):
        calls.append(event)
        raise ValueError("listener fails")
    handle = tracing.add_listener(bad)
    try:
        assert greenlet(lambda: 42).switch() == 42      # the switch goes on
        assert greenlet(lambda: 43).switch() == 43
    finally:
        handle.remove()
    assert calls.count("start") == 2
    assert len(reported) == len(calls)
    assert isinstance(reported[0].exc_value, ValueError)
    assert reported[0].object is bad


def test_raising_listener_default_hook_prints(check_script):
    lines = check_script("""
        import sys
        from greenlet_cffi import greenlet, tracing
        def bad(e, a):
            raise ValueError("listener fails")
        tracing.add_listener(bad)
        print(greenlet(lambda: 42).switch())
    """)
    assert lines == ["42"]


def test_default_hook_output(run_script):
    proc = run_script("""
        from greenlet_cffi import greenlet, tracing
        def bad(e, a):
            raise ValueError("listener fails")
        tracing.add_listener(bad)
        greenlet(lambda: 42).switch()
    """)
    assert proc.returncode == 0
    assert "ValueError: listener fails" in proc.stderr
    assert "greenlet_cffi listener" in proc.stderr


def test_collect_event_for_unreferenced_suspended(check_script):
    lines = check_script("""
        import gc
        from greenlet_cffi import greenlet, getcurrent, tracing
        got = []
        def listener(e, a):
            # Keeps no greenlet: that would keep it from being collected.
            if e == "finish":
                got.append((e, id(a[0]), a[1], type(a[2]).__name__))
            elif e == "collect":
                got.append((e, id(a[0]), a[0].dead, bool(a[0])))
        tracing.add_listener(listener)
        main = getcurrent()
        def run():
            try:
                main.switch()
            finally:
                print("finally runs")
        g = greenlet(run)
        g.switch()
        gid = id(g)
        del g
        for _ in range(3):
            gc.collect()
        print([(e[0], e[1] == gid) + e[2:] for e in got])
        # A greenlet in a cycle, killed after a collection, not during it.
        class Holder: pass
        h = Holder()
        h.g = greenlet(lambda: main.switch())
        h.g.holder = h
        h.g.switch()
        del got[:]
        del h
        for _ in range(3):
            gc.collect()
        getcurrent()
        print([e[0] for e in got])
    """)
    assert lines[0] == "finally runs"
    # collect: the greenlet is alive (started, unfinished) when told
    assert lines[1] == ("[('collect', True, False, True), "
                        "('finish', True, 'killed', 'GreenletExit')]")
    assert lines[2] == "['collect', 'finish']"


THREADS = """
import threading
from greenlet_cffi import greenlet, getcurrent, tracing
got = []
lock = threading.Lock()
def listener(event, args):
    with lock:
        got.append((event, threading.get_ident()))
def work():
    greenlet(lambda: getcurrent().parent.switch(1)).switch()
"""


def test_threads_before_and_after(check_script):
    lines = check_script(THREADS + textwrap.dedent("""
        go, ready = threading.Event(), threading.Event()
        def early():
            work()          # its greenlet state exists before the listener
            ready.set()
            go.wait()
            work()
        before = threading.Thread(target=early)
        before.start()
        ready.wait()
        h = tracing.add_listener(listener)
        go.set()
        before.join()
        after = threading.Thread(target=work)
        after.start()
        after.join()
        quiet = threading.Thread(target=lambda: None)   # no greenlets
        quiet.start(); quiet.join()
        idents = set(t for e, t in got)
        print(before.ident in idents, after.ident in idents)
        print({"spawn", "start", "switch"} <= set(e for e, t in got))
        h.remove()
        n = len(got)
        t = threading.Thread(target=work); t.start(); t.join()
        print(len(got) == n)
    """))
    assert lines == ["True True", "True", "True"]


def test_one_thread_only(check_script):
    lines = check_script(THREADS + textwrap.dedent("""
        go, done = threading.Event(), threading.Event()
        def target():
            go.wait()
            work()
        def other():
            go.wait()
            work()
        t1 = threading.Thread(target=target)   # no greenlet state yet
        t2 = threading.Thread(target=other)
        t1.start(); t2.start()
        h = tracing.add_listener(listener, thread=t1)
        go.set()
        t1.join(); t2.join()
        print(set(t for e, t in got) == {t1.ident})
        # A thread that already has its greenlets.
        del got[:]
        go2 = threading.Event()
        ready = threading.Event()
        def again():
            work()
            ready.set()
            go2.wait()
            work()
        t3 = threading.Thread(target=again)
        t3.start()
        ready.wait()
        h3 = tracing.add_listener(listener, thread=t3)
        work()                                 # main: not listened to
        go2.set(); t3.join()
        print(set(t for e, t in got) == {t3.ident}, len(got) > 0)
        h3.remove()
        h.remove()
    """))
    assert lines == ["True", "True True"]


def test_listener_must_be_callable():
    with pytest.raises(TypeError):
        tracing.add_listener(42)


def test_dead_thread_refused():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    with pytest.raises(ValueError):
        tracing.add_listener(lambda e, a: None, thread=t)
