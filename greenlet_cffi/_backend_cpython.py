"""CPython backend: the C core in csrc/, compiled by build_ffi.py.

Python objects are handed to the core as id() (their address on CPython)
while we hold them; the core appends results to a list passed the same way.
"""
from ._core import ffi, lib

__all__ = ["NAME", "main_handle", "new_handle", "set_entry", "transfer",
           "top_frame", "get_context", "set_context"]

NAME = "cffi"
PLATFORM = ffi.string(lib.gcffi_platform()).decode()

_entry = None


def set_entry(fn):
    global _entry
    _entry = fn


@ffi.def_extern()
def gcffi_entry():
    # Runs at the bottom of every new greenlet; see csrc/core.c.
    return _entry()


def _own(ptr):
    if ptr == ffi.NULL:
        raise MemoryError("greenlet_cffi: cannot allocate a greenlet")
    return ffi.gc(ptr, lib.gcffi_free)


def main_handle():
    return _own(lib.gcffi_new_main())


def new_handle():
    return _own(lib.gcffi_new())


# transfer(target): from this thread's running greenlet to target; 0 once
# the caller is resumed, nonzero if the switch could not be made.
transfer = lib.gcffi_transfer


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
