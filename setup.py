import sys

from setuptools import setup

kwargs = {}
if sys.implementation.name == "cpython":
    if not (3, 9) <= sys.version_info[:2] <= (3, 13):
        raise SystemExit(
            "greenlet_cffi supports CPython 3.9 to 3.13 (and PyPy 3.9); "
            "this is CPython %d.%d" % sys.version_info[:2])
    # The C core is compiled on CPython only: PyPy switches with its own
    # stacklet core (greenlet_cffi/_backend_pypy.py).
    kwargs["cffi_modules"] = ["build_ffi.py:ffibuilder"]

setup(**kwargs)
