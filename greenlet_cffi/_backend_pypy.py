"""PyPy backend: greenlet control transfer on PyPy's own stacklets.

On PyPy a foreign C stack switch would corrupt the interpreter's shadow
stack and frame chain, so we use ``_continuation.continulet``, which
switches both.  A handle is a continulet; the Python layer
(``_greenlet.py``) keeps all greenlet semantics and only asks this module
to move control between handles.

How continulets work (the part we rely on): every initialised continulet
holds one suspended stack (its ``h``, plus that stack's top frame).
``a.switch(to=b)`` rotates three stacks at once: the running stack goes
into ``a``, what ``a`` held goes into ``b``, and what ``b`` held resumes.
``permute(a, b)`` swaps what ``a`` and ``b`` hold.  When a continulet's
callable returns, control resumes whatever that continulet holds.

Invariant kept here: a suspended handle holds its own stack, and the one
running handle of a thread holds a *spare*: a never-started stacklet,
created once per thread by ``main_handle()`` (so the main handle is an
initialised continulet like the others, and needs no special case).
Then ``transfer(o, t)`` is exactly ``o.switch(to=t)``: the running stack
goes into ``o``, the spare moves from ``o`` to ``t``, and ``t``'s own
stack resumes.  The spare is never resumed, because nothing ever switches
to the running handle.
"""

from _continuation import continulet, permute
import threading

NAME = "continulet"

_entry = None                      # set_entry(fn) stores fn here
_tls = threading.local()           # .main: this thread's main handle
_init = continulet.__init__
_is_pending = continulet.is_pending
_switch = continulet.switch


def _spare(c):
    # Body of the per-thread spare stacklet; by the invariant it never runs.
    raise SystemError("greenlet_cffi: the spare continulet was resumed")


def main_handle():
    # The thread's original stack is running, so its handle holds the spare.
    h = continulet(_spare)
    _tls.main = h
    return h


def new_handle():
    # Left uninitialised: the stacklet is made only when the greenlet
    # starts, in the thread that starts it (continulets are bound to the
    # thread that initialises them), and unstarted greenlets cost nothing.
    return continulet.__new__(continulet)


def set_entry(fn):
    global _entry
    _entry = fn


def _start(self):
    # Bottom of every greenlet's stack.  Run the Python layer's entry,
    # then hand the finished stack's slot to `nxt`: after the permute,
    # `self` holds nxt's stack (so returning resumes, or starts, nxt) and
    # `nxt` holds the spare, as the running handle must.
    try:
        nxt = _entry()
    except BaseException:
        # fn must not raise; if it does anyway (a bug, or an asynchronous
        # KeyboardInterrupt), resume the thread's main stack with the
        # error rather than resume the spare.
        permute(self, _tls.main)
        raise
    if not _is_pending(nxt):
        _init(nxt, _start)        # unstarted: returning will start it
    permute(self, nxt)
    # Returning None: the resumed transfer() ignores it, and a continulet
    # that is just starting requires None.


def transfer(origin, target):
    # An unstarted target is the only valid target that is not pending
    # (suspended ones hold their stack, main handles included).
    if not _is_pending(target):
        _init(target, _start)
    _switch(origin, None, target)


def top_frame(handle):
    # _get_frame() is the continulet's hidden bottom frame, whose f_back
    # is the top frame of the stack the continulet holds: for a suspended
    # handle that is transfer()'s frame; for the running handle it is the
    # spare's, i.e. None.
    # Unstarted continulets give False, finished ones None.
    f = handle._get_frame()
    if f:
        f = f.f_back
        if f is not None and f.f_code is _TRANSFER_CODE:
            return f.f_back
    return None


_TRANSFER_CODE = transfer.__code__


def release(handle):
    # Nothing to do: the continulet is the only thing we hold, and when
    # the Python layer drops it the GC frees its stacklet without running
    # it (also from another thread after its own thread has ended).
    pass
