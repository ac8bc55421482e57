"""Misuse must produce clear Python exceptions, never a crash."""
import contextvars
import sys

import pytest

import greenlet_cffi
from greenlet_cffi import GreenletExit, getcurrent, greenlet

PRELUDE = """
import gc, sys, threading
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent, GreenletExit, error
"""


def test_non_callable_run_raises_type_error_in_parent():
    g = greenlet(run=42)
    with pytest.raises(TypeError):
        g.switch()
    assert g.dead


def test_non_callable_run_assigned_raises_type_error_on_switch():
    g = greenlet()
    g.run = "not callable"
    with pytest.raises(TypeError):
        g.switch()
    assert g.dead


def test_non_callable_run_error_raised_inside_greenlet():
    # The TypeError happens in the new greenlet and travels to its parent,
    # which here is a greenlet that can catch it.
    def outer():
        try:
            greenlet(run=42).switch()
        except TypeError:
            return "outer caught"
        return "nothing"  # pragma: no cover

    assert greenlet(outer).switch() == "outer caught"


def test_non_greenlet_parent_in_constructor():
    for bad in (42, "x", object(), [getcurrent()]):
        with pytest.raises(TypeError):
            greenlet(lambda: None, parent=bad)


def test_too_many_constructor_arguments():
    with pytest.raises(TypeError):
        greenlet(lambda: None, getcurrent(), "extra")


def test_unknown_constructor_keyword():
    with pytest.raises(TypeError):
        greenlet(run=lambda: None, bogus=1)


def test_unbound_methods_with_wrong_self():
    with pytest.raises(TypeError):
        greenlet.switch(42)
    with pytest.raises(TypeError):
        greenlet.throw("not a greenlet")


def test_readonly_attributes():
    g = greenlet(lambda: None)
    with pytest.raises(AttributeError):
        g.dead = True
    with pytest.raises(AttributeError):
        g.gr_frame = None
    assert not g.dead


def test_greenlet_instances_accept_arbitrary_attributes():
    g = greenlet(lambda: getcurrent().tag)
    g.tag = "custom attribute"
    assert g.switch() == "custom attribute"
    assert g.__dict__["tag"] == "custom attribute"


def test_gr_context_wrong_type_for_suspended_greenlet():
    g = greenlet(lambda: getcurrent().parent.switch())
    g.switch()
    with pytest.raises(TypeError):
        g.gr_context = {"a": 1}
    with pytest.raises(TypeError):
        g.gr_context = contextvars  # the module, not a Context
    g.switch()


def test_throw_bad_arguments_leave_greenlet_usable():
    g = greenlet(lambda: getcurrent().parent.switch("ready") or "done")
    assert g.switch() == "ready"
    bad_calls = [
        (int,),
        ("KeyError",),
        (KeyError("x"), "value"),
        (KeyError, "v", "tb"),
        (None,),
    ]
    for args in bad_calls:
        with pytest.raises(TypeError):
            g.throw(*args)
    assert not g.dead
    assert g.switch() == "done"


def test_throw_instance_with_traceback_argument():
    # An instance plus a real traceback is allowed when the value is None.
    try:
        raise KeyError("with tb")
    except KeyError as exc:
        inst, tb = exc, exc.__traceback__
    g = greenlet(lambda: getcurrent().parent.switch())
    g.switch()
    with pytest.raises(KeyError) as info:
        g.throw(inst, None, tb)
    assert info.value is inst


def test_throw_into_main_from_main_raises_here():
    main = getcurrent()
    with pytest.raises(KeyError):
        main.throw(KeyError)
    assert not main.dead
    # Still fully functional.
    assert greenlet(lambda: 1).switch() == 1


def test_subclass_without_init_call():
    class NoInit(greenlet):
        def __init__(self):
            pass  # deliberately does not call greenlet.__init__

        def run(self):
            return ("ran", getcurrent() is self)

    g = NoInit()
    assert g.parent is getcurrent()
    assert not g.dead
    assert g.switch() == ("ran", True)
    assert g.dead


def test_subclass_without_init_and_without_run():
    class NoInitNoRun(greenlet):
        def __init__(self, value):
            self.value = value

    g = NoInitNoRun(lambda: "ignored")
    with pytest.raises(AttributeError):
        g.switch()


def test_subclass_with_init_calling_super():
    class WithInit(greenlet):
        def __init__(self, value, parent=None):
            greenlet.__init__(self, parent=parent)
            self.value = value

        def run(self):
            return self.value * 2

    p = greenlet(lambda x: ("parent got", x))
    g = WithInit(21, parent=p)
    assert g.parent is p
    assert g.switch() == ("parent got", 42)


def test_subclass_with_extra_new_arguments():
    class Named(greenlet):
        def __init__(self, name, run=None):
            super(Named, self).__init__(run)
            self.name = name

    g = Named("n", run=lambda: getcurrent().name)
    assert g.switch() == "n"


def test_switch_to_other_thread_greenlet_in_subprocess(check_script):
    out = check_script(PRELUDE + """
box = {}
ready = threading.Event()
finish = threading.Event()
def owner():
    box["g"] = greenlet(lambda: getcurrent().parent.switch())
    box["g"].switch()
    ready.set()
    finish.wait()
    box["g"].switch()
t = threading.Thread(target=owner)
t.start()
ready.wait()
results = []
for op in (lambda: box["g"].switch(),
           lambda: box["g"].throw(ValueError),
           lambda: greenlet(lambda: None, parent=box["g"]).switch()):
    try:
        op()
        results.append("no error")
    except error:
        results.append("error")
    except Exception as exc:
        results.append(type(exc).__name__)
s = greenlet(lambda: getcurrent().parent.switch())
s.switch()
try:
    s.parent = box["g"]
    results.append("accepted")
except ValueError:
    results.append("ValueError")
s.switch()
finish.set()
t.join()
print(results)
""")
    assert out == ["['error', 'error', 'error', 'ValueError']"]


def test_greenlet_exit_is_not_caught_by_except_exception():
    log = []

    def run():
        try:
            getcurrent().parent.switch()
        except Exception:  # must not catch GreenletExit
            log.append("wrongly caught")
        return "returned"

    g = greenlet(run)
    g.switch()
    result = g.throw()
    assert log == []
    assert isinstance(result, GreenletExit)


def test_error_instances_are_catchable_as_exception():
    err = greenlet_cffi.error("message")
    assert isinstance(err, Exception)
    assert str(err) == "message"


def test_switch_with_many_arguments():
    args = tuple(range(200))
    kwargs = {"k%d" % i: i for i in range(200)}
    g = greenlet(lambda *a, **k: (a, k))
    assert g.switch(*args, **kwargs) == (args, kwargs)
