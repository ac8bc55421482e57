"""CPython backend: the C core in csrc/, compiled by build_ffi.py.

Python objects are handed to the core as id() (their address on CPython)
while we hold them; the core appends results to a list passed the same way.
"""
import weakref

from ._core import ffi, lib

__all__ = ["NAME", "main_handle", "new_handle", "set_entry", "transfer",
           "top_frame", "get_context", "set_context", "untraced_methods",
           "call_traced", "stack_saved", "trash_delete_nesting",
           "rearm_finalizer", "HIDE_HELPERS", "hidden", "TELLS_PROFILER",
           "fast_getcurrent", "release_record", "c_api", "cold_call",
           "HANDLE_BASE"]

NAME = "cffi"
cold_call = None    # nothing to keep out of a JIT's traces here
PLATFORM = ffi.string(lib.gcffi_platform()).decode()

_entry = None


def set_entry(begin, finish):
    # The core calls begin(), then run, then finish(result, exc) at the
    # bottom of every new greenlet (csrc/core.c); it wants the address of
    # the core to go to next.
    global _entry

    def finish_to_core(result, exc):
        return int(ffi.cast("uintptr_t", finish(result, exc).coro))
    _entry = (begin, finish_to_core)    # the core holds them too
    lib.gcffi_set_entry(id(begin), id(finish_to_core))


# Handles: a greenlet's core is freed when its handle goes, and the handle
# must go only when the greenlet object really does.  ffi.gc() would run its
# destructor as a finalizer, which the cyclic GC calls even on an object that
# another finalizer in the same garbage resurrects -- as greenlet's own does,
# keeping a suspended greenlet of another thread to be killed there later --
# and that greenlet would then run on freed memory.  So the handle is a plain
# owning cdata, which the cyclic GC does not track, and a weak reference to
# it frees the core once the handle is deallocated.
_cores = {}     # weakref to a handle -> its core


# switch() and throw() are C methods here: the interpreter tells profilers.
TELLS_PROFILER = False

# The machinery's helpers run inside its entries, with tracing suspended:
# only the entries need hiding.
HIDE_HELPERS = False
_names = []     # the names and docs the C functions point into, kept for good


def hidden(fn, as_method=False):
    """fn as a C function (as_method: a C method) that runs it with tracing
    suspended: tracers and profilers see C code, as with greenlet."""
    name, doc = fn.__name__, fn.__doc__
    _names.append((name, doc))
    out = []
    if lib.gcffi_untraced(id(fn), id(name), id(doc) if doc else 0, bool(as_method), id(out)) < 0:
        raise RuntimeError("greenlet_cffi: cannot make the C function %s" % name)
    return out[0]


def release_record(handle):
    """The thread of main handle has ended: the core lets go of the record
    main_handle() was given."""
    lib.gcffi_release_record(handle.coro)


def fast_getcurrent(slow, record_class):
    """getcurrent() in C, reading the thread's record (record_class's slots
    current and doomed) and calling slow() for anything else; None if the
    core cannot read those slots."""
    out = []
    if lib.gcffi_make_getcurrent(id(slow), id(vars(record_class)["current"]),
                                 id(vars(record_class)["doomed"]), id(out)) < 0:
        return None
    return out[0]


def _free_core(ref):
    lib.gcffi_free(_cores.pop(ref))


# Called by the interpreter when a handle goes: an entry into the machinery.
_free_core_untraced = hidden(_free_core)


_untrack = lib.gcffi_untrack


def _own(core):
    if core == ffi.NULL:
        raise MemoryError("greenlet_cffi: cannot allocate a greenlet")
    handle = ffi.new("gcffi_handle *", [core])
    ref = weakref.ref(handle, _free_core_untraced)
    _untrack(id(ref))       # see gcffi_untrack
    _cores[ref] = core
    # Adding a weak reference made the dict one the collector walks, two
    # entries a greenlet in each pass; nothing in it is in a cycle
    # (gc.collect() with 100,000 suspended: 22.6-26.7 -> 20.0-20.6 ms).
    _untrack(id(_cores))
    return handle


def main_handle(record=None):
    # record: the layer's object for this thread, handed back to its fast
    # switch (untraced_methods); it must outlive the handle.
    return _own(lib.gcffi_new_main(0 if record is None else id(record)))


def new_handle():
    return _own(lib.gcffi_new())


# transfer(target): from this thread's running greenlet to target; 0 once
# the caller is resumed, nonzero if the switch could not be made.  The
# core's builtin function, which reads the handle's pointer itself (cheaper
# than cffi's wrapper); cffi's wrapper where the core cannot (csrc/core.c).
_sample = new_handle()
_out = []
if lib.gcffi_make_transfer(id(_sample), int(ffi.cast("uintptr_t", _sample)), id(_out)) == 0:
    transfer = _out[0]
else:
    transfer = lib.gcffi_transfer
# The core recognises a suspended transfer(handle) call on a value stack
# (csrc/core.c: transfer_call_top), to release it when a thread has ended.
lib.gcffi_set_transfer(id(transfer), id(_sample))
del _sample, _out


def top_frame(handle):
    out = []
    lib.gcffi_top_frame(handle, id(out))
    return out[0]


def get_context(handle, running):
    out = []
    lib.gcffi_get_context(handle, running, id(out))
    return out[0]


def set_context(handle, running, ctx):
    lib.gcffi_set_context(handle, running, 0 if ctx is None else id(ctx))


def untraced_methods(cls, names, fast_switch=None):
    """Replace cls's Python methods switch and throw by C methods that call
    them with tracing suspended: tracers and profilers see a switch as one
    C call, as with greenlet (see csrc/core.c).  fast_switch(record, self,
    value, given), if given, serves switch() and switch(value) without an
    argument tuple (value is () when not given): record is what
    main_handle() got in this thread (None if none yet)."""
    if fast_switch is not None and lib.gcffi_set_fast_switch(id(fast_switch)) < 0:
        raise RuntimeError("greenlet_cffi: cannot set the fast switch")
    for which, name in enumerate(("switch", "throw")):
        if name in names:
            out = []
            if lib.gcffi_make_method(id(cls), which, id(vars(cls)[name]), id(out)) < 0:
                raise RuntimeError("greenlet_cffi: cannot make the method %s" % name)
            setattr(cls, name, out[0])


# The greenlet class's base, which holds its handle where the cyclic
# collector does not read it (csrc/core.c: handle_base).
_out = []
if lib.gcffi_make_handle_base(id(_out)) < 0:
    raise RuntimeError("greenlet_cffi: cannot make the greenlet base type")
HANDLE_BASE, = _out
del _out


# call_traced(fn, *args): fn(*args) from inside the switch machinery, traced
# like user code; a builtin of the core (csrc/core.c: traced_call).
_out = []
if lib.gcffi_make_call_traced(id(_out)) < 0:
    raise RuntimeError("greenlet_cffi: cannot make call_traced")
call_traced, = _out
del _out


def stack_saved(handle):
    return lib.gcffi_stack_saved(handle)


def trash_delete_nesting():
    n = lib.gcffi_trash_delete_nesting()
    return None if n < 0 else n


def rearm_finalizer(obj):
    """Let obj's __del__ run again (CPython runs it once per object)."""
    lib.gcffi_rearm_finalizer(id(obj))


def c_api(cls, error, exit, getcurrent, state):
    """The capsule "greenlet._C_API" that greenlet.h's PyGreenlet_Import()
    reads, served by cls's methods (csrc/capi.c)."""
    out = []
    if lib.gcffi_capi_capsule(id(cls), id(error), id(exit), id(vars(cls)["switch"]),
                              id(vars(cls)["throw"]), id(getcurrent), id(state),
                              id(out)) < 0:
        raise RuntimeError("greenlet_cffi: cannot make greenlet's C API capsule")
    return out[0]
