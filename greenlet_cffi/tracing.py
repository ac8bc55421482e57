"""Listeners for every thread, a registry of live greenlets, their frames.

``add_listener(callback, thread=None)`` subscribes ``callback(event, args)``
to the greenlet events of every thread (those running now and those started
later), or of one ``threading.Thread``; it returns a handle whose
``remove()`` unsubscribes.  Events, and their ``args``:

``"switch"``  ``(origin, target)``, called in ``target`` after the switch
``"throw"``   ``(origin, target, exception)``, likewise
``"spawn"``   ``(greenlet, creator, (filename, lineno))``, from the
              constructor (before ``__init__``: ``run`` may not be set yet)
``"start"``   ``(greenlet, run)``, in ``greenlet`` just before ``run`` runs
``"finish"``  ``(greenlet, outcome, value)``, in ``greenlet`` as it ends:
              ``"returned"`` with the result, ``"raised"`` with the
              exception, ``"killed"`` with the ``GreenletExit``
``"collect"`` ``(greenlet,)``, a started, unfinished greenlet nothing refers
              to, about to be killed with ``GreenletExit``; called in its own
              thread outside any garbage-collection pass (as its kill is),
              never from a finalizer, so the greenlet is a real one that is
              safe to look at (where the GC finds it, PyPy, its weak
              references are already cleared and no new one can be made);
              ``"finish"`` with ``"killed"`` follows

As with ``settrace``, unpack ``args`` only for events you know: more may come.
A listener that raises is reported through ``sys.unraisablehook`` and stays
installed; whatever was happening goes on.  Listeners run with the switch
machinery's tracing suspended (``sys.settrace`` tracers do not see them) and
must not switch greenlets.  ``settrace``/``gettrace`` behave as before, and a
``settrace`` callback is called after the listeners.

``live_greenlets()`` and ``current_frames()`` list the started, unfinished
greenlets of all threads (main greenlets included): from a registry that
holds them weakly while ``track_greenlets()`` keeps it (a sampler), else
found by one walk over the GC's objects.
"""
import gc
import os
import sys
import threading
import weakref
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import _greenlet as _g

__all__ = ["add_listener", "Listener", "live_greenlets", "current_frames", "track_greenlets",
           "each_frame", "stack_of", "frames_from", "can_walk"]

_PKG_DIR = _g._PKG_DIR
# PyPy: reading the frames of a greenlet suspended in another thread while
# that thread switches can hang the reader (seen with 4 threads switching,
# PyPy 7.3.11): those greenlets are listed without a frame there.
_PYPY = sys.implementation.name == "pypy"
_lock = threading.RLock()
_everywhere = ()            # process-wide listener callbacks
_bound = weakref.WeakKeyDictionary()    # thread state -> its own listeners
_pending = {}               # thread ident -> [(weakref to Thread, callback)]
_needs = {"registry": 0, "counting": 0}     # how many keep each
# weak reference to a live greenlet -> the code its run started with, where
# its stack ends (on PyPy a running greenlet's f_back chain goes on into the
# greenlet that started it)
_live = {}
_hooks = weakref.WeakSet()  # every _ThreadHook in use


class _ThreadHook:
    """One thread's event dispatch: stands in ts.trace, and calls the
    listeners, then settrace's callback (``user``)."""
    __slots__ = ("ts", "user", "listeners", "registry", "switches", "__weakref__")

    def __init__(self, ts):
        self.ts = weakref.ref(ts)
        self.user = None
        self.listeners = ()
        self.registry = False
        self.switches = 0           # the blocking watch reads this

    def __call__(self, event, args):
        # Reached only in the moment the hook is being removed from a
        # thread (ts.hook gone, ts.trace not yet restored).
        if self.user is not None:
            self.user(event, args)

    def transfer(self, exc, origin, target):
        self.switches += 1
        listeners = self.listeners
        if listeners:
            # _emit, inlined: this is every switch.
            if exc is None:
                event, args = "switch", (origin, target)
            else:
                event, args = "throw", (origin, target, exc)
            for callback in listeners:
                try:
                    callback(event, args)
                except BaseException as e:
                    _report(e, callback, event)
        return self.user

    def spawn(self, g):
        if self.listeners:
            self._emit("spawn", (g, self.ts().current, _site()))

    def start(self, g, run):
        if self.registry:
            _live[weakref.ref(g, _forget)] = _code_of(run)  # g is not garbage here
        if self.listeners:
            self._emit("start", (g, run))

    def finish(self, g, result, exc):
        if self.registry:
            try:
                _live.pop(weakref.ref(g), None)
            except TypeError:
                # A greenlet killed because it is garbage (PyPy): its weak
                # references are cleared, and ours left _live with them.
                pass
        if self.listeners:
            if exc is None:
                self._emit("finish", (g, "returned", result))
            elif isinstance(exc, _g.GreenletExit):
                self._emit("finish", (g, "killed", exc))
            else:
                self._emit("finish", (g, "raised", exc))

    def collect(self, g):
        if self.listeners:
            self._emit("collect", (g,))

    def _emit(self, event, args):
        for callback in self.listeners:
            try:
                callback(event, args)
            except BaseException as e:
                _report(e, callback, event)


def _report(exc, callback, event):
    _g._report_unraisable(
        exc, "Exception ignored in greenlet_cffi listener for %r" % (event,), callback)


def _site():
    """(filename, lineno) of the code creating a greenlet: the first frame
    outside this package."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("?", 0)


# -- installing hooks into thread states ---------------------------------------

def _states():
    """Every thread state (one per thread that used greenlets)."""
    while True:
        try:
            return list(_g._all_states)
        except RuntimeError:        # another thread added one meanwhile
            continue


def _refresh(ts):
    """Give ts the hook it needs now, or none.  Holds _lock."""
    if not ts.alive:
        return
    listeners = _everywhere + tuple(_bound.get(ts, ()))
    registry = _needs["registry"] > 0
    needed = bool(listeners) or registry or _needs["counting"] > 0
    hook = ts.hook
    if needed:
        if hook is None:
            hook = _ThreadHook(ts)
            hook.user = ts.trace
            hook.listeners = listeners
            hook.registry = registry
            ts.hook = hook          # from here on settrace sets hook.user
            ts.trace = hook         # the switch path now reaches the hook
            _hooks.add(hook)
        else:
            hook.listeners = listeners
            hook.registry = registry
    elif hook is not None:
        ts.hook = None
        ts.trace = hook.user


def _refresh_all():
    for ts in _states():
        _refresh(ts)


def _new_thread(ts):
    with _lock:
        _owner[ts] = weakref.ref(threading.current_thread())
        ref_cbs = _pending.pop(ts.ident, None)
        if ref_cbs:
            me = threading.current_thread()
            mine = [cb for ref, cb in ref_cbs if ref() is me]
            if mine:
                _bound[ts] = mine
        _refresh(ts)


class _Entry:
    __slots__ = ("new_thread",)


_entry = _Entry()
_entry.new_thread = _new_thread
_g._hooks = _entry


# Which Thread a state belongs to, for states made since this module was
# imported.  Thread ids are reused, and on PyPy a thread's state learns that
# its thread ended only when the GC frees the thread's locals: an id alone
# may name an ended thread's state.
_owner = weakref.WeakKeyDictionary()


def _state_of(thread):
    found = None
    for ts in _states():
        if ts.alive and ts.ident == thread.ident:
            owner = _owner.get(ts)
            if owner is not None:
                if owner() is thread:
                    return ts
            elif found is None:
                found = ts
    return found


class Listener:
    """What add_listener returns: ``remove()`` unsubscribes (once)."""

    def __init__(self, callback, thread):
        self.callback = callback
        self.thread = thread
        self._ts = None

    def remove(self) -> None:
        global _everywhere
        with _lock:
            cb = self.callback
            if self.thread is None:
                lst = list(_everywhere)
                if cb in lst:
                    lst.remove(cb)
                _everywhere = tuple(lst)
                _refresh_all()
                return
            ts = self._ts() if self._ts is not None else None
            if ts is not None and cb in _bound.get(ts, ()):
                _bound[ts].remove(cb)
                _refresh(ts)
            pend = _pending.get(self.thread.ident)
            if pend:
                pend[:] = [(r, c) for r, c in pend if c is not cb]
                if not pend:
                    del _pending[self.thread.ident]
            ts = _state_of(self.thread)
            if ts is not None and cb in _bound.get(ts, ()):
                _bound[ts].remove(cb)
                _refresh(ts)


def add_listener(callback: Callable[[str, Any], Any],
                 thread: Optional[threading.Thread] = None) -> Listener:
    """Call ``callback(event, args)`` for the greenlet events of every
    thread (default) or of one ``threading.Thread``; see the module's
    documentation.  Returns a handle with ``remove()``."""
    global _everywhere
    if not callable(callback):
        raise TypeError("a listener must be callable")
    handle = Listener(callback, thread)
    with _lock:
        if thread is None:
            _everywhere = _everywhere + (callback,)
            _refresh_all()
            return handle
        if not thread.is_alive():
            raise ValueError("the thread is not running")
        ts = _state_of(thread)
        if ts is None:
            # It has not used greenlets yet: bound when it first does.
            _pending.setdefault(thread.ident, []).append(
                (weakref.ref(thread), callback))
        else:
            _bound.setdefault(ts, []).append(callback)
            handle._ts = weakref.ref(ts)
            _refresh(ts)
    return handle


# -- counting switches (the blocking watch) --------------------------------------

def _count_switches(on):
    """Give every thread a hook that counts its switches (on) or stop
    needing that (off); the blocking watch reads _ThreadHook.switches."""
    with _lock:
        _needs["counting"] += 1 if on else -1
        _refresh_all()


def _thread_hooks():
    while True:
        try:
            return list(_hooks)
        except RuntimeError:
            continue


# -- the registry ---------------------------------------------------------------

def _scan(into):
    """The started, unfinished greenlets (main ones aside), found the slow
    way: one walk over the objects the GC knows."""
    for obj in gc.get_objects():
        # getattr: another thread may be making one (slots not set yet).
        if isinstance(obj, _g.greenlet) \
                and getattr(obj, "_greenlet__parent", None) is not None \
                and getattr(obj, "_greenlet__state", None) == _g._STARTED \
                and obj._greenlet__ts.alive:
            into[weakref.ref(obj, _forget)] = None


class Tracking:
    """What track_greenlets() returns: ``stop()`` (once) lets the registry
    go when nothing else keeps it."""

    def __init__(self):
        self._on = True

    def stop(self):
        with _lock:
            if not self._on:
                return
            self._on = False
            _needs["registry"] -= 1
            if _needs["registry"] == 0:
                _refresh_all()
                _live.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def track_greenlets():
    """Keep the registry of live greenlets from now until ``stop()``: each
    thread's hook adds a greenlet as it starts and drops it as it ends (a
    cost on every switch of every thread, as with a listener).  Without
    it, live_greenlets() and current_frames() walk the GC's objects."""
    with _lock:
        _needs["registry"] += 1
        if _needs["registry"] == 1:
            _refresh_all()
            _scan(_live)    # those that started before
    return Tracking()


def _live_refs():
    """Weak references to the live greenlets, main greenlets first."""
    out = []
    for ts in _states():
        main = ts.main
        if ts.alive and main is not None and _running(ts):
            out.append(weakref.ref(main))
    if _needs["registry"] > 0:
        out.extend(_live.copy())    # one C call: safe against other threads
    else:
        found = {}
        _scan(found)
        out.extend(found)
    return out


def _running(ts):
    """Whether ts's thread runs (PyPy marks an ended thread's state late)."""
    owner = _owner.get(ts)
    if owner is None:
        return True
    thread = owner()
    return thread is not None and thread.is_alive()


def _forget(ref):
    _live.pop(ref, None)


def _code_of(run):
    run = getattr(run, "__func__", run)
    return getattr(run, "__code__", None)


def stack_of_greenlet(g, frame, walk=True) -> List[Tuple[str, str, int]]:
    """stack_of(frame), cut where g's own stack ends (at its run)."""
    stack = stack_of(frame, walk)
    code = _live.get(weakref.ref(g)) if g.parent is not None else None
    if code is not None:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == getattr(code, "co_qualname", code.co_name) \
                    and stack[i][1] == code.co_filename:
                return stack[i:]
    return stack


def _is_live(g):
    return g is not None and g._greenlet__state == _g._STARTED \
        and g._greenlet__ts.alive


def live_greenlets() -> List[Any]:
    """The started, unfinished greenlets of all threads, main greenlets
    included (a snapshot: cheap while track_greenlets() is on, else one
    walk over the GC's objects)."""
    return [g for g in (ref() for ref in _live_refs()) if _is_live(g)]


def each_frame() -> Iterator[Tuple[Any, int, Any]]:
    """current_frames() one greenlet at a time, holding none of them
    between steps (a greenlet that a sampler holds when its last other
    reference goes is killed later, by its own thread)."""
    running = sys._current_frames()
    here = threading.get_ident()
    for ref in _live_refs():
        g = ref()
        if not _is_live(g):
            continue
        ts = g._greenlet__ts
        ident = ts.ident
        if ident is None:
            continue
        frame = None
        if ts.current is g:
            frame = running.get(ident)
            if frame is not None and ident == here:
                frame = sys._getframe(1)
        if frame is None and (ident == here or not _PYPY):
            frame = g.gr_frame
            if frame is None and ts.current is g:   # switched meanwhile
                frame = running.get(ident)
        yield g, ident, _outside(frame)
        g = frame = None


def current_frames() -> List[Tuple[Any, int, Any]]:
    """``(greenlet, thread ident, top frame)`` for every live greenlet:
    a running greenlet's frame from ``sys._current_frames()``, a suspended
    one's from ``gr_frame``.  The frame is None for a greenlet that has no
    Python frame to show.  Safe to call from any thread while others
    switch; a snapshot, slightly stale as soon as it returns."""
    return list(each_frame())


def _outside(f):
    """The first frame at or below f that is not the switch machinery."""
    for f in frames_from(f):
        if not _machinery(f.f_code.co_filename):
            return f
    return None


def frames_from(frame) -> Iterator[Any]:
    """frame, its caller, and so on, each once: on PyPy the f_back chain of
    a suspended greenlet's frames comes back round to its top frame."""
    seen = set()
    while frame is not None and id(frame) not in seen:
        seen.add(id(frame))
        yield frame
        try:
            frame = frame.f_back
        except SystemError:     # PyPy: see can_walk()
            return


def can_walk(ident: int) -> bool:
    """Whether the f_back chain of a frame running in thread ``ident`` may
    be walked from this thread.  Not on PyPy for another thread: there
    f_back forces the JIT's virtual frames of a thread that is running
    (seen: SystemError "InvalidVirtualRef"); its top frame is safe to read."""
    return not _PYPY or ident == threading.get_ident()


_MACHINERY = ("_greenlet.py", "_backend_cpython.py", "_backend_pypy.py",
              "tracing.py", "blocking.py")


def _machinery(filename):
    return filename.startswith(_PKG_DIR) and os.path.basename(filename) in _MACHINERY


def stack_of(frame, walk=True) -> List[Tuple[str, str, int]]:
    """(function, file, line) for frame and its callers, outermost first,
    without the switch machinery's frames (walk=False: frame alone)."""
    out = []
    for f in (frames_from(frame) if walk else [frame]):
        code = f.f_code
        if not _machinery(code.co_filename):
            out.append((getattr(code, "co_qualname", code.co_name),
                        code.co_filename, f.f_lineno))
    out.reverse()
    return out
