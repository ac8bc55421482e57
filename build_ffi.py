"""Builds greenlet_cffi._core, the CPython switching core, with cffi's
out-of-line API mode.  setup.py hooks it in through ``cffi_modules``, so
``pip install .`` compiles it; it is not built on PyPy (see README)."""
import os
import platform
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

if sys.implementation.name != "cpython":
    raise SystemExit("build_ffi.py builds the CPython core only; PyPy needs no C build")
if platform.machine().lower() not in ("x86_64", "amd64", "aarch64", "arm64") \
        or sys.maxsize < 2**32:
    raise SystemExit(
        "greenlet_cffi has no stack switch for %s (supported: x86-64, "
        "aarch64). Add csrc/platform/switch_<arch>_<abi>.h and select it in "
        "csrc/platform/select.h." % platform.machine())

# cffi's wrappers release the GIL around every call into C.  Our calls must
# keep it: a switch swaps the thread state in place and runs Python on the
# new stack slice, and giving the GIL away on every switch would hand it to
# any busy thread (greenlet never releases it either).  The preamble is
# pasted before cffi's wrappers, so redefining the two macros there applies
# to this module's wrappers only.
PREAMBLE = """
#undef Py_BEGIN_ALLOW_THREADS
#undef Py_END_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#define Py_END_ALLOW_THREADS }
#include "gcffi.h"
"""

ffibuilder = FFI()
with open(os.path.join(HERE, "csrc", "gcffi.h")) as f:
    ffibuilder.cdef(f.read())
ffibuilder.set_source(
    "greenlet_cffi._core",
    PREAMBLE,
    sources=["csrc/core.c", "csrc/stack.c", "csrc/capi.c"],
    include_dirs=["csrc"],
    depends=[os.path.join("csrc", n) for n in ("gcffi.h", "pystate.h", "stack.h")]
    + [os.path.join("csrc", "platform", n) for n in os.listdir(os.path.join(HERE, "csrc", "platform"))],
    # GCFFI_CFLAGS / GCFFI_LDFLAGS: extra flags for checking builds
    # (scripts/sanitize.sh: sanitizers; tests/test_fault_injection.py:
    # -DGCFFI_FAULT_INJECTION).
    extra_compile_args=["-O2", "-fno-omit-frame-pointer"]
    + os.environ.get("GCFFI_CFLAGS", "").split(),
    extra_link_args=os.environ.get("GCFFI_LDFLAGS", "").split(),
    # The core reads and writes the thread state's fields (csrc/pystate.h),
    # so the extension is built for one CPython version, never as abi3.
    py_limited_api=False,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
