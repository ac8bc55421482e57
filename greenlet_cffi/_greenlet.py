"""The greenlet API, written once for every interpreter.

Everything but "move the C stack and the interpreter's per-thread state" is
here; the backend (_backend.py) only starts greenlets, transfers control
between them and reads a suspended one's frame and context.

How a switch travels: the switcher puts ``(origin, args, kwargs, exc)`` in
its thread's ``inbox``, makes the target the thread's current greenlet and
calls ``_b.transfer``.  The target wakes up either inside its own earlier
``_b.transfer`` call or, on its first switch, at the bottom of its new
stack, where the backend calls ``_begin()`` for what to run, runs it and
hands the outcome to ``_finish()``.  Whatever was sent is taken from the
inbox: values (args, kwargs) or an exception to raise (exc).

A greenlet's own state lives in slots whose names Python mangles for this
class (``_greenlet__*``, written ``self.__x`` in the class body), so that
no subclass attribute can shadow it: defining such a name in a subclass is
refused, and a subclass's ``__getattribute__`` is bypassed for them.  No
frame of the switch machinery holds a value, an exception or a greenlet
while its greenlet is suspended: what a suspended stack holds, the cyclic
GC cannot see.
"""
import atexit
import gc
import itertools
import os
import sys
import threading
import weakref
from _thread import get_ident as _get_ident
from contextvars import Context
from time import process_time as _process_time
from types import FunctionType, TracebackType

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
# Profilers see switch() and throw() as one C call each, as with greenlet:
# on CPython they are C methods; elsewhere the backend tells the profile
# function so (checked first thing in each, without a frame of its own: a
# wrapper's frame under every suspended greenlet made PyPy's GC slow).
_TELL_PROFILER = _b.TELLS_PROFILER
_NO_RUN = object()      # run not given (greenlet(None) gives run=None)
_tls = threading.local()


class _ThreadState:
    """The greenlets of one thread."""
    __slots__ = ("main", "current", "trace", "starting", "doomed", "alive",
                 "ident", "inbox", "outbox", "killing", "run", "released",
                 "hook", "end_lock", "__weakref__")


class _ThreadEnd:
    """Lives in the thread's locals only, so it goes when the thread ends."""
    __slots__ = ("ts",)

    def __init__(self, ts):
        self.ts = ts

    def __del__(self):
        # None: interpreter shutdown, which clears the module's names in
        # no fixed order (3.15 cleared _b first)
        if _ended is not None and _b is not None and self.ts.alive:
            _thread_ended(self.ts)


# Ending a thread releases what its state holds, so that its main greenlet
# (and all it references) goes as soon as nothing else holds it; greenlet
# calls this its optional cleanup, which can be turned off (then it leaks)
# and is timed.  The greenlets it left suspended show their frame until the
# next garbage collection (greenlet frees them from a later pending call).
_cleanup = {"enabled": True, "seconds": 0.0}
_ended = []     # thread states whose greenlets still show frames


def _thread_ended(ts, _process_time=_process_time):
    ts.alive = False
    ts.end_lock = None
    if ts.main is not None:
        _b.release_record(ts.main._greenlet__handle)
    ts.ident = None     # thread ids are reused
    # Greenlets waiting to be killed by this thread never will be:
    # release them without running.
    del ts.doomed[:]
    if _cleanup["enabled"]:
        t0 = _process_time()
        ts.main = ts.current = ts.trace = ts.starting = ts.run = None
        ts.inbox = ts.outbox = None
        _cleanup["seconds"] += _process_time() - t0
    if not _ended:
        _AfterCollection()
    _ended.append(ts)


def _alive(ts):
    """Whether ts's thread still runs.  Where refcounting does not end a
    thread's locals with it (PyPy), its end is seen at a collection; a
    thread that threading started tells it at once by its lock."""
    lock = ts.end_lock
    if lock is not None and not lock.locked():
        _thread_ended(ts)
    return ts.alive


def _end_lock():
    # threading's per-thread lock, which the interpreter releases once the
    # thread has ended (what Thread.join() waits for).  The main thread's
    # is released at shutdown, while code still runs: not used.
    t = threading._active.get(_get_ident())
    if t is None or t is threading.main_thread():
        return None
    lock = getattr(t, "_tstate_lock", None)
    return lock if lock is not None and lock.locked() else None


class _AfterCollection:
    """A self-cycle: the GC finds it garbage, and its __del__ then marks
    the ended threads' greenlets released (no switch happens there)."""
    __slots__ = ("cycle",)

    def __init__(self):
        self.cycle = self

    def __del__(self):
        if _ended is None:
            return      # interpreter shutdown
        while _ended:
            _ended.pop().released = True


_all_states = weakref.WeakSet()
_all_mains = weakref.WeakSet()


def _forked():
    # In a child process only the forking thread lives on.
    here = _tls.__dict__.get("state")
    for ts in list(_all_states):
        if ts is not here and ts.alive:
            _thread_ended(ts)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _new_thread_state():
    ts = _ThreadState()
    _all_states.add(ts)
    ts.trace = ts.starting = ts.run = ts.inbox = ts.outbox = None
    # PyPy: a list that once held an object keeps the strategy for objects;
    # an empty one starts with another, and the fast path's `if ts.doomed`
    # guards on it: the first kill in the process (the first sweep) then
    # failed that guard in every compiled switch, five bridges to compile
    # (the next 100,000 switches 248 ns each instead of 170).  So it holds
    # an object once, here.
    ts.doomed = [None]
    del ts.doomed[:]
    ts.alive = True
    ts.released = False
    ts.killing = False
    ts.ident = _get_ident()
    ts.hook = None
    ts.end_lock = None if _REFCOUNTED else _end_lock()
    main = object.__new__(greenlet)
    main._greenlet__ts = ts
    main._greenlet__run = _NO_RUN
    main._greenlet__handle = _b.main_handle(ts)
    main._greenlet__parent = None
    main._greenlet__state = _STARTED
    main._greenlet__reaper = False      # a main greenlet is never killed
    ts.main = ts.current = main
    _all_mains.add(main)
    _tls.state = ts
    _tls.end = _ThreadEnd(ts)
    if _hooks is not None:
        _hooks.new_thread(ts)
    return ts


def _thread_state():
    try:
        return _tls.state
    except AttributeError:
        return _new_thread_state()


def getcurrent():
    """Return the greenlet running in this thread."""
    if _exiting and sys.is_finalizing():
        raise RuntimeError("greenlet is being finalized: the interpreter is shutting down")
    try:
        ts = _tls.state
    except AttributeError:
        ts = _new_thread_state()
    if ts.doomed:
        _kill_doomed(ts)
    return ts.current


# Once the interpreter exits, getcurrent() refuses (as greenlet's does) when
# called from a finalizer run by Py_FinalizeEx: module state may be gone.
# atexit only arms the check, which costs a global lookup until then.
_exiting = False


def _at_exit():
    global _exiting
    _exiting = True


atexit.register(_at_exit)


def settrace(callback):
    """Set this thread's switch trace callback; return the previous one."""
    ts = _thread_state()
    hook = ts.hook
    if hook is not None:    # ts.trace is the hook, which calls hook.user
        old, hook.user = hook.user, callback
        return old
    old, ts.trace = ts.trace, callback
    return old


def gettrace():
    """Return this thread's switch trace callback, or None."""
    ts = _thread_state()
    hook = ts.hook
    return ts.trace if hook is None else hook.user


# greenlet_cffi.tracing, once imported, sets this to its entry points, and
# gives a thread state with listeners (or a registry, or a blocking watch)
# a hook: ts.hook, which also takes the place of ts.trace so that the switch
# path's one check (ts.trace is not None) leads to it.  No hook, no cost.
_hooks = None


# Our slots, by their mangled names: what no subclass may define.
_OWN = ("_greenlet__ts", "_greenlet__handle", "_greenlet__parent",
        "_greenlet__run", "_greenlet__state", "_greenlet__reaper")


def _guarded_getattribute(getattribute):
    """A subclass's __getattribute__, bypassed for our own slots."""
    own = frozenset(_OWN)
    plain = object.__getattribute__

    def __getattribute__(self, name):
        if name in own:
            return plain(self, name)
        return getattribute(self, name)
    __getattribute__._greenlet_cffi_guard = True
    return __getattribute__


class _instance(*(() if _b.HANDLE_BASE is None else (_b.HANDLE_BASE,))):
    """greenlet's instance dict, whose descriptor greenlet wraps."""
    __slots__ = ("__dict__", "__weakref__")


_plain_dict = vars(_instance)["__dict__"]


def _foreign_layout(cls):
    # A subclass made by C code (a compiled extension's type, e.g. Cython's
    # cdef class) never passed through __init_subclass__: it was laid out
    # after greenlet's C struct (greenlet.h), so its fields would overlap
    # this class's slots.  Refuse it before any slot is written.
    raise TypeError(
        "greenlet_cffi cannot make instances of %s.%s: it is a compiled "
        "subclass laid out after greenlet's C struct (greenlet.h), which "
        "greenlet_cffi's greenlet does not have; subclass it in Python, or use "
        "greenlet from PyPI" % (cls.__module__, cls.__qualname__))


class greenlet(_instance):
    """A lightweight coroutine: ``greenlet(run=None, parent=None)``."""

    # __handle: in the backend's base class where it has one.
    __slots__ = ("__ts",) + (("__handle",) if _b.HANDLE_BASE is None else ()) + (
        "__parent", "__run", "__state", "__reaper")

    def __new__(cls, *args, **kwargs):
        # Set up here, not in __init__, so that subclasses that never call
        # greenlet.__init__ still work.
        if cls._greenlet__layout is not cls:
            _foreign_layout(cls)
        ts = _thread_state()
        if ts.doomed:
            _kill_doomed(ts)
        handle = _b.new_handle()    # first: MemoryError leaves no half-made greenlet
        self = object.__new__(cls)
        self.__ts = ts
        self.__handle = handle
        self.__parent = ts.current
        self.__run = _NO_RUN
        self.__state = _UNSTARTED
        self.__reaper = False if _REFCOUNTED else None
        if ts.hook is not None:
            ts.hook.spawn(self)
        return self

    def __init__(self, run=_NO_RUN, parent=None):
        if run is not _NO_RUN:
            # Into the slot, as greenlet does: a run method defined on a
            # subclass still takes precedence when the greenlet starts.
            greenlet.run.fset(self, run)
        if parent is not None:
            greenlet.parent.fset(self, parent)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for klass in cls.__mro__:
            if klass is greenlet:
                break
            clash = [n for n in _OWN if n in vars(klass)]
            if clash:
                raise TypeError("%s may not define %s: greenlet keeps its state there"
                                % (cls.__name__, ", ".join(clash)))
        cls._greenlet__layout = cls     # a class made by Python: see __new__
        getattribute = cls.__getattribute__
        if getattribute is not object.__getattribute__ \
                and not getattr(getattribute, "_greenlet_cffi_guard", False):
            cls.__getattribute__ = _guarded_getattribute(getattribute)

    # -- switching -----------------------------------------------------

    def switch(self, *args, **kwargs):
        """Switch to this greenlet, passing args/kwargs; return what is
        passed back when something switches to the caller again."""
        if _TELL_PROFILER and _b.wants_c_call():
            return _b.as_c_call(greenlet.switch, self, args, kwargs)
        if kwargs or len(args) > 1:
            # The long way.  This frame keeps nothing that a traceback
            # through it would keep alive.
            ts = _thread_state()
            ts.outbox = (self, args, kwargs, None)
            self = args = kwargs = None
            if _cold_call is not None:
                return _cold_call(_switch_to, ts)
            return _switch_to(ts)
        # switch() and switch(value): _switch_value, which CPython's C
        # method calls directly (there, this is reached only with keywords
        # or several arguments).
        try:
            here = _tls.state
        except AttributeError:
            here = None
        else:
            # Without reference counting, the greenlet about to suspend
            # needs its finalizer (_Reaper); here, not in _switch_value,
            # which CPython's switches do not pass through this way.
            origin = here.current
            if origin._greenlet__reaper is None:
                origin._greenlet__reaper = _Reaper(origin)
            origin = None
        return _switch_value(here, self, args[0] if args else (), args)

    def throw(self, typ=GreenletExit, val=None, tb=None):
        """Raise an exception in this greenlet (immediately, by switching
        to it) and return what is passed back to the caller."""
        if _TELL_PROFILER and _b.wants_c_call():
            return _b.as_c_call(greenlet.throw, self, (typ, val, tb), {})
        if not isinstance(self, greenlet):
            raise TypeError("throw() needs a greenlet, not %s" % type(self).__name__)
        exc = _exception(typ, val, tb)
        del typ, val, tb
        ts = _thread_state()
        if self.__state == _DEAD and isinstance(exc, GreenletExit):
            # A dead greenlet "returns" the GreenletExit, as run would have.
            ts.outbox = (self, (exc,), None, None)
        else:
            ts.outbox = (self, None, None, exc)
        del exc, self
        return _switch_to(ts)

    # -- attributes ----------------------------------------------------

    @property
    def run(self):
        """The callable run on the first switch; gone once started."""
        if self.__state != _UNSTARTED or self.__run is _NO_RUN:
            raise AttributeError("run")
        return self.__run

    @run.setter
    def run(self, value):
        if self.__state != _UNSTARTED:
            raise AttributeError("run cannot be set after the start of the greenlet")
        self.__run = value

    @run.deleter
    def run(self):
        if self.__state != _UNSTARTED:
            raise AttributeError("run cannot be deleted after the start of the greenlet")
        self.__run = _NO_RUN

    @property
    def parent(self):
        """The greenlet that receives this one's result (None for main)."""
        return self.__parent

    @parent.setter
    def parent(self, value):
        if self.__parent is None and self.__state == _STARTED:
            raise AttributeError("cannot set the parent of a main greenlet")
        if not isinstance(value, greenlet):
            raise TypeError("GreenletChecker: Expected any type of greenlet, not "
                            + type(value).__name__)
        p = value
        while p is not None:
            if p is self:
                raise ValueError("cyclic parent chain")
            p = p._greenlet__parent
        if self.__state != _UNSTARTED and _thread_of(value) is not self.__ts:
            raise ValueError("parent cannot be on a different thread")
        self.__parent = value

    @parent.deleter
    def parent(self):
        raise AttributeError("can't delete attribute")

    @property
    def dead(self):
        """True once the greenlet has finished (or, started, its thread has)."""
        return self.__state == _DEAD or (self.__state == _STARTED and not _alive(self.__ts))

    def __bool__(self):
        return self.__state == _STARTED and _alive(self.__ts)

    @property
    def gr_frame(self):
        """The frame a suspended greenlet will resume in; else None."""
        ts = self.__ts
        if self.__state != _STARTED or ts.current is self or ts.released:
            return None
        f = _b.top_frame(self.__handle)
        while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
            f = f.f_back
        return f

    @property
    def gr_context(self):
        """The contextvars.Context this greenlet runs in (None: none yet)."""
        return _b.get_context(self.__handle, _running_here(self))

    @gr_context.setter
    def gr_context(self, ctx):
        if ctx is not None and not isinstance(ctx, Context):
            raise TypeError("greenlet context must be a contextvars.Context or None")
        _b.set_context(self.__handle, _running_here(self), ctx)

    @gr_context.deleter
    def gr_context(self):
        raise AttributeError("can't delete context attribute")

    def __repr__(self):
        ts = self.__ts
        state = self.__state
        name = "greenlet.greenlet" if type(self) is greenlet else type(self).__name__
        head = "<%s object at %#x (otid=%#x)" % (name, id(self), id(ts))
        if state == _DEAD or (state == _STARTED and not _alive(ts)):
            return head + (" dead>" if ts.alive else " (thread exited) dead>")
        if ts.current is self and ts is _tls.__dict__.get("state"):
            where = " current"
        elif state == _STARTED:
            where = " suspended"
        else:
            where = ""
        return "%s%s%s%s%s>" % (
            head, where, " active" if state == _STARTED else "",
            " started" if state == _STARTED else " pending",
            " main" if self.__parent is None and state == _STARTED else "")

    @property
    def _stack_saved(self):
        """Bytes of C stack this greenlet keeps in the heap while suspended
        (greenlet's diagnostic; None where the backend cannot tell)."""
        return _b.stack_saved(self.__handle)

    def __reduce_ex__(self, *args):
        # A greenlet is a running stack: it can be neither copied nor pickled.
        raise TypeError("cannot serialize '%s' object" % type(self).__name__)

    __reduce__ = __copy__ = __deepcopy__ = __reduce_ex__

    @property
    def __dict__(self):
        return _plain_dict.__get__(self)

    @__dict__.setter
    def __dict__(self, value):
        if not isinstance(value, dict):
            raise TypeError("__dict__ must be set to a dictionary, not a '%s'"
                            % type(value).__name__)
        _plain_dict.__set__(self, value)

    @__dict__.deleter
    def __dict__(self):
        raise TypeError("__dict__ may not be deleted")

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


def _thread_of(g):
    """The thread state a greenlet runs in; an unstarted one will run in
    its parent's."""
    while g._greenlet__state == _UNSTARTED:
        g = g._greenlet__parent
    return g._greenlet__ts


def _running_here(g):
    """Whether g is the greenlet running in this thread, and so its context
    is the live one; refuses one running in another thread."""
    ts = g._greenlet__ts
    running = ts.current is g and ts.alive
    if running and ts is not _thread_state():
        raise ValueError("cannot access the context of a greenlet running in a different thread")
    return running


def _thread_error(ts, target_ts):
    if not _alive(target_ts):
        return error("cannot switch to a different thread (which happens to have exited)")
    return error("Cannot switch to a different thread\n\tCurrent:  %r\n\tExpected: %r"
                 % (ts.current, target_ts.main))


# -- collection -----------------------------------------------------------

_gc_running = False     # CPython: between a collection's start and stop


def _collect(g):
    """g is garbage: an unfinished greenlet is ended by raising GreenletExit
    in it, in its own thread; one left by a dead thread is released unrun."""
    if _thread_state is None:
        return      # interpreter shutdown: module globals are gone
    if g._greenlet__state != _STARTED or g._greenlet__parent is None:
        return
    ts = g._greenlet__ts
    if not ts.alive:
        return
    if _tls.__dict__.get("state") is ts and ts.inbox is None and ts.outbox is None \
            and not _gc_running:
        # Through the kill loop: one dropped by a greenlet being killed (a
        # chain of garbage greenlets, each holding the next) is left to the
        # loop further up (_kill_doomed sees it is at it), so that a long
        # chain does not nest one kill per link until the recursion limit.
        ts.doomed.append(g)
        _kill_doomed(ts)
    elif _gc_running and _tls.__dict__.get("state") is ts:
        # Found by a collection (or dropped while one runs: its finalizers
        # may hand the GIL to other threads): killed when it stops, if
        # that is in this thread.
        _gc_found.append((ts, g))
        if not _gc_running:
            # That stop has been: this thread lost the GIL between the test
            # and the append.  Nothing else would hand g over (a loop that
            # frees what it allocates starts no collection), so it would
            # never be killed (the stress run's lost greenlet on 3.15).
            _hand_over_found()
    else:
        # Another thread's; or a switch is in flight here (the outbox or
        # the inbox is full, from the switcher's store to the receiver's
        # read; PyPy runs __del__ between any two bytecodes); or the cyclic
        # GC is running,
        # which no switch may interrupt: killed by its thread after the
        # collection, or when it next switches or calls getcurrent().
        ts.doomed.append(g)


_gc_found = []          # (thread state, greenlet) dropped while a collection ran


def _gc_phase(phase, info):
    """At a collection's stop, kill only what that collection found.  Not
    the greenlets other threads dropped: a collection starts at any
    allocation, maybe where this thread holds a lock their GreenletExit
    handlers take (a deadlock: the CPython 3.10 stress hang); like greenlet,
    they wait for this thread's next switch or getcurrent()."""
    global _gc_running
    _gc_running = phase == "start"
    if not _gc_running and _gc_found:
        _hand_over_found()


def _hand_over_found():
    """Other threads' found greenlets to their doomed lists (killed at their
    next switch or getcurrent()); this thread's killed now."""
    ts = _tls.__dict__.get("state")
    taken = []
    # One pop at a time, not a copy and a clear: another thread may append
    # in between (its GIL switch), and that one would be lost.
    while _gc_found:
        try:
            taken.append(_gc_found.pop())
        except IndexError:      # another thread took the last one
            break
    taken.reverse()
    found = []
    for owner, g in taken:
        (found if owner is ts else owner.doomed).append(g)
    del taken
    if found:
        ts.doomed.extend(found)
        if not (ts.killing or ts.inbox is not None or ts.outbox is not None
                or _gc_running):    # (from _collect: another started since)
            ts.killing = True
            try:
                for g in found:
                    ts.doomed.remove(g)
                    _kill(g)
            finally:
                ts.killing = False


class _Reaper:
    """Without reference counting (PyPy), every object of a class with
    __del__ is costly to allocate and to collect, and most greenlets finish
    without ever being suspended.  So there greenlet has no __del__: a
    greenlet gets this finalizer when it first suspends, in a cycle with it
    that the GC collects whole (armed: the greenlet's __reaper is it, and
    its .greenlet is that greenlet).

    PyPy calls app-level finalizers in order: a garbage finalizable object
    that another one reaches waits for a later major collection.  A
    suspended greenlet's stack often holds another greenlet (issue 10's
    chain), so of a garbage chain only the head's reaper would run per
    collection, each collection walking the rest again.  So a reaper that
    finds its greenlet garbage starts a sweep (see _Sweep), if _SWEEP."""
    __slots__ = ("greenlet", "key")

    def __init__(self, g):
        self.greenlet = g       # None: disarmed (a sweep holds g)
        if _SWEEP:      # first suspension: watched from now on
            # Forgotten by this __del__, which runs in the collection that
            # finds g garbage (g and its reaper go together), not by a
            # weak reference callback: PyPy gives a greenlet with such a
            # callback its own finalizer, which cost 13% of issue 10's chain
            # (0.234 against 0.204 s).  Nothing of a watch outlives it (a
            # list pruned now and then grew between prunings, which
            # greenlet's leak checks count as a leak).  Keyed by a number:
            # hashing the weak reference would hash g, and PyPy gives a
            # young object an identity hash by reserving room for its copy
            # in the old generation (spawn/kill 1.16 -> 1.09x the bundled
            # greenlet's time).
            self.key = key = _next_key()
            _watched[key] = _weakref(g)

    def __del__(self):
        if _thread_state is None:
            return      # interpreter shutdown: module globals are gone
        if _SWEEP:
            _watched.pop(self.key, None)
        g = self.greenlet
        if g is None:
            return      # disarmed by a sweep, which holds g
        if g._greenlet__reaper is self and g._greenlet__state == _STARTED:
            _collect(g)
            # Only a kill calls for a sweep: a greenlet of an ended thread
            # is released unrun, and sweeps it started held every such
            # greenlet a collection longer (greenlet's leak test, which
            # drops 20,000 of them per round until memory stops growing,
            # grew to 24 GB in a CI run so).
            if _SWEEP and _alive(g._greenlet__ts):
                _start_sweep(0)


def _let_go(g, reaper):
    """g, which suspended, has finished: its reaper no longer reaches it,
    nor it its reaper, and it is not watched.  PyPy keeps a young object
    that has a finalizer alive, and all it reaches, until a major
    collection: a finished greenlet and its stack stayed that long (about
    2 us a greenlet of spawn/kill with 10,000 parked, PyPy 8; in the
    sequence 1.71-1.81x the bundled greenlet, now 1.05x).  Not one that a
    kill ended: letting go of those (a garbage chain's links) made issue
    10's gc.collect() 0.043-0.063 s against 0.039-0.048 (PyPy 7.3.11,
    eight processes each; why is not found)."""
    g._greenlet__reaper = False
    reaper.greenlet = None
    if _SWEEP:
        _watched.pop(reaper.key, None)


class _Sweep:
    """Holds every watched greenlet, all disarmed (their reapers reach
    nothing), for one major collection: the sweep is then the only
    finalizable object that reaches them, so the collection finalizes it, and PyPy clears the
    weak reference to every greenlet that only it reaches: those were
    garbage, a whole chain at once, and are killed here.  The others
    are armed again, or held by the next sweep while sweeps find garbage
    (at most _SWEEP_ROUNDS in a row: a greenlet in a cycle with another
    object that has __del__ waits for a round without a sweep, where
    PyPy finalizes one of them).  The first sweep after a kill looks
    again even if it found nothing: on PyPy 7.3.11 it sometimes found none
    of a chain's links garbage (the second chain of
    tests/test_perf_cliff.py's chain test, a quarter of runs; why is not
    found), and the chain then waited for its new head's own reaper, four
    collections in all instead of two; with the second look, three."""
    __slots__ = ("greenlets", "refs", "rounds")

    def __del__(self):
        global _sweeping, _sweep_wanted
        if _thread_state is None:
            return      # interpreter shutdown: module globals are gone
        held = zip(self.greenlets, self.refs)
        self.greenlets = self.refs = None
        garbage = []
        # What this sweep held and did not find is armed again (or held by
        # the next sweep) before the kills: a kill loop may take long (a
        # GreenletExit handler waits for a lock, or this thread gets the GIL
        # little), and while one of these stayed disarmed in it, nothing
        # could find it garbage (the stress program's workers waited a
        # minute for kills so).
        carried = ([], [])
        for g, ref in held:
            if ref() is None:
                garbage.append(g)
            else:
                carried[0].append(g)
                carried[1].append(ref)
        held = g = ref = None
        _sweeping = False
        first_found_nothing = self.rounds == 0 and not garbage     # look again
        if (_sweep_wanted or first_found_nothing) and self.rounds < _SWEEP_ROUNDS:
            _start_sweep(self.rounds + 1, carried)
        else:
            _sweep_wanted = False
            _rearm(carried)
        carried = None
        while garbage:      # the newest first: a chain's head, as CPython
            _collect(garbage.pop())


def _rearm(carried):
    """Give back their reapers to the disarmed greenlets carried (greenlets,
    refs) that are still suspended."""
    for g in carried[0]:
        r = g._greenlet__reaper
        if g._greenlet__state == _STARTED and r.greenlet is None:
            r.greenlet = g


# Only without reference counting (PyPy), where it is on by default
# (GREENLET_CFFI_PYPY_SWEEP=0 turns it off).  Without it a long-lived
# process that drops chains piles them up: issue 10's chain and
# gc.collect(), 40 times in one PyPy 8 process, grew to 2.8 GB with the
# 40th chain taking 1.6 s and its collection 1.1 s; with it RSS stayed at
# 206 MB, the last chains and collections 0.04-0.21 s each.  Its cost: a
# collection that finds a chain kills it whole, 10,000 GreenletExits, where
# the bundled greenlet kills nothing.
# The kills of a sweep's garbage run with the JIT's bridges off
# (bridges_off() in the PyPy backend says why).
_SWEEP = not _REFCOUNTED and os.environ.get("GREENLET_CFFI_PYPY_SWEEP", "1") != "0"
_weakref = weakref.ref
_watched = {}           # number -> weak reference to a greenlet given a _Reaper
_next_key = itertools.count().__next__
_sweeping = False       # a _Sweep waits for its collection
_sweep_wanted = False   # a reaper or sweep killed meanwhile: sweep again
# PyPy keeps a module global in its dictionary until it is first rebound
# to another value, which then moves it into a cell and invalidates all
# compiled code that read any global of this module: every switch loop,
# recompiled after the process's first sweep (or the first import of
# greenlet_cffi.tracing, which sets _hooks).  So every global the layer
# rebinds after import is rebound here, at import, once.
_sweeping = _sweep_wanted = _hooks = True
_sweeping = _sweep_wanted = False
_hooks = None
_SWEEP_ROUNDS = 8
_sweep_lock = threading.Lock()


def _start_sweep(rounds, carried=None):
    """Disarm every armed watched greenlet and hold it, with those
    `carried` (greenlets, refs: disarmed already), in a new _Sweep.
    Watched greenlets that finished are forgotten."""
    global _sweep_wanted
    _sweep_wanted = True
    # Threads run finalizers too: one sweep is made at a time.  Not
    # waiting for the lock: a finalizer may run in this very thread, inside
    # the sweep being made.
    if not _sweep_lock.acquire(False):
        if carried is not None:
            _rearm(carried)     # the one waiting will go on, without these
        return
    try:
        if not _sweeping:
            _make_sweep(rounds, carried)
        elif carried is not None:
            _rearm(carried)     # likewise
    finally:
        _sweep_lock.release()


def _make_sweep(rounds, carried):
    global _sweeping, _sweep_wanted
    _sweep_wanted = False
    sweep = _Sweep()
    sweep.rounds = rounds
    greenlets, refs = carried if carried is not None else ([], [])
    sweep.greenlets, sweep.refs = greenlets, refs
    _sweeping = True
    finished = []
    # One pass over a copy: a reaper's __del__ may run meanwhile.
    for key, ref in list(_watched.items()):
        g = ref()
        if g is None:
            continue
        if g._greenlet__state != _STARTED:
            finished.append(key)
            continue
        r = g._greenlet__reaper
        # Only armed ones (one whose reaper is being made, None, stays
        # armed; a disarmed one is held by `carried`).  Disarmed, the
        # reaper stays the greenlet's, reaching nothing: the sweep alone
        # then reaches the greenlet, and the reaper, reachable again once
        # re-armed, is neither finalized nor made anew (PyPy finalizes an
        # object only once it is unreachable, and a finalizable object that
        # another one being finalized reaches waits for a later collection).
        # Not a greenlet of an ended thread: it needs no kill, only
        # release, which its reaper's collection gives it at once.
        if isinstance(r, _Reaper) and r.greenlet is g and _alive(g._greenlet__ts):
            r.greenlet = None
            greenlets.append(g)
            refs.append(ref)
    g = r = None
    for key in finished:
        _watched.pop(key, None)
    # Dropped here: garbage, finalized by the next major collection.


def _kill(g):
    """Raise GreenletExit in g, coming back here; g's parent is this
    greenlet for the time of the kill.  An exception other than the
    GreenletExit is reported as unraisable, as greenlet does."""
    ts = g._greenlet__ts
    parent = g._greenlet__parent
    g._greenlet__parent = ts.current
    refs = _getrefcount(g) if _REFCOUNTED else 0
    if ts.hook is not None:
        ts.hook.collect(g)      # here, in g's thread, at a safe point
    try:
        _switch_with(g, None, None, GreenletExit(
            "greenlet_cffi: killing this greenlet, which nothing refers to any more"))
    except BaseException as e:
        if sys is not None:
            _report_unraisable(e, "Exception ignored while killing a collected greenlet", g)
    if g._greenlet__state != _DEAD:
        # It caught GreenletExit and switched away.
        g._greenlet__parent = parent
        if _REFCOUNTED and _getrefcount(g) > refs:
            # Something holds it now: when that lets go, kill it again.
            _b.rearm_finalizer(g)
        else:
            # Its stack may still be linked below running greenlets, so it
            # must never be freed: kept, and said so, as greenlet does.
            _lost.append(g)
            if sys is not None and sys.stderr is not None:
                sys.stderr.write("GreenletExit did not kill %r\n" % (g,))


class _Unraisable:
    """What sys.unraisablehook gets (the fields of CPython's own)."""
    __slots__ = ("exc_type", "exc_value", "exc_traceback", "err_msg", "object")

    def __init__(self, exc, err_msg, obj):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = err_msg
        self.object = obj


def _report_unraisable(exc, err_msg, obj):
    """Report exc through sys.unraisablehook.  CPython's default hook takes
    only the interpreter's own argument type, which Python code cannot make:
    with it, print what it would print."""
    try:
        hook = sys.unraisablehook
        if hook is not getattr(sys, "__unraisablehook__", None):
            hook(_Unraisable(exc, err_msg, obj))
            return
    except BaseException:
        pass        # a failing hook must not stop the caller either
    try:
        import traceback
        sys.stderr.write("%s: %r\n" % (err_msg, obj))
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    except BaseException:
        pass


def _kill_doomed(ts):
    # Again while any came: one dropped while bridges_on() ran found the
    # loop still marked as running.
    while ts.doomed:
        if ts.killing or ts.inbox is not None or ts.outbox is not None or _gc_running:
            return      # already at it further up, a switch is in flight, or GC
        ts.killing = True
        if _SWEEP:
            _b.bridges_off()    # why: see the PyPy backend
        try:
            while ts.doomed:
                _kill(ts.doomed.pop())
        finally:
            if _SWEEP:
                _b.bridges_on()
            ts.killing = False


# -- switching ------------------------------------------------------------

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


def _switch_with(target, args, kwargs, exc):
    """Stash what to send where no frame of ours keeps it, then switch."""
    ts = _thread_state()
    ts.outbox = (target, args, kwargs, exc)
    del target, args, kwargs, exc
    return _switch_to(ts)


def _switch_to(ts):
    """Switch from this thread's current greenlet to the target in
    ts.outbox, handing it what the outbox holds; return (or raise) what the
    current greenlet receives when it is switched back to."""
    target, args, kwargs, exc = ts.outbox
    ts.outbox = None
    if not isinstance(target, greenlet):
        raise TypeError("switch() needs a greenlet, not %s" % type(target).__name__)
    if ts.doomed:
        _kill_doomed(ts)
    origin = ts.current
    while True:
        target_ts = _thread_of(target)
        if target_ts is not ts:
            raise _thread_error(ts, target_ts)
        state = target._greenlet__state
        if state == _DEAD:      # a dead greenlet hands over to its parent
            target = target._greenlet__parent
            continue
        if state == _UNSTARTED and target is not origin:
            # Looked up in the switcher, as greenlet does: a missing run
            # raises here.  The lookup runs user code (a property, a
            # __getattribute__) that may switch or reparent: look again.
            run = target.run
            if target._greenlet__state != _UNSTARTED or _thread_of(target) is not ts:
                continue
            _starting(ts, target, run)
            del run
        break
    if target is origin:
        # No switch, but greenlet still reports one (origin == target).
        ts.inbox = (origin, args, kwargs, exc)
        return _receive(ts)
    if origin._greenlet__reaper is None:
        origin._greenlet__reaper = _Reaper(origin)
    ts.inbox = (origin, args, kwargs, exc)
    ts.current = target
    handle = target._greenlet__handle
    # While suspended, this frame must hold nothing that was sent, nor the
    # target greenlet itself.
    del origin, args, kwargs, exc, target
    failed = _transfer(handle)
    del handle
    if failed:
        return _transfer_failed(ts, failed)
    return _receive(ts)


def _starting(ts, target, run):
    """target starts with the next transfer, running run (see _begin)."""
    target._greenlet__state = _STARTED
    target._greenlet__ts = ts
    ts.starting, ts.run = target, run


def _transfer_failed(ts, code):
    target = ts.current
    ts.current = ts.inbox[0]    # nothing moved: we are still origin
    ts.inbox = None
    if ts.starting is target:   # it did not start after all
        ts.starting = ts.run = None
        target._greenlet__state = _UNSTARTED
    if code == -2:              # the backend's own thread check
        raise error("cannot switch to a different thread")
    if code == -3:
        raise RecursionError("maximum recursion depth exceeded while starting a greenlet")
    raise MemoryError("greenlet_cffi: no memory to save the stack for a switch")


def _receive(ts):
    """What switch() returns, or raises, in the greenlet now running, given
    what was sent it (ts.inbox).  An exception is raised with no greenlet
    or exception left in this frame: the traceback keeps the frame."""
    box = ts.inbox
    ts.inbox = None
    if len(box) == 2:           # a value sent by a fast path (switch)
        origin, value = box
        exc = None
    else:
        origin, args, kwargs, exc = box
        value = None if exc is not None else _unpack(args, kwargs)
        args = kwargs = None
    box = None
    trace = ts.trace
    if trace is not None:
        exc = _call_trace(ts, trace, exc, origin, ts.current)
    origin = trace = None
    if exc is not None:
        value = None
        try:
            raise exc
        finally:
            exc = None
    return value


def _call_trace(ts, trace, exc, origin, target):
    hook = ts.hook
    if hook is not None:
        # The listeners (which never raise), then settrace's callback.
        trace = hook.transfer(exc, origin, target)
        if trace is None:
            return exc
    try:
        _call_traced(trace, "throw" if exc is not None else "switch", (origin, target))
    except BaseException as e:
        # A failing callback is removed...
        if ts.hook is not None:
            ts.hook.user = None
        else:
            ts.trace = None
        return e            # ...and its exception is raised in the target
    return exc


# -- a greenlet's life, as the backend runs it --------------------------------

def _begin():
    """At the bottom of a new greenlet: what to call, ``(run, args,
    kwargs)``; raises what was thrown into it before it ran."""
    ts = _tls.state
    self, run = ts.starting, ts.run
    ts.starting = ts.run = None
    origin, args, kwargs, exc = ts.inbox
    ts.inbox = None
    if ts.trace is not None:
        exc = _call_trace(ts, ts.trace, exc, origin, ts.current)
    del origin
    if ts.hook is not None and exc is None:
        ts.hook.start(self, run)
    # Dropping what run was set to may run a __del__ that switches away,
    # from this greenlet (as in greenlet).
    self._greenlet__run = None
    del self
    if exc is not None:
        # Thrown into before it started: dies unrun.
        run = args = kwargs = None
        try:
            raise exc
        finally:
            exc = None
    return run, args, kwargs or None


def _finish(result, exc):
    """run returned result, or raised exc: hand that to the parent (or
    further up), starting the parent if it never ran; return the handle of
    the greenlet to go to."""
    ts = _tls.state
    if ts.hook is not None:
        ts.hook.finish(ts.current, result, exc)
    ts.inbox = ()           # a switch is in flight: no kill may run now
    dead = ts.current
    dead._greenlet__state = _DEAD
    reaper = dead._greenlet__reaper
    if reaper and not ts.killing:   # PyPy, and it suspended: see _let_go
        _let_go(dead, reaper)
    del reaper
    if exc is None:
        args = (result,)
    elif isinstance(exc, GreenletExit):
        args, exc = (exc,), None
    else:
        args = None
    del result
    target = dead._greenlet__parent
    while True:
        while target._greenlet__state == _DEAD:
            target = target._greenlet__parent
        if target._greenlet__state == _UNSTARTED:
            if args is not None and len(args) == 1 and isinstance(args[0], GreenletExit):
                args = ()   # greenlet starts the parent with no arguments then
            try:
                run = target.run
                target_ts = _thread_of(target)
                if target_ts is not ts:
                    raise _thread_error(ts, target_ts)
            except BaseException as e:
                args, exc = None, e
                target = target._greenlet__parent
                continue
            if target._greenlet__state != _UNSTARTED:
                continue
            _starting(ts, target, run)
            del run
        break
    # The inbox also keeps the dead greenlet alive until the target runs.
    ts.inbox = (dead, args, None, exc)
    ts.current = target
    return target._greenlet__handle


_getrefcount = getattr(sys, "getrefcount", None)
_transfer = _b.transfer
_cold_call = _b.cold_call
_call_traced = _b.call_traced


def _switch_value(here, self, value, given):
    """switch(value), or switch() if not given (value is then ()): the one
    implementation of both, for greenlet.switch and for CPython's C method
    (csrc/core.c), which calls it without building an argument tuple.
    ``here`` is this thread's _ThreadState, or None before its first
    greenlet: a greenlet of this thread is one whose state is ``here``, no
    thread id to ask for (the C core keeps it per thread).

    Inline, the common case: a suspended greenlet of this thread and no
    kill pending (the end of _switch_to, written again here so that this
    path makes no further Python call).  Anything else goes the long way,
    _switch_to."""
    try:
        ts = self._greenlet__ts
    except AttributeError:      # not a greenlet, or made without __new__
        ts = False              # never here
    # Nested tests, not one chained boolean: in 3.11 each is one
    # specialized jump.
    if ts is here:
        if self._greenlet__state == _STARTED:
            origin = ts.current
            if origin is not self:
                if not ts.doomed:
                    # A started target returns what it is sent: a 2-tuple.
                    ts.inbox = (origin, value)
                    ts.current = self
                    handle = self._greenlet__handle
                    # While suspended, and when an exception passes, this
                    # frame holds nothing that was sent and no greenlet.
                    del origin, value, self, here, given
                    failed = _transfer(handle)
                    del handle
                    if failed:
                        return _transfer_failed(ts, failed)
                    box = ts.inbox
                    if len(box) == 2 and ts.trace is None:
                        ts.inbox = None
                        return box[1]
                    del box
                    return _receive(ts)
    # The common start: a plain greenlet with its run given, whose parent
    # runs (or ran) in this thread, no kill pending.  Else (a subclass's
    # run, a parent not started) the long way.  Here, after the started
    # case's block and not in it: CPython's switch then jumps past it
    # without a longer jump instruction.
    if ts is here and self._greenlet__state == _UNSTARTED:
        parent = self._greenlet__parent
        run = self._greenlet__run
        if (type(self) is greenlet and run is not _NO_RUN and not ts.doomed
                and parent._greenlet__ts is ts
                and parent._greenlet__state != _UNSTARTED):
            # What _switch_to does for an unstarted target, and
            # _starting; _begin takes the 4-tuple.
            self._greenlet__state = _STARTED
            ts.starting, ts.run = self, run
            ts.inbox = (ts.current, (value,) if given else (), None, None)
            ts.current = self
            handle = self._greenlet__handle
            del parent, run, value, self, here, given
            failed = _transfer(handle)
            del handle
            if failed:
                return _transfer_failed(ts, failed)
            return _receive(ts)
        del parent, run
    # The long way.  Nothing may stay in this frame while it is suspended:
    # not even origin -- this greenlet itself, which would then never be
    # freed, and never killed (what a suspended stack holds, no collector
    # sees).
    ts = _thread_state()
    ts.outbox = (self, (value,) if given else (), None, None)
    origin = self = value = here = given = None
    if _cold_call is not None:
        # PyPy: kept out of the caller's trace (see cold_call in the backend).
        return _cold_call(_switch_to, ts)
    return _switch_to(ts)


# CPython: switch() and throw() become C methods, and switch() and
# switch(value) go straight to _switch_value.
_b.untraced_methods(greenlet, ("switch", "throw"), _switch_value if _REFCOUNTED else None)
greenlet._greenlet__layout = greenlet


def _capi_state(g):
    """greenlet's C API state queries (csrc/capi.c), as bits: 1 main,
    2 started (ever), 4 active."""
    state = g._greenlet__state
    return ((state == _STARTED and g._greenlet__parent is None)
            | (state != _UNSTARTED) << 1 | greenlet.__bool__(g) << 2)


# greenlet's C API, for C extensions built against greenlet.h (CPython).
_C_API = _b.c_api(greenlet, error, GreenletExit, getcurrent, _capi_state)


def _hide_machinery(namespace, classes):
    """Tracers and profilers see the machinery as C code, as greenlet's is:
    every entry into it (public functions, and the classes' methods and
    properties, which the interpreter calls) and, where the backend wants
    it (HIDE_HELPERS), every function of this module."""
    def hide(f, as_method=False):
        if isinstance(f, FunctionType) and f.__module__ == __name__:
            return _b.hidden(f, as_method)
        return f
    for name, value in list(namespace.items()):
        if _b.HIDE_HELPERS or not name.startswith("_"):
            namespace[name] = hide(value)
    for klass in classes:
        for name, value in list(vars(klass).items()):
            if isinstance(value, property) and name != "__dict__":
                new = property(hide(value.fget), hide(value.fset),
                               hide(value.fdel), value.__doc__)
            elif isinstance(value, (staticmethod, classmethod)):
                new = type(value)(hide(value.__func__))
            else:
                new = hide(value, as_method=True)
            if new is not value:
                setattr(klass, name, new)


if _REFCOUNTED:
    gc.callbacks.append(_b.hidden(_gc_phase))
_hide_machinery(globals(), (greenlet, _ThreadEnd, _AfterCollection, _Reaper, _Sweep))
# Where the backend can, getcurrent()'s common case is C code of its own.
getcurrent = _b.fast_getcurrent(getcurrent, _ThreadState) or getcurrent
greenlet.getcurrent = staticmethod(getcurrent)
_name = None
del _name
_b.set_entry(_begin, _finish)
