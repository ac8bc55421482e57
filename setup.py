import os
import sys
import sysconfig

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# Run at interpreter start by `site` when installed beside the package: it
# registers greenlet_cffi as `greenlet` if GREENLET_CFFI_AS_GREENLET is set,
# and imports nothing else when it is not.
PTH = "greenlet_cffi.pth"


class build_py_with_pth(build_py):
    """Puts the .pth at the top of the build, so every wheel (and so every
    install) carries it in site-packages itself, where `site` reads it."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, PTH), os.path.join(self.build_lib, PTH),
                       preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, PTH)]


kwargs = {"cmdclass": {"build_py": build_py_with_pth}}
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
else:
    class PyPyDistribution(Distribution):
        """Nothing is compiled on PyPy, but the wheel is for PyPy only: a
        py3-none-any one would also install on CPython, without its core."""

        def has_ext_modules(self):
            return True

    kwargs["distclass"] = PyPyDistribution

setup(**kwargs)
