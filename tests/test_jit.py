"""CPython's JIT (3.14+, PYTHON_JIT=1) with greenlets.

A greenlet that switches away from inside a JIT-compiled trace returns into
that trace's machine code when it is resumed.  CPython frees an executor
only when no thread is running it, and it sees only the running greenlet's:
the core keeps a suspended greenlet's executor alive (csrc/core.c).  The
backend test that switches 20,000 greenlets in shuffled order from small hot
functions invalidated and freed such an executor on 3.15 and crashed.
"""
import subprocess
import sys

import pytest

import test_backend_interface


def _jit_available():
    jit = getattr(sys, "_jit", None)
    return jit is not None and jit.is_available()


pytestmark = pytest.mark.skipif(
    not _jit_available(), reason="this interpreter has no JIT (sys._jit)")


def test_jit_is_on_in_the_child(monkeypatch):
    monkeypatch.setenv("PYTHON_JIT", "1")
    out = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys._jit.is_enabled())"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert out.strip() == "True"


def test_switching_out_of_jit_code_many_greenlets(monkeypatch):
    monkeypatch.setenv("PYTHON_JIT", "1")
    test_backend_interface.test_20000_suspended_handles_switched_in_shuffled_order()


def test_switching_inside_hot_loops(check_script, monkeypatch):
    monkeypatch.setenv("PYTHON_JIT", "1")
    out = check_script(r"""
import sys
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()
def worker():
    n, seen = 0, False
    while True:
        n += 1
        seen = seen or sys._jit.is_active()
        if main.switch(n) is None:
            return seen
g = greenlet(worker)
total, seen = 0, False
v = g.switch()
for i in range(200000):
    seen = seen or sys._jit.is_active()
    total += v
    v = g.switch(i)
print(seen, g.switch(None), total)
""", timeout=300)
    # Both sides really ran JIT code, and every value went through.
    assert out == ["True True 20000100000"], out
