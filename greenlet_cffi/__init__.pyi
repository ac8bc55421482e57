from typing import Final, Optional

from ._greenlet import (GreenletExit as GreenletExit, error as error,
                        getcurrent as getcurrent, gettrace as gettrace,
                        greenlet as greenlet, settrace as settrace)

__version__: Final[str]
BACKEND: Final[str]
#: greenlet's C API capsule "greenlet._C_API" (CPython), else None.
_C_API: Final[Optional[object]]
GREENLET_USE_GC: Final[bool]
GREENLET_USE_TRACING: Final[bool]
GREENLET_USE_CONTEXT_VARS: Final[bool]
GREENLET_USE_STANDARD_THREADING: Final[bool]

__all__ = ["greenlet", "getcurrent", "GreenletExit", "error", "settrace",
           "gettrace", "BACKEND", "__version__"]
