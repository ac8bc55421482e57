"""PyPy backend: greenlet control transfer on PyPy's own stacklets.

On PyPy a foreign C stack switch would corrupt the interpreter's shadow
stack of GC roots, so we use ``_continuation.continulet``, which switches
the stack, the frame chain and the exception state together.  The Python
layer (``_greenlet.py``) keeps all greenlet semantics; it only asks a
backend for these (same names and meaning in ``_backend_cpython.py``):

``NAME``
    ``"continulet"`` (the CPython backend's is ``"cffi"``).
``main_handle(record=None)``
    Called once per thread, from its original stack, before anything else
    there: a handle for that stack, which is running.  ``record``: the
    layer's object for the thread (CPython hands it to ``fast_switch``).
``new_handle()``
    A handle for a greenlet that has not started.
``set_entry(begin, finish)``
    At the bottom of every new greenlet the backend calls ``begin()``,
    which returns ``(run, args, kwargs)`` (kwargs may be None) or raises;
    then ``run(*args, **kwargs)``; then ``finish(result, exc)`` with what
    run returned or raised (or begin raised), which never raises and
    returns the handle to go to: as if by ``transfer(nxt)``, with the
    finished greenlet's stack released.
``transfer(target)``
    From the greenlet running in this thread to ``target``, unstarted or
    suspended, of this thread (the caller checks that; here it is only
    caught where PyPy notices it, -2).  Returns a false value once something
    transfers back to the caller; -1 if the switch could not be made (no
    memory), -2 if this thread has no main handle, -3 if it is too deep in
    the recursion limit to start one (RecursionError).  Values and exceptions
    travel beside it, in the layer's own objects.
``cold_call``
    None, or ``cold_call(fn, *args)``: calls ``fn(*args)`` as code the
    caller's compiled code does not inline (PyPy: a residual call, ``fn``
    compiled on its own).  The layer sends its long switch paths through
    it, so that a user loop that starts or throws into greenlets stays
    short enough for PyPy's JIT; else the JIT would give up on the loop and
    stop inlining the longest function in it, switch(), everywhere in the
    process (5x slower switches from then on).  None on CPython.
``untraced_methods(cls, names, fast_switch=None)`` / ``call_traced(fn, *args)``
    CPython makes switch() and throw() C methods unseen by tracers (and
    switch() with at most one argument calls ``fast_switch``); here they
    stay hidden Python methods (which ask ``wants_c_call()`` and
    ``as_c_call()`` to tell a profile function of a C call), and
    ``call_traced`` is a plain call.
``stack_saved(handle)`` / ``trash_delete_nesting()``
    Bytes of C stack a suspended greenlet keeps in the heap; the thread's
    trashcan nesting.  None: not known here (stacklets do not tell).
``rearm_finalizer(obj)``
    CPython only (there __del__ runs once per object); never called here.
``hidden(fn, as_method=False)`` / ``HIDE_HELPERS``
    ``fn`` as C code to tracers and profilers: here a hidden function;
    CPython makes a C function running it with tracing suspended.  The
    layer hides its entries, and every function if ``HIDE_HELPERS``.
``TELLS_PROFILER`` / ``wants_c_call()`` / ``as_c_call(method, self, args, kwargs)``
    Here (True) switch() and throw() ask ``wants_c_call()`` first and then
    run through ``as_c_call``, which tells a profile function of one C call.
``fast_getcurrent(slow, record_class)`` / ``release_record(handle)``
    CPython's getcurrent() in C (None here), reading the record handed to
    ``main_handle()``, which the core keeps until ``release_record`` (the
    thread has ended).
``top_frame(handle)``
    For a suspended greenlet: the frame that called ``transfer()``, whose
    ``f_back`` chain leads down to ``fn``.  None for a handle that is
    unstarted, running (in any thread) or finished.
``get_context(handle, running)`` / ``set_context(handle, running, ctx)``
    The greenlet's ``contextvars.Context`` (None: none yet): the live one
    if ``running`` (it is the one running in this thread), else the one
    kept for it.  Each greenlet runs in its own; a new one starts in the
    one set before its start, or in none.  A finished one keeps its last.

``HANDLE_BASE``
    None, or a class for the layer's greenlet class to derive from, which
    has the slot ``_greenlet__handle`` (else the greenlet class makes it).
    CPython's (C) keeps the handle unseen by the cyclic collector, which
    otherwise read every greenlet's handle object in each collection.

``bridges_off()`` / ``bridges_on()``
    PyPy only (the layer calls them only where its sweep runs, see
    ``_Sweep`` in ``_greenlet.py``): around a kill loop, the JIT compiles no
    bridge out of a failing guard; nested calls (other threads) count.

A handle that is dropped while suspended (its greenlet will never run
again, e.g. its thread has ended) is freed without running.

How continulets work (the part we rely on): an initialised continulet
holds one suspended stack (its ``h``, with that stack's top frame).
``a.switch(v, b)`` (``to=b``) rotates three stacks at once: the running
stack goes into ``a``, what ``a`` held goes into ``b``, and what ``b``
held resumes, its pending ``switch()`` returning ``v``.  ``a.switch(v)``
just exchanges the running stack with what ``a`` holds.  ``permute(a, b)``
swaps what ``a`` and ``b`` hold.  When a continulet's callable returns,
what that continulet holds resumes, getting the return value.

Invariant kept here: a suspended handle holds its own stack, and the
handle running in a thread holds that thread's *spare*, a helper stack
parked in ``_spare()`` (made by ``main_handle()``, so main handles are
initialised continulets and need no special case).  A per-thread record
knows which handle runs, so ``transfer(t)`` to a suspended ``t`` is just
``running.switch(None, t)``: our stack goes into ``running``, the spare
into ``t``, and ``t``'s stack resumes.

An unstarted target gets its stacklet in ``transfer()``, so it starts at
the switcher's depth, as on CPython.  But a greenlet that finishes into an
unstarted one has no depth of its own left to give: starting the next one
there (``continulet.__init__`` creates the stacklet where it is called, and
PyPy's recursion limit measures the C stack) would make each of a chain of
such greenlets start deeper than the last, until RecursionError.  So that
case is left to the spare, which starts it at the spare's own fixed depth:
returning from the finished greenlet's callable resumes what its handle
holds, which is the spare, and hands it the next handle.

Frames: a continulet's hidden bottom frame has as ``f_back`` the top frame
of the stack the continulet holds.  So from inside a running greenlet the
``f_back`` chain goes ``fn`` -> ``_start`` -> ``_spare`` -> the main
stack's frames -> None.  From a suspended greenlet it goes down to
``_start`` and then wraps around to the greenlet's own top frame: when the
main stack runs, every stored stack's chain ends in such a cycle, so this
is unavoidable with continulets (PyPy's bundled greenlet does the same).
Code walking a suspended greenlet's frames must stop at ``fn``.
"""

from _continuation import continulet, permute, error as _ContinuationError
from __pypy__ import get_contextvar_context as _get_ctx
from __pypy__ import set_contextvar_context as _set_ctx
import threading
from sys import getprofile as _getprofile
from sys import setprofile as _setprofile
from sys import _getframe
# _start is hot (every greenlet starts in it), so the JIT would compile it
# together with the first `run` it sees; every greenlet with another `run`
# would then fail a guard there and live under the JIT's blackhole
# interpreter, whose objects reach all of PyPy's prebuilt JIT data: with
# chains of garbage greenlets (each holding the next, each with a _Reaper),
# every major collection re-walked that data once per greenlet -- minutes
# for 10,000.  An opaque call keeps the JIT from specializing on run.
from pypyjit import residual_call as _opaque_call
from pypyjit import set_param as _set_param
import pypyjit as _pypyjit
from sys import getrecursionlimit as _getrecursionlimit
from sys import setrecursionlimit as _setrecursionlimit

__all__ = ["NAME", "main_handle", "new_handle", "set_entry", "transfer",
           "top_frame", "get_context", "set_context", "untraced_methods",
           "call_traced", "stack_saved", "trash_delete_nesting",
           "rearm_finalizer", "HIDE_HELPERS", "hidden", "TELLS_PROFILER",
           "wants_c_call", "as_c_call", "fast_getcurrent", "release_record",
           "c_api", "cold_call", "bridges_off", "bridges_on", "HANDLE_BASE"]

NAME = "continulet"
HANDLE_BASE = None      # greenlet keeps its handle in a slot of its own


class _Handle(continulet):
    # thread: the _Thread it runs in; None until it starts.
    # ctx: its Context while it does not run (None: none yet).
    __slots__ = ("thread", "ctx")


class _Thread(object):
    # current: the handle running in this thread; main: its main handle.
    __slots__ = ("current", "main")


_begin = _finish = None            # set_entry(begin, finish) stores them
_tls = threading.local()           # .thread: this thread's _Thread; .telling
_new = _Handle.__new__
_init = continulet.__init__
_switch = continulet.switch


def set_entry(begin, finish):
    global _begin, _finish
    _begin, _finish = begin, finish


def _spare(main):
    # The spare: parks in a switch.  It is resumed only by a greenlet that
    # finishes into an unstarted one (see _start), receiving that handle;
    # it makes its stacklet here, at a fixed depth, and switches to it,
    # which parks the spare in that handle: where the running handle's
    # spare belongs.
    target = _switch(main)
    while True:
        _init(target, _start)
        target = _switch(target)


def main_handle(record=None):
    t = _Thread()
    h = _new(_Handle)
    h.thread = t
    h.ctx = None
    t.current = t.main = h
    # The original stack runs, so h must hold the spare: start _spare(h),
    # which switches straight back, leaving itself in h.
    _init(h, _spare)
    _switch(h)
    _tls.thread = t
    return h


def new_handle():
    # Uninitialised: its stacklet is made when it starts, in the thread that
    # starts it (a continulet belongs to the thread that initialises it).
    h = _new(_Handle)
    h.thread = None
    h.ctx = None
    return h


def _start(self):
    # Bottom of every greenlet's stack; `self` is its handle.
    t = self.thread
    try:
        run = args = kwargs = None
        try:
            # begin() gets no extra room: its RecursionError is raised in
            # the new greenlet, as from run (see _finish_with_headroom).
            run, args, kwargs = _begin()
            # No star-call for the common switch() and switch(value): each
            # makes the JIT pack an argument list on every start.
            if kwargs:
                result = _opaque_call(run, *args, **kwargs)
            elif not args:
                result = _opaque_call(run)
            elif len(args) == 1:
                result = _opaque_call(run, args[0])
            else:
                result = _opaque_call(run, *args)
            exc = None
        except BaseException as e:
            result, exc = None, e
        run = args = kwargs = None
        nxt = _finish_with_headroom(result, exc)
        result = exc = None
    except BaseException:
        # fn must not raise.  If it does anyway (a bug, an asynchronous
        # KeyboardInterrupt), raise it in the thread's main stack rather
        # than in the spare.
        nxt = t.main
        t.current = nxt
        _set_ctx(nxt.ctx)
        permute(self, nxt)
        raise
    self.ctx = _get_ctx()
    t.current = nxt
    _set_ctx(nxt.ctx)
    if nxt.thread is None:
        # Unstarted: returning resumes what `self` holds, the spare, which
        # receives nxt and starts it.
        nxt.thread = t
        return nxt
    # Suspended: now `self` holds nxt's stack, which returning resumes (its
    # transfer() returns our None), and nxt holds the spare.
    permute(self, nxt)
    return None


# _room() raises RecursionError unless 12 more Python frames fit.  Twelve
# distinct functions, not one recursing: the JIT inlines these (the depth
# check still counts each), where a recursive probe stayed 12 real calls,
# a quarter of a greenlet's start.
def _room1():
    pass


def _room2():
    _room1()


def _room3():
    _room2()


def _room4():
    _room3()


def _room5():
    _room4()


def _room6():
    _room5()


def _room7():
    _room6()


def _room8():
    _room7()


def _room9():
    _room8()


def _room10():
    _room9()


def _room11():
    _room10()


def _room():
    _room11()


def _finish_with_headroom(result, exc):
    # finish() must run even where run met the recursion limit (greenlets
    # starting greenlets without end): if it cannot, it runs again with a
    # little more room, as the C core gives it on CPython.
    try:
        return _finish(result, exc)
    except RecursionError:
        limit = _getrecursionlimit()
        _setrecursionlimit(limit + 100)
        try:
            return _finish(result, exc)
        finally:
            _setrecursionlimit(limit)


def transfer(target):
    t = target.thread
    if t is None:
        # Unstarted: make its stacklet here; it starts at this depth, as a
        # greenlet started from here does on CPython.
        try:
            t = _tls.thread
        except AttributeError:
            return -2                   # no main_handle() in this thread
        # The new stack starts at this depth and must have room for _start
        # and the layer's begin/finish: else RecursionError, here, now.
        try:
            _room()
        except RecursionError:
            return -3
        try:
            _init(target, _start)
        except MemoryError:
            return -1
        target.thread = t
    # The caller has checked that target is this thread's: t is ours.
    if _getprofile() is not None:
        _jit_off_while_profiling()
    origin = t.current
    t.current = target
    origin.ctx = _get_ctx()
    _set_ctx(target.ctx)
    try:
        _switch(origin, None, target)
    except (MemoryError, _ContinuationError, RecursionError) as e:
        # Raised before anything moved (RecursionError: the switch call
        # itself was one level too deep); raised as it is.
        t.current = origin
        _set_ctx(origin.ctx)
        if isinstance(e, RecursionError):
            return -3
        return -1 if isinstance(e, MemoryError) else -2
    # Resumed: whoever transferred to us set t.current and our context.


# A sweep's collection (see _Sweep in _greenlet.py) finds the stacks of a
# garbage chain reachable only from one finalizer; JIT code suspended in
# them is then reachable only from there too.  Resuming such a stack (the
# kill) is fine, but once one of its guards has failed trace_eagerness times
# (200: the 200th kill of a chain), compiling a bridge from it made PyPy
# 7.3.11 abort ("Fatal RPython error: AssertionError" in
# handle_jitexception; measured: it moved to the 50th kill with
# trace_eagerness=50, and went with 0 or 100000; PyPy 8.0.1 aborts the same
# way in issue 10's program, 3 runs of 3).  So no bridge is compiled while
# kills run; the eagerness is PyPy's default again afterwards (the JIT does
# not tell a value set by the program).  Throwing into 10,000 reachable
# greenlets took as long with bridges off as without (24-49 ms each way,
# fresh processes, both PyPys).
# No lock: PyPy runs finalizers between any two bytecodes, so one inside a
# `with lock:` here could kill a greenlet whose GreenletExit handler takes a
# lock that another thread holds while it waits for this one (the stress
# program deadlocked so).  A list's append/pop are atomic; after setting the
# parameter each call checks that it still says what the count does, so the
# last one set wins.
_bridges_off = []
_EAGER_OFF = "trace_eagerness=0"        # 0: a failing guard never traces
_EAGER_ON = "trace_eagerness=%d" % _pypyjit.defaults["trace_eagerness"]


_bridges_set = [False]                  # what was last set: off?


def _set_bridges():
    while True:
        off = bool(_bridges_off)
        if off != _bridges_set[0]:
            _set_param(_EAGER_OFF if off else _EAGER_ON)
            _bridges_set[0] = off
        if off == bool(_bridges_off):
            return


def bridges_off():
    _bridges_off.append(None)
    _set_bridges()


def bridges_on():
    _bridges_off.pop()
    _set_bridges()


def _jit_off_while_profiling():
    # PyPy 7.3.11's JIT crashes (segfault) when it compiles a loop that
    # switches continulets while a sys.setprofile() function is set (PyPy's
    # bundled greenlet crashes the same way).  So the JIT is off from the
    # first switch under such a profiler on; it stays off.
    global _jit_off_while_profiling
    import pypyjit
    pypyjit.set_param("off")
    _jit_off_while_profiling = _nothing


def _nothing():
    pass


def top_frame(handle):
    # _get_frame() is False for an unstarted handle, None for a finished
    # one, else the bottom frame of the stack the handle holds, whose f_back
    # is that stack's top visible frame: the machinery's frames are hidden
    # (see the end of this module), so for a suspended handle it is the
    # frame that called switch().  A running handle holds the spare instead.
    t = handle.thread
    if t is None or t.current is handle:
        return None
    f = handle._get_frame()
    return f.f_back if f else None


def get_context(handle, running):
    return _get_ctx() if running else handle.ctx


def set_context(handle, running, ctx):
    if running:
        _set_ctx(ctx)
    else:
        handle.ctx = ctx


# See the module docstring: a residual call, where PyPy's JIT stops tracing.
cold_call = _opaque_call


def untraced_methods(cls, names, fast_switch=None):
    pass


def release_record(handle):
    pass


def fast_getcurrent(slow, record_class):
    """None: the layer's getcurrent() is what the JIT makes fast here."""
    return None


# The layer asks wants_c_call() first thing in switch() and throw(), and if
# so calls them again through as_c_call(), which reports them to the profile
# function as one C call of the caller (their frames are hidden).
TELLS_PROFILER = True


def wants_c_call():
    if _getprofile() is None:
        return False
    here = _tls.__dict__
    if here.get("telling"):
        here["telling"] = False     # the call as_c_call() is making
        return False
    return True


def as_c_call(method, self, args, kwargs):
    profile = _getprofile()
    if not callable(profile):
        # cProfile's profiler is not a profile function; it is not told.
        return _call_told(method, self, args, kwargs)
    caller = _getframe(0)       # the first frame that is not hidden
    bound = method.__get__(self)
    _tell(profile, caller, "c_call", bound)
    try:
        result = _call_told(method, self, args, kwargs)
    except BaseException:
        _tell(_getprofile(), caller, "c_exception", bound)
        raise
    # The profile function may have changed while we were away.
    _tell(_getprofile(), caller, "c_return", bound)
    return result


def _call_told(method, self, args, kwargs):
    _tls.__dict__["telling"] = True
    return method(self, *args, **kwargs)


def _tell(profile, frame, event, arg):
    # PyPy calls a profile function with profiling off; so do we.
    if profile is None or not callable(profile):
        return
    _setprofile(None)
    try:
        profile(frame, event, arg)
    finally:
        _setprofile(profile)


def call_traced(fn, *args):
    return fn(*args)


def stack_saved(handle):
    return None


def trash_delete_nesting():
    return None


def rearm_finalizer(obj):
    raise NotImplementedError("only CPython runs __del__ once per object")


# Every function here, and every function of the layer (HIDE_HELPERS), is
# hidden: PyPy would show their frames in tracebacks and f_back chains.
HIDE_HELPERS = True


def hidden(fn, as_method=False):
    """fn with its frame hidden from tracers, profilers, tracebacks and
    f_back walks, as C code would be (a hidden function binds as any)."""
    return _hidden(fn)


from types import FunctionType as _FunctionType  # noqa: E402
from __pypy__ import hidden_applevel as _hidden  # noqa: E402
for _name, _value in list(globals().items()):
    if isinstance(_value, _FunctionType) and _value.__module__ == __name__:
        globals()[_name] = _hidden(_value)
del _name, _value


def c_api(cls, error, exit, getcurrent, state):
    """greenlet's C API (greenlet.h) is served on CPython only: extensions
    here go through cpyext, for which this backend builds nothing."""
    return None
