"""greenlet.throw() semantics."""
import sys
import traceback

import pytest

from greenlet_cffi import GreenletExit, getcurrent, greenlet


def _suspended(run=None):
    """Create a greenlet that is suspended inside its run function."""
    if run is None:
        def run():
            getcurrent().parent.switch("suspended")
            return "resumed normally"  # pragma: no cover
    g = greenlet(run)
    assert g.switch() == "suspended"
    return g


def test_default_throw_kills_with_greenlet_exit():
    log = []

    def run():
        try:
            getcurrent().parent.switch("suspended")
        except GreenletExit as exc:
            log.append(("except", type(exc)))
            raise
        finally:
            log.append("finally")

    g = _suspended(run)
    result = g.throw()
    assert isinstance(result, GreenletExit)
    assert log == [("except", GreenletExit), "finally"]
    assert g.dead
    assert not g


def test_throw_greenlet_exit_returns_value_when_caught():
    def run():
        try:
            getcurrent().parent.switch("suspended")
        except GreenletExit:
            return "cleaned up"
        return "not reached"  # pragma: no cover

    g = _suspended(run)
    assert g.throw() == "cleaned up"
    assert g.dead


def test_throw_caught_then_greenlet_switches_back():
    def run():
        try:
            getcurrent().parent.switch("suspended")
        except ValueError as exc:
            value = getcurrent().parent.switch(("caught", exc.args))
        return ("finished", value)

    g = _suspended(run)
    assert g.throw(ValueError, "x") == ("caught", ("x",))
    assert not g.dead
    assert g.switch(9) == ("finished", 9)
    assert g.dead


def test_throw_type_only():
    g = _suspended()
    with pytest.raises(KeyError) as info:
        g.throw(KeyError)
    assert info.value.args == ()
    assert g.dead


def test_throw_type_and_value():
    g = _suspended()
    with pytest.raises(KeyError) as info:
        g.throw(KeyError, "the value")
    assert info.value.args == ("the value",)


def test_throw_type_and_tuple_args():
    g = _suspended()
    with pytest.raises(RuntimeError) as info:
        g.throw(RuntimeError, ("a", 2))
    assert info.value.args == ("a", 2)


def test_throw_type_and_instance_value():
    g = _suspended()
    inst = ValueError("given")
    with pytest.raises(ValueError) as info:
        g.throw(ValueError, inst)
    assert info.value is inst


def test_throw_instance():
    class Custom(Exception):
        pass

    inst = Custom(1, 2)
    g = _suspended()
    with pytest.raises(Custom) as info:
        g.throw(inst)
    assert info.value is inst
    assert info.value.args == (1, 2)


def test_throw_instance_is_seen_inside_greenlet():
    inst = LookupError("seen")
    seen = []

    def run():
        try:
            getcurrent().parent.switch("suspended")
        except LookupError as exc:
            seen.append(exc)
            return "handled"

    g = _suspended(run)
    assert g.throw(inst) == "handled"
    assert seen[0] is inst


def _make_traceback():
    def origin_of_traceback():
        raise ValueError("with tb")

    try:
        origin_of_traceback()
    except ValueError as exc:
        return exc, exc.__traceback__


def test_throw_with_real_traceback():
    exc, tb = _make_traceback()
    g = _suspended()
    with pytest.raises(ValueError) as info:
        g.throw(ValueError, exc, tb)
    assert info.value is exc
    names = [e.name for e in traceback.extract_tb(info.value.__traceback__)]
    # The supplied traceback's frames are preserved.
    assert "origin_of_traceback" in names
    assert g.dead


def test_throw_with_traceback_and_none_value():
    _, tb = _make_traceback()
    g = _suspended()
    with pytest.raises(KeyError):
        g.throw(KeyError, None, tb)


def test_throw_non_exception_type_is_type_error():
    g = _suspended()
    for bad in (int, "string", 42, object, object()):
        with pytest.raises(TypeError):
            g.throw(bad)
    # The failed calls did not disturb the greenlet.
    assert not g.dead
    assert g.switch() == "resumed normally"


def test_throw_instance_with_separate_value_is_type_error():
    g = _suspended()
    with pytest.raises(TypeError):
        g.throw(KeyError("inst"), "extra value")
    assert not g.dead


def test_throw_bad_traceback_is_type_error():
    g = _suspended()
    for bad_tb in ("not a tb", 5, object()):
        with pytest.raises(TypeError):
            g.throw(KeyError, None, bad_tb)
        with pytest.raises(TypeError):
            g.throw(KeyError, "v", bad_tb)
    assert not g.dead


def test_throw_none_traceback_allowed():
    g = _suspended()
    with pytest.raises(KeyError):
        g.throw(KeyError, "v", None)


def test_throw_into_unstarted_greenlet_with_exception():
    ran = []
    g = greenlet(lambda: ran.append("body"))
    with pytest.raises(KeyError) as info:
        g.throw(KeyError("unstarted"))
    assert info.value.args == ("unstarted",)
    assert ran == []
    assert g.dead
    assert not g


def test_throw_into_unstarted_greenlet_default_returns_greenlet_exit():
    ran = []
    g = greenlet(lambda: ran.append("body"))
    result = g.throw()
    assert isinstance(result, GreenletExit)
    assert ran == []
    assert g.dead


def test_throw_into_unstarted_greenlet_then_switch_goes_to_parent():
    ran = []
    g = greenlet(lambda *a: ran.append(a))
    g.throw()
    # Dead now: switching just returns to the parent (us).
    assert g.switch("x") == "x"
    assert ran == []


def test_throw_into_dead_greenlet_goes_to_parent():
    g = greenlet(lambda: "done")
    assert g.switch() == "done"
    assert g.dead
    with pytest.raises(ZeroDivisionError):
        g.throw(ZeroDivisionError)
    result = g.throw()
    assert isinstance(result, GreenletExit)


def test_throw_into_dead_greenlet_from_child_goes_to_dead_ones_parent():
    dead = greenlet(lambda: None)
    dead.switch()

    def run():
        dead.throw(IndexError("to main"))
        return "unreachable"  # pragma: no cover

    g = greenlet(run)
    with pytest.raises(IndexError, match="to main"):
        g.switch()
    # g itself is still suspended inside dead.throw()
    assert not g.dead


def test_throw_from_child_into_sibling():
    log = []

    def victim_run():
        try:
            getcurrent().parent.switch("victim waiting")
        except OSError as exc:
            log.append(("victim got", exc.args))
            return "victim result"

    victim = greenlet(victim_run)
    assert victim.switch() == "victim waiting"

    def thrower_run():
        r = victim.throw(OSError, ("e",))
        log.append("thrower resumed")  # pragma: no cover
        return r

    thrower = greenlet(thrower_run)
    # victim's parent is main; its return value goes there.
    assert thrower.switch() == "victim result"
    assert log == [("victim got", ("e",))]
    assert victim.dead
    assert not thrower.dead


def test_throw_into_self():
    def run():
        try:
            getcurrent().throw(ValueError("self"))
        except ValueError as exc:
            return ("caught", str(exc))

    assert greenlet(run).switch() == ("caught", "self")


def test_throw_greenlet_exit_subclass_returned_as_value():
    class Stop(GreenletExit):
        pass

    g = _suspended()
    result = g.throw(Stop)
    assert type(result) is Stop
    assert g.dead


def test_throw_base_exception_propagates():
    class NotAnError(BaseException):
        pass

    g = _suspended()
    with pytest.raises(NotAnError):
        g.throw(NotAnError)
    assert g.dead


def test_throw_traceback_includes_switch_frame():
    def waiting_frame():
        getcurrent().parent.switch("suspended")

    g = _suspended(lambda: waiting_frame())
    with pytest.raises(ArithmeticError) as info:
        g.throw(ArithmeticError)
    names = [e.name for e in traceback.extract_tb(info.value.__traceback__)]
    assert "waiting_frame" in names
