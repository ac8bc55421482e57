import sys
import sysconfig

from setuptools import setup

kwargs = {}
if sys.implementation.name == "cpython":
    if not (3, 9) <= sys.version_info[:2] <= (3, 15):
        raise SystemExit(
            "greenlet_cffi supports CPython 3.9 to 3.15 (and PyPy 3.9 and 3.11); "
            "this is CPython %d.%d" % sys.version_info[:2])
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        # See README, "Supported interpreters": the core swaps the thread
        # state assuming the GIL, and the free-threaded ABI differs.
        raise SystemExit(
            "greenlet_cffi does not support free-threaded CPython; this is "
            "a free-threaded build of CPython %d.%d (use its default build)"
            % sys.version_info[:2])
    # The C core is compiled on CPython only: PyPy switches with its own
    # stacklet core (greenlet_cffi/_backend_pypy.py).
    kwargs["cffi_modules"] = ["build_ffi.py:ffibuilder"]

setup(**kwargs)
