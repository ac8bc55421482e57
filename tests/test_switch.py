"""Switching: argument packing, return values, exceptions, dead greenlets."""
import sys
import traceback

import pytest

import greenlet_cffi
from greenlet_cffi import GreenletExit, getcurrent, greenlet


def _echo_back():
    """run function that hands whatever it is resumed with to its parent."""
    value = getcurrent().parent.switch("started")
    while True:
        value = getcurrent().parent.switch(value)


# ---------------------------------------------------------------------------
# 1. argument packing
# ---------------------------------------------------------------------------

def test_run_receives_positional_and_keyword_arguments():
    seen = []

    def run(*args, **kwargs):
        seen.append((args, kwargs))
        return "done"

    g = greenlet(run)
    assert g.switch(1, "two", three=3, four=[4]) == "done"
    assert seen == [((1, "two"), {"three": 3, "four": [4]})]


def test_run_with_named_parameters():
    def run(a, b, c=None):
        return (a, b, c)

    assert greenlet(run).switch(10, c=30, b=20) == (10, 20, 30)


def test_run_signature_mismatch_raises_type_error_in_parent():
    def run(a):
        return a

    g = greenlet(run)
    with pytest.raises(TypeError):
        g.switch(1, 2, 3)
    assert g.dead


def test_switch_no_args_delivers_empty_tuple():
    g = greenlet(_echo_back)
    assert g.switch() == "started"
    assert g.switch() == ()


def test_switch_single_arg_delivered_unwrapped():
    g = greenlet(_echo_back)
    g.switch()
    marker = object()
    assert g.switch(marker) is marker
    assert g.switch((1, 2)) == (1, 2)
    assert g.switch(None) is None


def test_switch_multiple_args_delivered_as_tuple():
    g = greenlet(_echo_back)
    g.switch()
    assert g.switch(1, 2, 3) == (1, 2, 3)


def test_switch_only_kwargs_delivered_as_dict():
    g = greenlet(_echo_back)
    g.switch()
    result = g.switch(a=1, b=2)
    assert isinstance(result, dict)
    assert result == {"a": 1, "b": 2}


def test_switch_args_and_kwargs_delivered_as_pair():
    g = greenlet(_echo_back)
    g.switch()
    result = g.switch(1, 2, key="value")
    assert result == ((1, 2), {"key": "value"})


def test_packing_applies_to_values_sent_back_to_parent():
    # The child resumes the parent with various argument shapes; the
    # parent's pending switch() returns them packed the same way.
    def run():
        main = getcurrent().parent
        main.switch()
        main.switch(7)
        main.switch(1, 2)
        main.switch(x=1)
        main.switch(1, x=2)
        return "end"

    g = greenlet(run)
    assert g.switch() == ()
    assert g.switch() == 7
    assert g.switch() == (1, 2)
    assert g.switch() == {"x": 1}
    assert g.switch() == ((1,), {"x": 2})
    assert g.switch() == "end"
    assert g.dead


def test_packing_in_resumed_child_switch():
    # Values delivered to a suspended child's switch() call.
    results = []

    def run():
        main = getcurrent().parent
        for _ in range(4):
            results.append(main.switch())

    g = greenlet(run)
    g.switch()
    g.switch()
    g.switch("one")
    g.switch(k="v")
    g.switch("a", k="v")
    assert g.dead
    assert results == [(), "one", {"k": "v"}, (("a",), {"k": "v"})]


def test_ping_pong_between_two_children():
    log = []

    def ping():
        for i in range(3):
            log.append(("ping", i))
            pong.switch(i)
        return "ping done"

    def pong(first):
        value = first
        while True:
            log.append(("pong", value))
            value = ping_g.switch()
            if value is None:
                break

    ping_g = greenlet(ping)
    pong = greenlet(pong)
    assert ping_g.switch() == "ping done"
    assert log == [("ping", 0), ("pong", 0), ("ping", 1), ("pong", 1),
                   ("ping", 2), ("pong", 2)]
    assert not pong.dead
    assert pong  # suspended, hence truthy
    # Finish pong cleanly.
    assert pong.switch(None) is None
    assert pong.dead


# ---------------------------------------------------------------------------
# 2. return values and exceptions go to the parent
# ---------------------------------------------------------------------------

def test_run_return_value_goes_to_parent():
    g = greenlet(lambda: {"answer": 42})
    assert g.switch() == {"answer": 42}
    assert g.dead


def test_return_value_of_none():
    g = greenlet(lambda: None)
    assert g.switch() is None


def test_return_value_goes_to_parent_not_to_last_switcher():
    main = getcurrent()

    def child():
        # Resume 'other'; when 'other' resumes us we return, and the value
        # must go to our parent (main), not to 'other'.
        other.switch()
        return "child result"

    def other_run():
        c.switch()
        return "other result"  # pragma: no cover - must not happen first

    c = greenlet(child)
    other = greenlet(other_run)
    assert c.parent is main and other.parent is main
    assert c.switch() == "child result"
    assert c.dead
    assert not other.dead
    assert other.switch() == "other result"


def test_exception_propagates_to_parent():
    class Boom(Exception):
        pass

    def run():
        raise Boom("inside")

    g = greenlet(run)
    with pytest.raises(Boom) as info:
        g.switch()
    assert str(info.value) == "inside"
    assert g.dead
    assert not g


def test_exception_traceback_contains_run_frame():
    def failing_run_function():
        helper_that_raises()

    def helper_that_raises():
        raise ValueError("deep")

    g = greenlet(failing_run_function)
    try:
        g.switch()
    except ValueError as exc:
        names = [entry.name for entry in traceback.extract_tb(exc.__traceback__)]
    else:  # pragma: no cover
        pytest.fail("no exception")
    assert "failing_run_function" in names
    assert "helper_that_raises" in names
    assert names.index("failing_run_function") < names.index("helper_that_raises")
    # The caller's own frame is part of the traceback too.
    assert "test_exception_traceback_contains_run_frame" in names


def test_exception_after_several_switches_propagates_to_parent():
    def run():
        getcurrent().parent.switch(1)
        getcurrent().parent.switch(2)
        raise LookupError("late")

    g = greenlet(run)
    assert g.switch() == 1
    assert g.switch() == 2
    with pytest.raises(LookupError, match="late"):
        g.switch()
    assert g.dead


def test_greenlet_exit_escaping_run_becomes_return_value():
    def run():
        raise GreenletExit("farewell")

    g = greenlet(run)
    result = g.switch()
    assert isinstance(result, GreenletExit)
    assert result.args == ("farewell",)
    assert g.dead


def test_greenlet_exit_subclass_escaping_run_becomes_return_value():
    class MyExit(GreenletExit):
        pass

    g = greenlet(lambda: (_ for _ in ()).throw(MyExit("sub")))
    result = g.switch()
    assert type(result) is MyExit
    assert g.dead


def test_exception_in_grandchild_goes_to_its_parent_only():
    def grandchild():
        raise KeyError("gc")

    def child():
        gcl = greenlet(grandchild)
        try:
            gcl.switch()
        except KeyError as exc:
            return "child caught %s" % exc.args[0]
        return "not caught"

    assert greenlet(child).switch() == "child caught gc"


# ---------------------------------------------------------------------------
# 4. dead greenlets
# ---------------------------------------------------------------------------

def test_switch_to_dead_greenlet_goes_to_parent():
    g = greenlet(lambda: "first")
    assert g.switch() == "first"
    assert g.dead
    # The parent is the current greenlet, so the values come right back.
    assert g.switch(5) == 5
    assert g.switch(1, 2) == (1, 2)
    assert g.switch() == ()
    assert g.switch(k=1) == {"k": 1}
    assert g.dead


def test_switch_to_dead_greenlet_from_another_child_goes_to_dead_ones_parent():
    main = getcurrent()
    dead = greenlet(lambda: None)
    dead.switch()
    assert dead.dead and dead.parent is main

    def run():
        # Switching to a dead greenlet resumes its parent (main) with the
        # value; when main switches back we continue here.
        got = dead.switch("via dead")
        return ("resumed with", got)

    g = greenlet(run)
    assert g.switch() == "via dead"
    assert not g.dead
    assert g.switch("back") == ("resumed with", "back")


def test_switch_to_self_returns_arguments():
    def run():
        me = getcurrent()
        a = me.switch(1)
        b = me.switch(1, 2)
        c = me.switch(x=1)
        d = me.switch()
        return (a, b, c, d)

    assert greenlet(run).switch() == (1, (1, 2), {"x": 1}, ())


def test_main_greenlet_switch_to_self():
    main = getcurrent()
    assert main.switch("same") == "same"
    assert main.switch() == ()


def test_switch_to_unrelated_unstarted_greenlet():
    main = getcurrent()
    log = []

    def second_run(value):
        log.append(("second", value))
        return "second finished"

    second = greenlet(second_run)

    def first_run():
        log.append("first")
        # 'second' is unstarted and its parent is main, so when it
        # finishes its result is delivered to main, not to us.
        second.switch("hello")
        log.append("first resumed")  # pragma: no cover - checked below

    first = greenlet(first_run)
    assert second.parent is main
    assert first.switch() == "second finished"
    assert log == ["first", ("second", "hello")]
    assert second.dead
    assert not first.dead  # still suspended in second.switch()
    # Resuming it lets it finish.
    assert first.switch() is None
    assert log[-1] == "first resumed"


def test_nested_greenlets_several_levels_deep():
    depth = 12

    def make(level):
        def run(value):
            assert getcurrent().parent is parents[level]
            if level == depth:
                return value + [level]
            parents.append(getcurrent())
            child = greenlet(make(level + 1))
            got = child.switch(value + [level])
            return got

        return run

    parents = [getcurrent()]
    result = greenlet(make(0)).switch([])
    assert result == list(range(depth + 1))


def test_nested_greenlets_interleaved_switching():
    main = getcurrent()
    trail = []

    def inner_run():
        trail.append("inner 1")
        outer.switch("from inner")
        trail.append("inner 2")
        main.switch("inner to main")
        trail.append("inner 3")
        return "inner done"

    def outer_run():
        global_inner = greenlet(inner_run)
        box.append(global_inner)
        got = global_inner.switch()
        trail.append(("outer got", got))
        got = main.switch("outer to main")
        trail.append(("outer got", got))
        got = global_inner.switch()
        trail.append(("outer got", got))
        return "outer done"

    box = []
    outer = greenlet(outer_run)
    assert outer.switch() == "outer to main"
    inner = box[0]
    assert inner.parent is outer
    assert outer.switch("main to outer") == "inner to main"
    # inner finishes -> result goes to its parent outer, which then returns.
    assert inner.switch() == "outer done"
    assert trail == [
        "inner 1",
        ("outer got", "from inner"),
        ("outer got", "main to outer"),
        "inner 2",
        "inner 3",
        ("outer got", "inner done"),
    ]
    assert inner.dead and outer.dead


def test_unstarted_parent_is_started_with_child_result():
    # When a child finishes and its parent has never been started, the
    # parent is started and receives the child's return value as its
    # argument.
    log = []

    def parent_run(*args):
        log.append(args)
        return "parent returned"

    p = greenlet(parent_run)
    c = greenlet(lambda: 42, parent=p)
    assert c.switch() == "parent returned"
    assert log == [(42,)]
    assert c.dead and p.dead


def test_exception_in_child_starts_unstarted_parent_with_exception():
    # An exception escaping a child whose parent was never started is
    # raised in the parent before its run body executes; the parent dies
    # and the exception continues on to the parent's parent.
    log = []

    def parent_run(*args):
        log.append(args)  # pragma: no cover - must not run
        return "parent ran"

    def child_run():
        raise IndexError("child failed")

    p = greenlet(parent_run)
    c = greenlet(child_run, parent=p)
    with pytest.raises(IndexError, match="child failed"):
        c.switch()
    assert log == []
    assert c.dead and p.dead


def test_many_sequential_greenlets_return_values():
    total = 0
    for i in range(500):
        total += greenlet(lambda x: x * 2).switch(i)
    assert total == 2 * sum(range(500))


def test_generator_style_producer():
    # A common usage pattern: a greenlet that produces values one by one.
    def producer():
        main = getcurrent().parent
        for i in range(5):
            main.switch(i * i)
        return StopIteration

    g = greenlet(producer)
    values = []
    while True:
        v = g.switch()
        if v is StopIteration:
            break
        values.append(v)
    assert values == [0, 1, 4, 9, 16]
    assert g.dead


def test_switch_from_run_through_module_level_function():
    # Switching from frames that are not the run function itself.
    def deep(n):
        if n == 0:
            return getcurrent().parent.switch("bottom")
        return deep(n - 1) + 1

    g = greenlet(lambda: deep(30))
    assert g.switch() == "bottom"
    assert g.switch(100) == 130
