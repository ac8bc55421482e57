"""Programs that crashed, leaked or diverged from greenlet when held
against greenlet's own behaviour (issue 8).  Each one that could take the
interpreter down runs in a child interpreter."""
import gc
import sys
import weakref

import pytest

import greenlet_cffi as greenlet


def test_cycle_with_finalizer_is_killed_after_collection(check_script):
    # greenlet leaks a suspended greenlet that only a cycle reaches (its
    # test_finalizer_crash expects that leak); we collect it, and kill it
    # once the collection is over -- never from inside the GC pass, which
    # is what crashed.
    out = check_script("""
        import gc, weakref, greenlet_cffi as greenlet
        class WithDel:
            def __del__(self):
                print("finalized")
        parent = greenlet.getcurrent()
        def body():
            greenlet.getcurrent().obj = WithDel()
            try:
                parent.switch()
            except greenlet.GreenletExit:
                print("killed")
            finally:
                del greenlet.getcurrent().obj
        g = greenlet.greenlet(body); arr = [g]; g.arr = arr
        g.switch()
        wr = weakref.ref(g)
        del arr, g
        greenlet.getcurrent(); gc.collect(); gc.collect()
        print("collected", wr() is None)
    """)
    # CPython finalizes all of the garbage (WithDel too, PEP 442) before the
    # kill; PyPy may kill first.
    assert sorted(out[:2]) == ["finalized", "killed"] and out[2:] == ["collected True"]


def test_nested_starts_raise_recursion_error(check_script):
    out = check_script("""
        import sys, greenlet_cffi as greenlet
        depth = [0]
        def f():
            depth[0] += 1
            greenlet.greenlet(f).switch()
        try:
            greenlet.greenlet(f).switch()
        except RecursionError:
            print("RecursionError", 50 < depth[0] < sys.getrecursionlimit())
    """)
    assert out == ["RecursionError True"]


def test_reparent_to_dead_thread_during_run_lookup(check_script):
    out = check_script("""
        import threading, greenlet_cffi as greenlet
        other = []
        def worker():
            g = greenlet.greenlet(lambda: None)
            other.append(g)
            g.switch()
        t = threading.Thread(target=worker); t.start(); t.join()
        import gc; gc.collect()     # PyPy: the thread's locals go with a collection
        class G(greenlet.greenlet):
            def __getattribute__(self, name):
                if name == "run":
                    self.parent = other[0]
                return greenlet.greenlet.__getattribute__(self, name)
        try:
            G(lambda: None).switch()
        except greenlet.error as e:
            print("error:", e)
    """)
    assert out == ["error: cannot switch to a different thread (which happens to have exited)"]


def test_greenlet_that_threw_into_its_parent_is_killed_and_freed():
    seen = []

    def body():
        try:
            greenlet.getcurrent().parent.throw(ValueError)
        except BaseException as e:
            seen.append(type(e))
    g = greenlet.greenlet(body)
    with pytest.raises(ValueError):
        g.switch()
    wr = weakref.ref(g)
    del g
    gc.collect()
    assert seen == [greenlet.GreenletExit]
    assert wr() is None


def test_subclass_attributes_never_collide_with_ours():
    class G(greenlet.greenlet):
        def __init__(self, fn):
            greenlet.greenlet.__init__(self)
            self._run = fn
            self._parent = self._state = self._ts = self._handle = "theirs"

        def run(self):
            return self._run()

        def _run(self):
            return "default"
    g = G(lambda: 42)
    assert g.switch() == 42
    assert g.dead and g._parent == "theirs"


def test_subclass_may_not_define_our_mangled_slots():
    with pytest.raises(TypeError, match="greenlet keeps its state"):
        class greenlet(greenlet_cffi_greenlet):     # noqa: F811
            __parent = None


greenlet_cffi_greenlet = greenlet.greenlet


def test_subclass_getattribute_does_not_see_our_state():
    class Perverse(greenlet.greenlet):
        def __getattribute__(self, name):
            if name == "run":
                return lambda: "ran"
            return None         # everything else: nonsense
    assert greenlet.greenlet.switch(Perverse()) == "ran"


def test_greenletexit_into_unstarted_parent_starts_it_without_arguments():
    got = []
    parent = greenlet.greenlet(lambda *args: got.append(args) or "parent done")
    child = greenlet.greenlet(lambda: greenlet.getcurrent().throw(), parent=parent)
    assert child.switch() == "parent done"
    assert got == [()]


def test_run_none_explicitly():
    g = greenlet.greenlet(None)
    assert g.run is None
    with pytest.raises(TypeError):
        g.switch()
    assert g.dead
    h = greenlet.greenlet(run=None)
    h.throw()
    assert h.dead
    with pytest.raises(AttributeError):
        greenlet.greenlet().run


def test_run_frame_has_no_f_back():
    assert greenlet.greenlet(lambda: sys._getframe(0).f_back).switch() is None \
        or greenlet.BACKEND == "continulet"


def test_copy_and_dict_deletion_refused():
    import copy
    g = greenlet.greenlet()
    for f in (copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            f(g)
    with pytest.raises(TypeError):
        del g.__dict__
    with pytest.raises(TypeError):
        g.__dict__ = 42
    g.__dict__ = {"x": 1}
    assert g.x == 1


def test_exception_during_kill_reaches_default_unraisablehook(run_script):
    # CPython's default sys.unraisablehook accepts only its own argument
    # type: the report of an exception raised while a collected greenlet is
    # killed used to come out as that hook's TypeError instead.
    proc = run_script("""
        import gc, sys
        import greenlet_cffi as greenlet
        assert sys.unraisablehook is sys.__unraisablehook__
        def body():
            try:
                greenlet.getcurrent().parent.switch()
            except greenlet.GreenletExit:
                raise ValueError("boom in kill")
        g = greenlet.greenlet(body)
        g.switch()
        del g
        for _ in range(3):
            gc.collect()
        greenlet.getcurrent()
        print("survived")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "survived" in proc.stdout
    assert "ValueError: boom in kill" in proc.stderr
    assert "killing a collected greenlet" in proc.stderr
    assert "must be UnraisableHookArgs" not in proc.stderr
