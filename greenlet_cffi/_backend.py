"""Picks the switching backend for this interpreter.

Both backends offer the same few names (see _backend_pypy.py for the
contract): NAME, main_handle, new_handle, set_entry, transfer, top_frame,
get_context, set_context.
"""
import sys

if sys.implementation.name == "pypy":
    from ._backend_pypy import *  # noqa: F401,F403
else:
    from ._backend_cpython import *  # noqa: F401,F403
