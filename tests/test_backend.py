"""Which switching core is active, and that it is the right one."""
import platform
import sys

import greenlet_cffi


def test_backend_matches_interpreter():
    print("greenlet_cffi backend:", greenlet_cffi.BACKEND, "on",
          sys.implementation.name, platform.python_version())
    expected = "continulet" if sys.implementation.name == "pypy" else "cffi"
    assert greenlet_cffi.BACKEND == expected


def test_cpython_core_is_the_compiled_extension():
    if sys.implementation.name != "cpython":
        import pytest
        pytest.skip("the cffi core is built and used on CPython only")
    from greenlet_cffi import _backend_cpython
    # The switch header csrc/platform/select.h picks for this machine.
    expected = {"x86_64": "x86_64-sysv", "AMD64": "x86_64-sysv",
                "aarch64": "aarch64-aapcs", "arm64": "aarch64-aapcs"}[platform.machine()]
    assert _backend_cpython.PLATFORM == expected
    assert _backend_cpython.lib.__name__ == "greenlet_cffi._core.lib"
