"""greenlet.settrace/gettrace, plus interpreter tracing and profiling."""
import doctest
import os
import sys
import threading

import pytest

import greenlet_cffi
from greenlet_cffi import GreenletExit, getcurrent, greenlet, settrace

HERE = os.path.dirname(os.path.abspath(__file__))


class Recorder(object):
    """Trace callback recording events with symbolic greenlet names."""

    def __init__(self, names):
        self.names = names
        self.events = []
        self.currents = []

    def name(self, g):
        for key, value in self.names.items():
            if value is g:
                return key
        return repr(g)

    def __call__(self, event, args):
        if event in ("switch", "throw"):
            origin, target = args
            self.events.append((event, self.name(origin), self.name(target)))
            self.currents.append(getcurrent() is target)


@pytest.fixture
def tracing():
    """Install a recorder; always uninstall it."""
    installed = []

    def install(names):
        rec = Recorder(names)
        installed.append(greenlet_cffi.settrace(rec))
        return rec

    yield install
    if installed:
        greenlet_cffi.settrace(installed[0])


def test_gettrace_default_none():
    assert greenlet_cffi.gettrace() is None


def test_settrace_returns_previous_and_gettrace_current():
    def first(event, args):
        pass

    def second(event, args):
        pass

    try:
        assert greenlet_cffi.settrace(first) is None
        assert greenlet_cffi.gettrace() is first
        assert greenlet_cffi.settrace(second) is first
        assert greenlet_cffi.gettrace() is second
        assert greenlet_cffi.settrace(None) is second
        assert greenlet_cffi.gettrace() is None
    finally:
        greenlet_cffi.settrace(None)


def test_trace_function_is_per_thread():
    def cb(event, args):
        pass

    seen = {}

    def target():
        seen["initial"] = greenlet_cffi.gettrace()

        def other(event, args):
            pass

        seen["previous"] = greenlet_cffi.settrace(other)
        seen["installed"] = greenlet_cffi.gettrace() is other
        greenlet_cffi.settrace(None)

    greenlet_cffi.settrace(cb)
    try:
        t = threading.Thread(target=target)
        t.start()
        t.join()
        assert greenlet_cffi.gettrace() is cb
    finally:
        greenlet_cffi.settrace(None)
    assert seen == {"initial": None, "previous": None, "installed": True}


def test_trace_in_thread_sees_only_that_threads_switches():
    main_events = []
    greenlet_cffi.settrace(lambda e, a: main_events.append(e))
    try:
        def target():
            greenlet(lambda: None).switch()

        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        greenlet_cffi.settrace(None)
    assert main_events == []


def test_switch_events_for_start_resume_and_finish(tracing):
    main = getcurrent()

    def run(x):
        y = main.switch(x + 1)
        return y * 2

    g = greenlet(run)
    rec = tracing({"main": main, "g": g})
    assert g.switch(1) == 2
    assert g.switch(5) == 10
    greenlet_cffi.settrace(None)
    assert rec.events == [
        ("switch", "main", "g"),   # first switch into the new greenlet
        ("switch", "g", "main"),   # g.switch back to main
        ("switch", "main", "g"),   # resume
        ("switch", "g", "main"),   # finishing: result delivered to parent
    ]
    assert all(rec.currents)


def test_switch_events_between_children(tracing):
    main = getcurrent()
    a = greenlet(lambda: b.switch())
    b = greenlet(lambda: "b done")
    rec = tracing({"main": main, "a": a, "b": b})
    assert a.switch() == "b done"
    greenlet_cffi.settrace(None)
    assert rec.events == [
        ("switch", "main", "a"),
        ("switch", "a", "b"),
        ("switch", "b", "main"),
    ]
    assert all(rec.currents)
    a.throw()


def test_throw_events(tracing):
    main = getcurrent()

    def run():
        try:
            main.switch()
        except KeyError:
            return "caught"

    g = greenlet(run)
    g.switch()
    rec = tracing({"main": main, "g": g})
    assert g.throw(KeyError) == "caught"
    greenlet_cffi.settrace(None)
    assert rec.events == [("throw", "main", "g"), ("switch", "g", "main")]
    assert all(rec.currents)


def test_default_throw_event(tracing):
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    g.switch()
    rec = tracing({"main": main, "g": g})
    assert isinstance(g.throw(), GreenletExit)
    greenlet_cffi.settrace(None)
    assert rec.events == [("throw", "main", "g"), ("switch", "g", "main")]


def test_exception_leaving_greenlet_is_a_throw_event(tracing):
    main = getcurrent()

    def run():
        raise ValueError("out")

    g = greenlet(run)
    rec = tracing({"main": main, "g": g})
    with pytest.raises(ValueError):
        g.switch()
    greenlet_cffi.settrace(None)
    assert rec.events == [("switch", "main", "g"), ("throw", "g", "main")]


def test_callback_runs_in_target_context(tracing):
    seen = []
    main = getcurrent()

    def cb(event, args):
        if event in ("switch", "throw"):
            seen.append(getcurrent() is args[1])
            seen.append(args[0] is not args[1] or args[0] is main)

    def run():
        main.switch()

    g = greenlet(run)
    greenlet_cffi.settrace(cb)
    try:
        g.switch()
        g.switch()
    finally:
        greenlet_cffi.settrace(None)
    assert len(seen) == 8
    assert all(seen)


def test_callback_can_inspect_target_frame(tracing):
    # While the callback for a resume runs, the target's gr_frame is no
    # longer reported (it is running) and getcurrent() is the target.
    main = getcurrent()
    infos = []

    def cb(event, args):
        if event == "switch":
            origin, target = args
            infos.append(target.gr_frame is None)

    g = greenlet(lambda: main.switch())
    g.switch()
    greenlet_cffi.settrace(cb)
    try:
        g.switch()
    finally:
        greenlet_cffi.settrace(None)
    assert infos == [True, True]


def test_exception_in_callback_removes_it_and_is_raised_in_target():
    main = getcurrent()

    def bad(event, args):
        raise IndexError("from callback")

    def run():
        try:
            main.switch("waiting")
        except IndexError as exc:
            return ("target caught", str(exc), greenlet_cffi.gettrace())
        return "no exception"  # pragma: no cover

    g = greenlet(run)
    assert g.switch() == "waiting"
    greenlet_cffi.settrace(bad)
    try:
        result = g.switch()
    finally:
        greenlet_cffi.settrace(None)
    assert result == ("target caught", "from callback", None)
    assert g.dead


def test_exception_in_callback_replaces_thrown_exception():
    main = getcurrent()

    def bad(event, args):
        raise IndexError("replacement")

    def run():
        try:
            main.switch()
        except Exception as exc:
            return type(exc).__name__

    g = greenlet(run)
    g.switch()
    greenlet_cffi.settrace(bad)
    try:
        result = g.throw(KeyError)
    finally:
        greenlet_cffi.settrace(None)
    assert result == "IndexError"
    assert greenlet_cffi.gettrace() is None


def test_exception_in_callback_on_first_switch_kills_new_greenlet():
    ran = []

    def bad(event, args):
        raise IndexError("before start")

    g = greenlet(lambda: ran.append("run"))
    greenlet_cffi.settrace(bad)
    try:
        with pytest.raises(IndexError, match="before start"):
            g.switch()
        assert greenlet_cffi.gettrace() is None
    finally:
        greenlet_cffi.settrace(None)
    assert ran == []
    assert g.dead


def test_exception_in_callback_when_switching_back_to_main():
    main = getcurrent()

    def bad(event, args):
        if args[1] is main:
            raise IndexError("arriving in main")

    g = greenlet(lambda: "result")
    greenlet_cffi.settrace(bad)
    try:
        with pytest.raises(IndexError, match="arriving in main"):
            g.switch()
        assert greenlet_cffi.gettrace() is None
    finally:
        greenlet_cffi.settrace(None)
    assert g.dead


def test_callback_receives_unknown_events_safely(tracing):
    # Only 'switch' and 'throw' are defined; a callback that only handles
    # those must keep working.  All events seen must be strings.
    events = []
    greenlet_cffi.settrace(lambda e, a: events.append((type(e), e)))
    try:
        greenlet(lambda: None).switch()
    finally:
        greenlet_cffi.settrace(None)
    assert events
    assert all(t is str for t, _ in events)
    assert {e for _, e in events} <= {"switch", "throw"}


def test_trace_callback_may_switch_trace_function():
    calls = []

    def second(event, args):
        calls.append(("second", event))

    def first(event, args):
        calls.append(("first", event))
        greenlet_cffi.settrace(second)

    greenlet_cffi.settrace(first)
    try:
        greenlet(lambda: None).switch()
    finally:
        greenlet_cffi.settrace(None)
    assert calls == [("first", "switch"), ("second", "switch")]


def test_tracing_documentation_example(monkeypatch):
    monkeypatch.setitem(sys.modules, "greenlet", greenlet_cffi)
    parser = doctest.DocTestParser()
    path = os.path.join(HERE, "tracing_example.rst")
    with open(path) as f:
        text = f.read()
    test = parser.get_doctest(text, {}, "tracing_example", path, 0)
    assert len(test.examples) == 9
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures = []
    runner.run(test, out=failures.append)
    try:
        assert runner.failures == 0, "".join(failures)
        assert runner.tries == len(test.examples)
    finally:
        # In case the example failed half way.
        greenlet_cffi.settrace(None)


# ---------------------------------------------------------------------------
# 13. sys.settrace / sys.setprofile / cProfile during switches (subprocess)
# ---------------------------------------------------------------------------

WORKLOAD = """
import sys
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent, GreenletExit

def workload():
    out = []
    main = getcurrent()

    def child(x):
        out.append(("child start", x))
        y = main.switch(x + 1)
        out.append(("child resumed", y))
        try:
            main.switch("parked")
        except KeyError as exc:
            out.append(("child caught", exc.args))
        inner = greenlet(lambda v: v * 3)
        return inner.switch(y)

    g = greenlet(child)
    out.append(g.switch(1))
    out.append(g.switch(10))
    out.append(g.throw(KeyError("k")))
    out.append(g.dead)
    # an unstarted greenlet killed by throw, a dying greenlet with error
    try:
        greenlet(lambda: 1).throw(ValueError)
    except ValueError:
        out.append("unstarted throw ok")
    try:
        greenlet(lambda: 1 / 0).switch()
    except ZeroDivisionError:
        out.append("zde ok")
    # garbage-collected suspended greenlet
    gg = greenlet(lambda: main.switch())
    gg.switch()
    del gg
    import gc
    for _ in range(3):
        gc.collect()
    # many small switches
    def ping():
        n = 0
        while True:
            n += main.switch(n)
    p = greenlet(ping)
    p.switch()
    total = 0
    for i in range(200):
        total = p.switch(1)
    out.append(total)
    p.throw()
    return out

EXPECTED = [("child start", 1), 2, ("child resumed", 10), "parked",
            ("child caught", ("k",)), 30, True, "unstarted throw ok",
            "zde ok", 200]
"""


def test_sys_settrace_during_switches(check_script):
    out = check_script(WORKLOAD + """
events = {"call": 0, "line": 0, "return": 0}
def tracer(frame, event, arg):
    if event in events:
        events[event] += 1
    return tracer
sys.settrace(tracer)
result = workload()
sys.settrace(None)
print(result == EXPECTED)
print(events["call"] > 0, events["line"] > 0, events["return"] > 0)
print(sys.gettrace())
""")
    assert out == ["True", "True True True", "None"]


def test_sys_settrace_enabled_inside_greenlet(check_script):
    # Tracing turned on inside a child greenlet and off in another.
    out = check_script(WORKLOAD + """
calls = []
def tracer(frame, event, arg):
    if event == "call":
        calls.append(frame.f_code.co_name)
    return tracer
main = getcurrent()
def enable():
    sys.settrace(tracer)
    main.switch()
    return "enabled-done"
g = greenlet(enable)
g.switch()
result = workload()
print(g.switch())
sys.settrace(None)
print(result == EXPECTED)
print("workload" in calls or "child" in calls)
""")
    assert out[0] == "enabled-done"
    assert out[1] == "True"


def test_sys_setprofile_during_switches(check_script):
    out = check_script(WORKLOAD + """
counts = {}
def profiler(frame, event, arg):
    counts[event] = counts.get(event, 0) + 1
sys.setprofile(profiler)
result = workload()
sys.setprofile(None)
print(result == EXPECTED)
print(counts.get("call", 0) > 0, counts.get("return", 0) > 0)
""")
    assert out == ["True", "True True"]


def test_cprofile_during_switches(check_script):
    out = check_script(WORKLOAD + """
import cProfile, pstats, io
prof = cProfile.Profile()
prof.enable()
result = workload()
prof.disable()
print(result == EXPECTED)
s = io.StringIO()
pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(5)
print("child" in s.getvalue() or "workload" in s.getvalue())
""")
    assert out == ["True", "True"]


def test_sys_settrace_and_greenlet_settrace_together(check_script):
    out = check_script(WORKLOAD + """
gevents = []
def gtrace(event, args):
    gevents.append(event)
def tracer(frame, event, arg):
    return tracer
sys.settrace(tracer)
greenlet_cffi.settrace(gtrace)
result = workload()
greenlet_cffi.settrace(None)
sys.settrace(None)
print(result == EXPECTED)
print(gevents.count("switch") > 200, gevents.count("throw") >= 2)
""")
    assert out == ["True", "True True"]


def test_sys_settrace_in_threads_with_greenlets(check_script):
    out = check_script(WORKLOAD + """
import threading
results = []
def tracer(frame, event, arg):
    return tracer
def target():
    sys.settrace(tracer)
    try:
        results.append(workload() == EXPECTED)
    finally:
        sys.settrace(None)
ts = [threading.Thread(target=target) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(results)
""")
    assert out == ["[True, True, True, True]"]


def test_switch_to_self_or_dead_still_traced():
    # No real switch happens, but greenlet reports one from the current
    # greenlet to itself; a throw to itself is reported as a throw.
    main = getcurrent()
    events = []

    def trace(event, args):
        events.append((event, args[0] is main, args[1] is main))

    finished = greenlet(lambda: None)
    finished.switch()
    old = settrace(trace)
    try:
        assert main.switch(5) == 5
        assert finished.switch(7) == 7      # dead: goes to its parent, main
        with pytest.raises(KeyError):
            main.throw(KeyError)
    finally:
        settrace(old)
    assert events == [("switch", True, True), ("switch", True, True),
                      ("throw", True, True)]


def test_setprofile_while_switching_in_a_hot_loop(check_script):
    # Enough switches for PyPy's JIT to compile the loop while a profile
    # function is set (PyPy 7.3.11 crashed there; see _backend_pypy.py).
    out = check_script('''
import sys
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()
calls = [0]
def profile(frame, event, arg):
    calls[0] += 1
def body():
    n = 0
    while True:
        n += main.switch(n)
def seen(x):        # a visible call: the switch machinery itself is not
    return x
g = greenlet(body)
g.switch()
sys.setprofile(profile)
total = 0
for i in range(5000):
    total += seen(g.switch(1))
sys.setprofile(None)
for i in range(5000):
    total += g.switch(1)
print(total == sum(range(1, 10001)), calls[0] > 5000)
''')
    assert out == ["True True"]


PROFILED_SWITCHES = '''
import sys
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()
events = []
def profile(frame, event, arg):
    if event.startswith("c_"):
        name = getattr(arg, "__name__", "?")
        if name not in ("switch", "throw"):
            return
        events.append((event, frame.f_code.co_name, name))
    else:
        events.append((event, frame.f_code.co_name))
def body(x):
    main.switch(x + 1)
    raise KeyError(x)
def caller(g, h):
    first = g.switch(1)
    try:
        g.switch()
    except KeyError:
        pass
    h.switch()
    try:
        h.throw(ValueError)
    except ValueError:
        pass
    return first
g, h = greenlet(body), greenlet(lambda: main.switch())
sys.setprofile(profile)
r = caller(g, h)
sys.setprofile(None)
del g, h
print(r)
for e in events:
    print(*e)
'''


def test_profilers_see_switch_and_throw_as_one_c_call(check_script):
    # As with greenlet: a switch is one C call of the caller (c_call, then
    # c_return, or c_exception when it raises); the machinery's own frames
    # are never reported, only the greenlets' Python code.
    out = check_script(PROFILED_SWITCHES)
    assert out == [
        "2",
        "call caller",
        "c_call caller switch",
        "call body",
        "c_call body switch",
        "c_return caller switch",
        "c_call caller switch",
        "c_return body switch",
        "return body",
        "c_exception caller switch",
        "c_call caller switch",
        "call <lambda>",
        "c_call <lambda> switch",
        "c_return caller switch",
        "c_call caller throw",
        "c_exception <lambda> switch",
        "return <lambda>",
        "c_exception caller throw",
        "return caller",
    ]


def test_profilers_see_no_frame_of_the_machinery(check_script):
    # greenlet's API is C code to profilers: making greenlets, reading and
    # setting their attributes, getcurrent(), settrace(), and collecting
    # them (their kill included) show no frame of greenlet_cffi's own.
    out = check_script('''
import gc, os, sys
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent, settrace, gettrace
pkg = os.path.dirname(greenlet_cffi.__file__)
seen, ours = [], []
def profile(frame, event, arg):
    seen.append(event)
    if frame.f_code.co_filename.startswith(pkg):
        ours.append((event, frame.f_code.co_name))
def body():
    getcurrent().parent.switch(1)
class Sub(greenlet):
    def __init__(self, run):
        greenlet.__init__(self, run)
def api():
    g = greenlet(body)
    s = Sub(body)
    g.switch()
    (g.dead, bool(g), g.parent, g.gr_frame, g.gr_context, repr(g), getcurrent())
    g.parent = getcurrent()
    settrace(None); gettrace()
    del g, s
    gc.collect()
sys.setprofile(profile)
api()
sys.setprofile(None)
print(len(seen) > 10, ours)
''')
    assert out == ["True []"]
