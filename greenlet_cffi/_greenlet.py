"""The greenlet API, written once for every interpreter.

Everything but "move the C stack and the interpreter's per-thread state" is
here; the backend (_backend.py) only starts greenlets, transfers control
between them and reads a suspended one's frame and context.

How a switch travels: the switcher puts ``(origin, args, kwargs, exc)`` in
its thread's ``inbox``, makes the target the thread's current greenlet and
calls ``_b.transfer``.  The target wakes up either inside its own earlier
``_b.transfer`` call or, on its first switch, at the bottom of
its new stack (``_bootstrap``), and takes what was sent from its inbox:
values (args, kwargs) or an exception to raise (exc).
"""
import os
import sys
import threading
import weakref
from _thread import get_ident as _get_ident
from contextvars import Context
from types import TracebackType

from . import _backend as _b

__all__ = ["greenlet", "getcurrent", "GreenletExit", "error",
           "settrace", "gettrace"]


class error(Exception):
    """Raised for a switch or throw that cannot be made."""


class GreenletExit(BaseException):
    """Thrown into a greenlet to end it; returned, not raised, to its parent."""


_UNSTARTED, _STARTED, _DEAD = 0, 1, 2
# CPython frees an object when its last reference goes, and greenlet kills an
# unfinished one right then; elsewhere the GC finds it (see _Reaper).
_REFCOUNTED = sys.implementation.name == "cpython"
_tls = threading.local()


class _ThreadState:
    """The greenlets of one thread."""
    __slots__ = ("main", "current", "trace", "starting", "doomed", "alive",
                 "ident", "inbox", "killing", "__weakref__")


class _ThreadEnd:
    """Lives in the thread's locals only, so it goes when the thread ends."""
    __slots__ = ("ts",)

    def __init__(self, ts):
        self.ts = ts

    def __del__(self):
        _thread_ended(self.ts)


def _thread_ended(ts):
    ts.alive = False
    ts.ident = None     # thread ids are reused
    # Greenlets waiting to be killed by this thread never will be:
    # release them without running.
    del ts.doomed[:]


_all_states = weakref.WeakSet()


def _forked():
    # In a child process only the forking thread lives on.
    here = _tls.__dict__.get("state")
    for ts in list(_all_states):
        if ts is not here:
            _thread_ended(ts)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _new_thread_state():
    ts = _ThreadState()
    _all_states.add(ts)
    ts.trace = ts.starting = ts.inbox = None
    ts.doomed = []
    ts.alive = True
    ts.killing = False
    ts.ident = _get_ident()
    main = object.__new__(greenlet)
    main._ts = ts
    main._handle = _b.main_handle()
    main._parent = main._run = None
    main._state = _STARTED
    main._reaper = False        # a main greenlet is never killed
    ts.main = ts.current = main
    _tls.state = ts
    _tls.end = _ThreadEnd(ts)
    return ts


def _thread_state():
    try:
        return _tls.state
    except AttributeError:
        return _new_thread_state()


def getcurrent():
    """Return the greenlet running in this thread."""
    try:
        ts = _tls.state
    except AttributeError:
        ts = _new_thread_state()
    if ts.doomed:
        _kill_doomed(ts)
    return ts.current


def settrace(callback):
    """Set this thread's switch trace callback; return the previous one."""
    ts = _thread_state()
    old, ts.trace = ts.trace, callback
    return old


def gettrace():
    """Return this thread's switch trace callback, or None."""
    return _thread_state().trace


class greenlet:
    """A lightweight coroutine: ``greenlet(run=None, parent=None)``."""

    __slots__ = ("_ts", "_handle", "_parent", "_run", "_state", "_reaper",
                 "__dict__", "__weakref__")

    def __new__(cls, *args, **kwargs):
        # Set up here, not in __init__, so that subclasses that never call
        # greenlet.__init__ still work.
        self = object.__new__(cls)
        ts = _thread_state()
        self._ts = ts
        self._handle = _b.new_handle()
        self._parent = ts.current
        self._run = None
        self._state = _UNSTARTED
        self._reaper = False if _REFCOUNTED else None
        return self

    def __init__(self, run=None, parent=None):
        if run is not None:
            # Into the slot, as greenlet does: a run method defined on a
            # subclass still takes precedence when the greenlet starts.
            greenlet.run.fset(self, run)
        if parent is not None:
            greenlet.parent.fset(self, parent)

    # -- switching -----------------------------------------------------

    def switch(self, *args, **kwargs):
        """Switch to this greenlet, passing args/kwargs; return what is
        passed back when something switches to the caller again."""
        # The common case inlined (it is _switch_to's): a suspended greenlet
        # of this thread and no kill pending.  Anything else goes the long way.
        try:
            ts = self._ts
        except AttributeError:          # not a greenlet: _switch_to says so
            return _switch_to(self, args, kwargs, None)
        if ts.ident != _get_ident() or self._state != _STARTED or ts.doomed:
            return _switch_to(self, args, kwargs, None)
        origin = ts.current
        if origin is self:
            return _switch_to(self, args, kwargs, None)
        if origin._reaper is None:
            origin._reaper = _Reaper(origin)
        ts.inbox = (origin, args, kwargs, None)
        ts.current = self
        del origin      # see _switch_to
        failed = _transfer(self._handle)
        if failed:
            return _transfer_failed(ts, failed)
        origin, args, kwargs, exc = ts.inbox
        ts.inbox = None
        if exc is not None or ts.trace is not None:
            return _receive(ts, origin, args, kwargs, exc)
        if kwargs:
            return (args, kwargs) if args else kwargs
        return args[0] if len(args) == 1 else args

    def throw(self, typ=GreenletExit, val=None, tb=None):
        """Raise an exception in this greenlet (immediately, by switching
        to it) and return what is passed back to the caller."""
        if not isinstance(self, greenlet):
            raise TypeError("throw() needs a greenlet, not %s" % type(self).__name__)
        exc = _exception(typ, val, tb)
        if self._state == _DEAD and isinstance(exc, GreenletExit):
            # A dead greenlet "returns" the GreenletExit, as run would have.
            return _switch_to(self, (exc,), None, None)
        return _switch_to(self, None, None, exc)

    # -- attributes ----------------------------------------------------

    @property
    def run(self):
        """The callable run on the first switch; gone once started."""
        if self._state != _UNSTARTED or self._run is None:
            raise AttributeError("run")
        return self._run

    @run.setter
    def run(self, value):
        if self._state != _UNSTARTED:
            raise AttributeError("run cannot be set after the start of the greenlet")
        self._run = value

    @run.deleter
    def run(self):
        if self._state != _UNSTARTED:
            raise AttributeError("run cannot be deleted after the start of the greenlet")
        self._run = None

    @property
    def parent(self):
        """The greenlet that receives this one's result (None for main)."""
        return self._parent

    @parent.setter
    def parent(self, value):
        if self._parent is None and self is self._ts.main:
            raise AttributeError("cannot set the parent of a main greenlet")
        if not isinstance(value, greenlet):
            raise TypeError("parent must be a greenlet")
        p = value
        while p is not None:
            if p is self:
                raise ValueError("cyclic parent chain")
            p = p._parent
        if value._ts is not self._ts:
            if self._state != _UNSTARTED:
                raise ValueError("parent cannot be on a different thread")
            self._ts = value._ts    # an unstarted greenlet goes with its parent
        self._parent = value

    @parent.deleter
    def parent(self):
        raise AttributeError("can't delete attribute")

    @property
    def dead(self):
        """True once the greenlet has finished (or, started, its thread has)."""
        return self._state == _DEAD or (self._state == _STARTED and not self._ts.alive)

    def __bool__(self):
        return self._state == _STARTED and self._ts.alive

    @property
    def gr_frame(self):
        """The frame a suspended greenlet will resume in; else None."""
        if self._state != _STARTED or self._ts.current is self or not self._ts.alive:
            return None
        f = _b.top_frame(self._handle)
        while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
            f = f.f_back
        return f

    @property
    def gr_context(self):
        """The contextvars.Context this greenlet runs in (None: none yet)."""
        return _b.get_context(self._handle, self._running_here())

    @gr_context.setter
    def gr_context(self, ctx):
        if ctx is not None and not isinstance(ctx, Context):
            raise TypeError("greenlet context must be a contextvars.Context or None")
        _b.set_context(self._handle, self._running_here(), ctx)

    @gr_context.deleter
    def gr_context(self):
        raise AttributeError("can't delete context attribute")

    def _running_here(self):
        """Whether this greenlet is the one running in this thread, and so
        its context is the live one; refuses one running in another thread."""
        running = self._ts.current is self and self._ts.alive
        if running and self._ts is not _thread_state():
            raise ValueError("cannot access the context of a greenlet running in another thread")
        return running

    def __repr__(self):
        ts = self._ts
        name = "greenlet.greenlet" if type(self) is greenlet else type(self).__name__
        head = "<%s object at %#x (otid=%#x)" % (name, id(self), id(ts))
        if self._state == _DEAD or (self._state == _STARTED and not ts.alive):
            return head + (" dead>" if ts.alive else " (thread exited) dead>")
        if ts.current is self:
            where = " current"
        elif self._state == _STARTED:
            where = " suspended"
        else:
            where = ""
        return "%s%s%s%s%s>" % (
            head, where, " active" if self._state == _STARTED else "",
            " started" if self._state == _STARTED else " pending",
            " main" if self._parent is None and self is ts.main else "")

    # -- collection ----------------------------------------------------

    if _REFCOUNTED:
        def __del__(self):
            _collect(self)

    getcurrent = staticmethod(getcurrent)
    settrace = staticmethod(settrace)
    gettrace = staticmethod(gettrace)
    GreenletExit = GreenletExit
    error = error


# Frames of this package (the switch machinery) are hidden from gr_frame.
_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_lost = []  # greenlets that survived their kill: kept, never freed


def _collect(g):
    """g is garbage: an unfinished greenlet is ended by raising GreenletExit
    in it, in its own thread; one left by a dead thread is released unrun."""
    if g._state != _STARTED or g._parent is None or _thread_state is None:
        return
    ts = g._ts
    if not ts.alive:
        return
    if _tls.__dict__.get("state") is ts and ts.inbox is None:
        _kill(g)
        if ts.doomed:       # deferred while that kill was switching
            _kill_doomed(ts)
    else:
        # Another thread's, or we are in the middle of a switch (the inbox
        # is full from the switcher's store to the receiver's read; PyPy
        # runs __del__ between any two bytecodes): its thread kills it when
        # it next switches or calls getcurrent().
        ts.doomed.append(g)


class _Reaper:
    """Without reference counting (PyPy), every object of a class with
    __del__ is costly to allocate and to collect, and most greenlets finish
    without ever being suspended.  So there greenlet has no __del__: a
    greenlet gets this finalizer when it first suspends, in a cycle with it
    that the GC collects whole."""
    __slots__ = ("greenlet",)

    def __init__(self, g):
        self.greenlet = g

    def __del__(self):
        _collect(self.greenlet)


def _kill(g):
    ts = g._ts
    g._parent = ts.current          # the kill comes back here
    _switch_to(g, None, None, GreenletExit())
    if g._state != _DEAD:
        # It caught GreenletExit and switched away.  Its stack may still be
        # linked below running greenlets, so it must never be freed.
        _lost.append(g)


def _kill_doomed(ts):
    if ts.killing or ts.inbox is not None:
        return      # already at it further up, or a switch is in flight
    ts.killing = True
    try:
        while ts.doomed:
            _kill(ts.doomed.pop())
    finally:
        ts.killing = False


def _exception(typ, val, tb):
    """The exception instance that throw(typ, val, tb) raises."""
    if tb is not None and not isinstance(tb, TracebackType):
        raise TypeError("throw() third argument must be a traceback object")
    if isinstance(typ, type) and issubclass(typ, BaseException):
        if isinstance(val, typ):
            exc = val
        elif val is None:
            exc = typ()
        elif isinstance(val, tuple):
            exc = typ(*val)
        else:
            exc = typ(val)
    elif isinstance(typ, BaseException):
        if val is not None:
            raise TypeError("instance exception may not have a separate value")
        exc = typ
    else:
        raise TypeError("exceptions must be classes, or instances, not %s"
                        % type(typ).__name__)
    if tb is not None:
        exc = exc.with_traceback(tb)
    return exc


def _unpack(args, kwargs):
    if kwargs:
        return (args, kwargs) if args else kwargs
    return args[0] if len(args) == 1 else args


def _switch_to(target, args, kwargs, exc):
    """Switch from this thread's current greenlet to target, handing it
    args/kwargs or the exception exc; return (or raise) what the current
    greenlet receives when it is switched back to."""
    ts = _thread_state()
    try:
        if target._ts is not ts:
            raise error("cannot switch to a different thread")
    except AttributeError:
        raise TypeError("switch() needs a greenlet, not %s" % type(target).__name__) from None
    if ts.doomed:
        _kill_doomed(ts)
    origin = ts.current
    while target._state == _DEAD:       # a dead greenlet hands over to its parent
        target = target._parent
    if target is origin:
        # No switch, but greenlet still reports one (origin == target).
        if ts.trace is not None:
            exc = _call_trace(ts, ts.trace, exc, origin, origin)
        if exc is not None:
            raise exc
        return _unpack(args, kwargs)
    if target._state == _UNSTARTED:
        _prepare_start(ts, target)
    if origin._reaper is None:
        origin._reaper = _Reaper(origin)
    ts.inbox = (origin, args, kwargs, exc)
    ts.current = target
    # While suspended, this frame must not hold the greenlet itself, or it
    # could never be collected (and killed).
    del origin, args, kwargs, exc
    failed = _transfer(target._handle)
    if failed:
        return _transfer_failed(ts, failed)
    origin, args, kwargs, exc = ts.inbox
    ts.inbox = None
    return _receive(ts, origin, args, kwargs, exc)


def _transfer_failed(ts, code):
    ts.current = ts.inbox[0]    # nothing moved: we are still origin
    ts.inbox = None
    if code == -2:              # the backend's own thread check
        raise error("cannot switch to a different thread")
    raise MemoryError("greenlet_cffi: no memory to save the stack for a switch")


def _prepare_start(ts, target):
    # Looked up in the switcher, as greenlet does: a missing run raises here.
    target._run = target.run
    target._state = _STARTED
    ts.starting = target


def _receive(ts, origin, args, kwargs, exc):
    """What switch() returns, or raises, in the greenlet now running, given
    what origin sent it."""
    trace = ts.trace
    if trace is not None:
        exc = _call_trace(ts, trace, exc, origin, ts.current)
    if exc is not None:
        raise exc
    return _unpack(args, kwargs)


def _call_trace(ts, trace, exc, origin, target):
    try:
        trace("throw" if exc is not None else "switch", (origin, target))
    except BaseException as e:
        ts.trace = None     # a failing callback is removed...
        return e            # ...and its exception is raised in the target
    return exc


def _bootstrap():
    """Bottom of every greenlet: run it, then say where to go next."""
    ts = _tls.state
    self = ts.starting
    ts.starting = None
    try:
        run = self._run
        self._run = None
        origin, args, kwargs, exc = ts.inbox
        ts.inbox = None
        if ts.trace is not None:
            exc = _call_trace(ts, ts.trace, exc, origin, self)
        # Hold no reference to the greenlet while it runs, so that it can
        # be collected (and killed) like any object.
        del self, origin
        if exc is not None:
            raise exc       # thrown into before it started: dies unrun
        result = run(*args, **kwargs) if kwargs else run(*args)
        args, exc = (result,), None
    except GreenletExit as e:
        args, exc = (e,), None
    except BaseException as e:
        args, exc = None, e
    # Drop references while this greenlet is still the current one: a
    # __del__ that this sets off may switch.
    run = kwargs = result = None
    self = ts.current
    self._state = _DEAD
    return _finish(ts, self, args, exc)


def _finish(ts, dead, args, exc):
    """Hand the finished greenlet's result (args) or exception to its parent
    (or further up), starting the parent if it never ran; return the handle
    of the greenlet to go to."""
    target = dead._parent
    while True:
        while target._state == _DEAD:
            target = target._parent
        if target._state == _UNSTARTED:
            try:
                _prepare_start(ts, target)
            except BaseException as e:
                args, exc = None, e
                target = target._parent
                continue
        break
    # The inbox also keeps the dead greenlet alive until the target runs.
    ts.inbox = (dead, args, None, exc)
    ts.current = target
    return target._handle


_transfer = _b.transfer
_b.set_entry(_bootstrap)
