"""greenlet_cffi: the greenlet API on CPython (a C core built with cffi) and
on PyPy (PyPy's own stacklet core through _continuation)."""
from ._greenlet import (GreenletExit, error, getcurrent, gettrace, greenlet,
                        settrace)
# greenlet's C API capsule for extensions built with greenlet.h (CPython;
# None on PyPy): greenlet_cffi.compat.register() serves it as greenlet._C_API.
from ._greenlet import _C_API
from . import _backend

__version__ = "0.1.0"
#: Which switching core is in use: "cffi" (CPython) or "continulet" (PyPy).
BACKEND = _backend.NAME

GREENLET_USE_GC = True
GREENLET_USE_TRACING = True
GREENLET_USE_CONTEXT_VARS = True
GREENLET_USE_STANDARD_THREADING = True

__all__ = ["greenlet", "getcurrent", "GreenletExit", "error", "settrace",
           "gettrace", "BACKEND", "__version__"]
