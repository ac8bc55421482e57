"""PyPy's JIT keeps inlining switch() after loops that start and kill greenlets.

When a loop's trace grows past the JIT's limit, PyPy gives up on that trace
and stops inlining the longest function in it, everywhere in the process,
for good.  A loop that spawns a greenlet, starts it and throws into it was
such a loop: the JIT stopped inlining switch(), and every later switch in
the process took ~5x as long (issue 10's one-process sequence).  The long
switch path is now a residual call (the backend's cold_call), which keeps
such loops short.  PYPYLOG's jit-disableinlining section names every
function the JIT stops inlining; none of ours may be there.
"""
import os
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "pypy", reason="PyPy's JIT only")


def test_spawn_switch_throw_loops_keep_switch_inlined(check_script, monkeypatch, tmp_path):
    log = tmp_path / "jit.log"
    monkeypatch.setenv("PYPYLOG", "jit-disableinlining:%s" % log)
    out = check_script(r"""
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()

def parks():
    main.switch()

def echo(x):
    return main.switch(x)

def churn(n):                   # bench.py's churn loop
    for _ in range(n):
        g = greenlet(parks)
        g.switch()
        g.throw()

def start_value_kill(n):        # more of the long ways in one loop body
    for i in range(n):
        g = greenlet(echo)
        g.switch(i)
        assert g.switch(x=i) == {"x": i} and g.dead

for _ in range(3):
    churn(3000)
    start_value_kill(3000)
print("done", greenlet_cffi.__file__)
""", timeout=300)
    assert out[-1].startswith("done")
    text = log.read_text() if log.exists() else ""
    package_dir = os.path.dirname(out[-1].split(" ", 1)[1])
    disabled = [line for line in text.splitlines()
                if line.startswith("disabled inlining") and package_dir in line]
    assert not disabled, "\n".join(disabled)
