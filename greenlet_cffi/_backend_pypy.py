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
running handle of a thread holds that thread's *spare*: a helper stack,
made by ``main_handle()`` and parked in ``_spare()``.  (So the main handle
is an initialised continulet like the others and needs no special case.)
Then ``transfer(o, t)`` to a suspended ``t`` is exactly ``o.switch(to=t)``:
the running stack goes into ``o``, the spare moves from ``o`` to ``t``,
and ``t``'s own stack resumes.

Starting a greenlet is delegated to the spare, which creates the new
stacklet at its own fixed, shallow depth: continulet.__init__ creates the
stacklet where it is called, and PyPy's recursion limit measures the C
stack, so creating it in the caller would make every greenlet started by
(or finishing into) a greenlet start deeper than that one, and a long
enough chain of them would raise RecursionError.  Resuming the spare is
simply switching to the running handle's slot (``o.switch(t)``), or
returning from a finished greenlet's callable, which resumes whatever its
continulet holds.

Frames: a continulet's hidden bottom frame has as ``f_back`` the top frame
of the stack the continulet holds.  So from inside a running greenlet the
``f_back`` chain goes ``fn`` -> ``_start`` -> ``_spare`` -> the main
stack's frames -> None.  For a suspended greenlet it wraps around to the
greenlet's own top frame (unavoidable with continulets, and the same with
PyPy's bundled greenlet): callers walking it must stop at ``fn``.
"""

from _continuation import continulet, permute
import threading

NAME = "continulet"

_entry = None                      # set_entry(fn) stores fn here
_tls = threading.local()           # .main: this thread's main handle
_init = continulet.__init__
_is_pending = continulet.is_pending
_switch = continulet.switch


def _spare(main):
    # The spare: parks in a switch; every time it is resumed it receives
    # an unstarted handle, makes its stacklet here (at a fixed depth) and
    # switches to it, which leaves the spare parked in the new greenlet's
    # slot, exactly where the running handle's spare must be.
    target = _switch(main)
    while True:
        _init(target, _start)
        target = _switch(target)


def main_handle():
    # The thread's original stack is running, so its handle must hold the
    # spare: start _spare(h), which switches straight back, leaving itself
    # in h.
    h = continulet(_spare)
    _switch(h)
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
    # Bottom of every greenlet's stack (`self` is its handle).
    try:
        nxt = _entry()
    except BaseException:
        # fn must not raise; if it does anyway (a bug, or an asynchronous
        # KeyboardInterrupt), resume the thread's main stack with the
        # error rather than the spare.
        permute(self, _tls.main)
        raise
    if _is_pending(nxt):
        # Suspended: swap slots, so `self` holds nxt's stack (returning
        # resumes it; its transfer() gets our None) and nxt holds the spare.
        permute(self, nxt)
        return None
    # Unstarted: returning resumes what `self` holds, the spare, which
    # receives nxt and starts it.
    return nxt


def transfer(origin, target):
    if _is_pending(target):
        # Suspended (main handles included): the three-way switch.
        _switch(origin, None, target)
    else:
        # Unstarted: park our stack in origin, resuming the spare it held,
        # and let the spare start target.
        _switch(origin, target)


def top_frame(handle):
    # _get_frame() is False for an unstarted handle, None for a finished
    # one, else the hidden bottom frame, whose f_back is the top frame of
    # the stack the handle holds: transfer()'s frame if it is suspended,
    # _spare()'s if it is running (in any thread).
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
