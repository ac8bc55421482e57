"""Attributes of greenlet objects and module-level API."""
import contextvars
import os
import sys
import weakref

import pytest

import greenlet_cffi
from greenlet_cffi import GreenletExit, getcurrent, greenlet


def _suspend():
    return getcurrent().parent.switch()


# ---------------------------------------------------------------------------
# 9. module level API
# ---------------------------------------------------------------------------

def test_module_exports():
    assert isinstance(greenlet_cffi.greenlet, type)
    assert callable(greenlet_cffi.getcurrent)
    assert callable(greenlet_cffi.settrace)
    assert callable(greenlet_cffi.gettrace)


def test_greenlet_exit_is_base_exception_not_exception():
    assert issubclass(GreenletExit, BaseException)
    assert not issubclass(GreenletExit, Exception)


def test_error_is_exception_subclass():
    assert issubclass(greenlet_cffi.error, Exception)


def test_version_is_str():
    assert isinstance(greenlet_cffi.__version__, str)
    assert greenlet_cffi.__version__


def test_feature_flags_true():
    assert greenlet_cffi.GREENLET_USE_GC
    assert greenlet_cffi.GREENLET_USE_TRACING
    assert greenlet_cffi.GREENLET_USE_CONTEXT_VARS


def test_getcurrent_is_greenlet_and_stable():
    cur = getcurrent()
    assert isinstance(cur, greenlet)
    assert getcurrent() is cur


def test_getcurrent_inside_child():
    inside = []
    g = greenlet(lambda: inside.append(getcurrent()))
    g.switch()
    assert inside[0] is g


def test_main_greenlet_properties():
    main = getcurrent()
    # Run from the main greenlet of the main thread here.
    assert main.parent is None
    assert not main.dead
    assert bool(main)
    assert main.gr_frame is None  # running greenlet


def test_greenlet_is_subclassable():
    class MyGreenlet(greenlet):
        def run(self, x):
            return ("sub", x, isinstance(getcurrent(), MyGreenlet))

    g = MyGreenlet()
    assert g.switch(3) == ("sub", 3, True)


# ---------------------------------------------------------------------------
# repr
# ---------------------------------------------------------------------------

def test_repr_of_main_greenlet():
    text = repr(getcurrent())
    assert "main" in text
    assert "current" in text
    assert "started" in text
    assert "dead" not in text


def test_repr_of_unstarted_greenlet():
    text = repr(greenlet(lambda: None))
    assert "started" not in text
    assert "dead" not in text
    assert "main" not in text
    assert "current" not in text


def test_repr_of_suspended_greenlet():
    g = greenlet(_suspend)
    g.switch()
    text = repr(g)
    assert "started" in text
    assert "dead" not in text
    assert "current" not in text
    assert "main" not in text
    g.switch()


def test_repr_of_running_greenlet():
    texts = []
    g = greenlet(lambda: texts.append(repr(getcurrent())))
    g.switch()
    assert "current" in texts[0]
    assert "started" in texts[0]
    assert "main" not in texts[0]
    # main is no longer current while g runs
    g2 = greenlet(lambda: repr(g2.parent))
    main_text = g2.switch()
    assert "main" in main_text
    assert "current" not in main_text


def test_repr_of_dead_greenlet():
    g = greenlet(lambda: None)
    g.switch()
    text = repr(g)
    assert "dead" in text
    assert "current" not in text


def test_repr_mentions_subclass_name():
    class SpecialGreenlet(greenlet):
        pass

    assert "SpecialGreenlet" in repr(SpecialGreenlet(lambda: None))


# ---------------------------------------------------------------------------
# 4. dead / bool
# ---------------------------------------------------------------------------

def test_dead_and_bool_through_lifecycle():
    states = []

    def run():
        me = getcurrent()
        states.append(("running", me.dead, bool(me)))
        me.parent.switch()

    g = greenlet(run)
    assert not g.dead
    assert not bool(g)
    g.switch()
    assert states == [("running", False, True)]
    assert not g.dead
    assert bool(g)
    g.switch()
    assert g.dead
    assert not bool(g)


def test_dead_after_exception():
    g = greenlet(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        g.switch()
    assert g.dead and not g


# ---------------------------------------------------------------------------
# 5. run attribute
# ---------------------------------------------------------------------------

def test_run_from_constructor_keyword_and_positional():
    def f():
        return "f"

    assert greenlet(run=f).run is f
    assert greenlet(f).run is f


def test_run_assignment_before_start():
    def f():
        return "assigned"

    g = greenlet()
    g.run = f
    assert g.run is f
    assert g.switch() == "assigned"


def test_run_reassignment_before_start_replaces():
    g = greenlet(lambda: "old")
    g.run = lambda: "new"
    assert g.switch() == "new"


def test_run_from_subclass_method():
    class G(greenlet):
        def run(self):
            return "method"

    g = G()
    assert g.run == g.run  # bound method, readable
    assert g.run.__func__ is G.run
    assert g.switch() == "method"


def test_subclass_run_method_wins_over_constructor_run():
    # greenlet's ``run`` is looked up as an attribute when the greenlet
    # starts; a ``run`` defined on a subclass shadows the base-class slot,
    # so the subclass method is used even if run= was passed.
    class G(greenlet):
        def run(self):
            return "method"

    g = G(run=lambda: "explicit")
    assert g.switch() == "method"


def test_run_not_readable_after_start():
    g = greenlet(_suspend)
    g.switch()
    with pytest.raises(AttributeError):
        g.run
    g.switch()
    assert g.dead
    with pytest.raises(AttributeError):
        g.run


def test_run_not_readable_while_running():
    results = []

    def run():
        try:
            getcurrent().run
        except AttributeError:
            results.append("AttributeError")
        else:  # pragma: no cover
            results.append("readable")

    greenlet(run).switch()
    assert results == ["AttributeError"]


def test_run_cannot_be_assigned_after_start():
    g = greenlet(_suspend)
    g.switch()
    with pytest.raises(AttributeError):
        g.run = lambda: None
    g.switch()
    with pytest.raises(AttributeError):
        g.run = lambda: None


def test_missing_run_raises_attribute_error_on_switch():
    g = greenlet()
    with pytest.raises(AttributeError):
        g.run
    with pytest.raises(AttributeError):
        g.switch()


# ---------------------------------------------------------------------------
# 6. parent
# ---------------------------------------------------------------------------

def test_parent_defaults_to_creator():
    main = getcurrent()
    g = greenlet(lambda: None)
    assert g.parent is main

    def run():
        return greenlet(lambda: None).parent

    outer = greenlet(run)
    assert outer.switch() is outer


def test_parent_constructor_argument():
    p = greenlet(lambda: None)
    g = greenlet(lambda: None, parent=p)
    assert g.parent is p
    g2 = greenlet(None, p)
    assert g2.parent is p


def test_parent_is_writable():
    a = greenlet(lambda: None)
    g = greenlet(lambda: None)
    g.parent = a
    assert g.parent is a
    g.parent = getcurrent()
    assert g.parent is getcurrent()


def test_parent_self_cycle_rejected():
    g = greenlet(lambda: None)
    with pytest.raises(ValueError):
        g.parent = g
    assert g.parent is getcurrent()


def test_parent_longer_cycle_rejected():
    a = greenlet(lambda: None)
    b = greenlet(lambda: None, parent=a)
    c = greenlet(lambda: None, parent=b)
    with pytest.raises(ValueError):
        a.parent = c
    with pytest.raises(ValueError):
        a.parent = b
    assert a.parent is getcurrent()


def test_parent_of_main_greenlet_cannot_be_set():
    main = getcurrent()
    with pytest.raises(AttributeError):
        main.parent = greenlet(lambda: None)

    def run():
        with pytest.raises(AttributeError):
            main.parent = getcurrent()
        return "checked"

    assert greenlet(run).switch() == "checked"
    assert main.parent is None


def test_parent_of_dead_greenlet_can_be_set():
    g = greenlet(lambda: None)
    g.switch()
    other = greenlet(lambda: None)
    g.parent = other
    assert g.parent is other


def test_parent_non_greenlet_rejected():
    g = greenlet(lambda: None)
    for bad in (42, "main", object(), None):
        with pytest.raises(TypeError):
            g.parent = bad
    assert g.parent is getcurrent()


def test_parent_cannot_be_deleted():
    g = greenlet(lambda: None)
    with pytest.raises((AttributeError, TypeError)):
        del g.parent
    assert g.parent is getcurrent()


def test_constructor_non_greenlet_parent_rejected():
    with pytest.raises(TypeError):
        greenlet(lambda: None, parent=42)
    with pytest.raises(TypeError):
        greenlet(lambda: None, parent="x")


def test_reparenting_changes_where_result_goes():
    log = []

    def new_parent_run(value):
        log.append(("new parent got", value))
        return "from new parent"

    np = greenlet(new_parent_run)
    child = greenlet(lambda: "child result")
    child.parent = np
    assert child.switch() == "from new parent"
    assert log == [("new parent got", "child result")]


def test_reparenting_suspended_greenlet():
    main = getcurrent()
    log = []

    # A started collector that records what is sent to it.
    def collector():
        value = main.switch("collector ready")
        while True:
            log.append(value)
            value = main.switch()

    coll = greenlet(collector)
    assert coll.switch() == "collector ready"

    def run():
        getcurrent().parent.switch("first")
        return "finished"

    g = greenlet(run)
    assert g.switch() == "first"
    g.parent = coll
    # g finishes; its result now goes to coll instead of main.
    assert g.switch(0) == ()
    assert log == ["finished"]
    assert g.dead


def test_reparented_greenlet_exception_goes_to_new_parent():
    def catcher_run():
        try:
            getcurrent().parent.switch("catcher ready")
        except KeyError as exc:
            return ("catcher caught", exc.args)

    catcher = greenlet(catcher_run)
    assert catcher.switch() == "catcher ready"

    def failing():
        raise KeyError("k")

    g = greenlet(failing, parent=catcher)
    # catcher's parent is main, so catcher's return value arrives here.
    assert g.switch() == ("catcher caught", ("k",))


# ---------------------------------------------------------------------------
# 7. gr_frame
# ---------------------------------------------------------------------------

def _package_dir():
    return os.path.dirname(os.path.abspath(greenlet_cffi.__file__))


# On PyPy the bottom frame of a suspended continulet's stack links back to
# the stack's own top (PyPy's bundled greenlet shows the same loop), so a
# walk there stops once it has passed run and reached greenlet_cffi's bottom
# frames; on CPython the chain must end with None.
CHAIN_LOOPS = sys.implementation.name == "pypy"


def _frames_of(g, limit=500):
    """The f_back chain starting at g.gr_frame (bounded: a cycle fails)."""
    frames = []
    f = g.gr_frame
    pkg = _package_dir() + os.sep
    while f is not None:
        if CHAIN_LOOPS and frames and (f is frames[0] or os.path.abspath(
                f.f_code.co_filename).startswith(pkg)):
            break       # PyPy: back at the top (our frames are hidden there)
        frames.append(f)
        assert len(frames) < limit, "f_back chain does not terminate"
        f = f.f_back
    return frames


def test_gr_frame_none_before_start():
    assert greenlet(lambda: None).gr_frame is None


def test_gr_frame_none_for_running_greenlet():
    seen = []
    greenlet(lambda: seen.append(getcurrent().gr_frame)).switch()
    assert seen == [None]
    assert getcurrent().gr_frame is None


def test_gr_frame_none_after_death():
    g = greenlet(_suspend)
    g.switch()
    assert g.gr_frame is not None
    g.switch()
    assert g.dead
    assert g.gr_frame is None


def test_gr_frame_of_suspended_greenlet():
    def the_run_function():
        return switching_helper()

    def switching_helper():
        line_before = sys._getframe().f_lineno
        getcurrent().parent.switch(line_before)
        return "done"

    g = greenlet(the_run_function)
    line_before = g.switch()
    frame = g.gr_frame
    assert frame is not None
    assert frame.f_code.co_name == "switching_helper"
    assert line_before <= frame.f_lineno <= line_before + 2

    frames = _frames_of(g)
    names = [f.f_code.co_name for f in frames]
    assert names[:2] == ["switching_helper", "the_run_function"]

    # Between gr_frame and run's frame there are only the user's frames.
    # Below run, greenlet_cffi's own bottom frame (its bootstrap) may show;
    # greenlet's run frame has f_back None (see the README's differences).
    pkg = _package_dir()
    below_run = names.index("the_run_function") + 1
    for f in frames[:below_run]:
        filename = os.path.abspath(f.f_code.co_filename)
        assert not filename.startswith(pkg + os.sep), filename
    for f in frames[below_run:]:
        filename = os.path.abspath(f.f_code.co_filename)
        assert filename.startswith(pkg + os.sep), filename
    # Our own test frames are not part of the suspended greenlet's stack.
    assert "test_gr_frame_of_suspended_greenlet" not in names

    assert g.switch() == "done"
    assert g.gr_frame is None


def test_gr_frame_when_suspended_directly_in_run():
    def run_itself_switches():
        getcurrent().parent.switch()

    g = greenlet(run_itself_switches)
    g.switch()
    assert g.gr_frame.f_code.co_name == "run_itself_switches"
    g.switch()


def test_gr_frame_locals_visible():
    def run():
        local_marker = "visible"  # noqa: F841
        getcurrent().parent.switch()

    g = greenlet(run)
    g.switch()
    assert g.gr_frame.f_locals["local_marker"] == "visible"
    g.switch()


def test_gr_frame_of_main_greenlet_seen_from_child():
    main = getcurrent()

    def run():
        return [f.f_code.co_name for f in _frames_of(main)]

    names = greenlet(run).switch()
    assert "test_gr_frame_of_main_greenlet_seen_from_child" in names


# ---------------------------------------------------------------------------
# 8. gr_context
# ---------------------------------------------------------------------------

VAR = contextvars.ContextVar("VAR", default="default")


def test_new_greenlet_starts_with_empty_context():
    token = VAR.set("main value")
    try:
        g = greenlet(lambda: VAR.get())
        assert g.switch() == "default"
    finally:
        VAR.reset(token)


def test_gr_context_none_before_start():
    g = greenlet(lambda: None)
    assert g.gr_context is None


def test_gr_context_set_before_start_to_copy():
    token = VAR.set("copied")
    try:
        g = greenlet(lambda: VAR.get())
        g.gr_context = contextvars.copy_context()
        assert g.switch() == "copied"
    finally:
        VAR.reset(token)


def test_gr_context_of_suspended_greenlet():
    def run():
        VAR.set("inside")
        getcurrent().parent.switch()
        return VAR.get()

    g = greenlet(run)
    g.switch()
    ctx = g.gr_context
    assert isinstance(ctx, contextvars.Context)
    assert ctx[VAR] == "inside"
    assert VAR.get() == "default"
    assert g.switch() == "inside"


def test_context_changes_do_not_leak_between_greenlets():
    main = getcurrent()
    seen = []

    def a_run():
        VAR.set("a")
        b.switch()
        seen.append(("a", VAR.get()))
        main.switch()

    def b_run():
        seen.append(("b sees", VAR.get()))
        VAR.set("b")
        a.switch()

    a = greenlet(a_run)
    b = greenlet(b_run)
    a.switch()
    assert seen == [("b sees", "default"), ("a", "a")]
    assert VAR.get() == "default"
    assert a.gr_context[VAR] == "a"
    assert b.gr_context[VAR] == "b"
    a.switch()
    b.switch()


def test_main_context_unchanged_by_child():
    token = VAR.set("main")
    try:
        def run():
            VAR.set("child")
            return VAR.get()

        assert greenlet(run).switch() == "child"
        assert VAR.get() == "main"
    finally:
        VAR.reset(token)


def test_shared_context_object_between_greenlets():
    ctx = contextvars.Context()

    def setter():
        VAR.set("shared")

    def getter():
        return VAR.get()

    g1 = greenlet(setter)
    g1.gr_context = ctx
    g1.switch()
    g2 = greenlet(getter)
    g2.gr_context = ctx
    assert g2.switch() == "shared"
    assert ctx[VAR] == "shared"


def test_set_gr_context_of_current_greenlet():
    def run():
        me = getcurrent()
        new_ctx = contextvars.Context()
        new_ctx.run(VAR.set, "from new ctx")
        VAR.set("old")
        me.gr_context = new_ctx
        first = VAR.get()
        me.gr_context = None
        second = VAR.get()
        return first, second

    assert greenlet(run).switch() == ("from new ctx", "default")


def test_set_gr_context_of_main_current_greenlet():
    main = getcurrent()
    saved = main.gr_context
    try:
        ctx = contextvars.Context()
        ctx.run(VAR.set, "replaced")
        main.gr_context = ctx
        assert VAR.get() == "replaced"
        assert main.gr_context is ctx
    finally:
        main.gr_context = saved
    assert VAR.get() == "default"


def test_set_gr_context_of_suspended_greenlet():
    def run():
        getcurrent().parent.switch()
        return VAR.get()

    g = greenlet(run)
    g.switch()
    ctx = contextvars.Context()
    ctx.run(VAR.set, "injected")
    g.gr_context = ctx
    assert g.gr_context is ctx
    assert g.switch() == "injected"


def test_gr_context_wrong_type():
    g = greenlet(lambda: None)
    for bad in (5, "ctx", {}, object()):
        with pytest.raises(TypeError):
            g.gr_context = bad
    assert g.gr_context is None
    with pytest.raises(TypeError):
        getcurrent().gr_context = 5


def test_context_run_inside_greenlet():
    def run():
        ctx = contextvars.copy_context()
        return ctx.run(lambda: (VAR.set("in ctx.run"), VAR.get())[1]), VAR.get()

    assert greenlet(run).switch() == ("in ctx.run", "default")


# ---------------------------------------------------------------------------
# weak references
# ---------------------------------------------------------------------------

def test_weakref_to_greenlet(collect):
    g = greenlet(lambda: None)
    ref = weakref.ref(g)
    assert ref() is g
    del g
    collect()
    assert ref() is None


def test_weakref_to_main_greenlet():
    ref = weakref.ref(getcurrent())
    assert ref() is getcurrent()


def test_weakref_callback_for_dead_greenlet(collect):
    called = []
    g = greenlet(lambda: None)
    g.switch()
    ref = weakref.ref(g, lambda r: called.append(r))
    del g
    collect()
    assert len(called) == 1
    assert ref() is None


def test_weakref_to_suspended_greenlet(collect):
    g = greenlet(_suspend)
    g.switch()
    ref = weakref.ref(g)
    del g
    collect()
    assert ref() is None
