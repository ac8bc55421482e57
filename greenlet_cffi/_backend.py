"""Picks the switching backend for this interpreter.

Both backends offer the same names (their __all__; the contract is in
_backend_pypy.py's docstring): NAME, main_handle, new_handle, set_entry,
transfer, top_frame, get_context, set_context and the rest listed there.
"""
import sys

if sys.implementation.name == "pypy":
    from ._backend_pypy import *  # noqa: F401,F403
else:
    from ._backend_cpython import *  # noqa: F401,F403
