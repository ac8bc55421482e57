"""PyPy's JIT keeps inlining switch() after loops that start and kill greenlets.

When a loop's trace grows past the JIT's limit, PyPy gives up on that trace
and stops inlining the longest function in it, everywhere in the process,
for good.  A loop that spawns a greenlet, starts it and throws into it was
such a loop: the JIT stopped inlining switch(), and every later switch in
the process took ~5x as long (issue 10's one-process sequence).  The long
switch path is now a residual call (the backend's cold_call), which keeps
such loops short.  PYPYLOG's jit-disableinlining section names every
function the JIT stops inlining; none of ours may be there.  And the
first kills in a process, or a late import of greenlet_cffi.tracing, must
not make the JIT compile the switch loops again (the last test).
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


def test_first_kill_recompiles_no_switch_loop(check_script):
    # A warm ping-pong loop must run on the code already compiled after the
    # process's first kills.  It did not: the first kill made the fast
    # path's ts.doomed change PyPy's list strategy (a guard every compiled
    # switch failed: new bridges), and the first sweep rebound a module
    # global for the first time, which invalidated every compiled loop that
    # read any global of the layer (6 entry bridges and loops on PyPy
    # 7.3.11, 5 on PyPy 8, recompiled for the loop below); so did a first
    # import of greenlet_cffi.tracing, which sets the layer's _hooks (6).
    out = check_script(r"""
import gc, pypyjit
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()

def park(n):
    sw = main.switch
    for _ in range(n):
        sw()

def drive(p, n):
    sw = p.switch
    for _ in range(n):
        sw()

def pingpong(n=20000):
    p = greenlet(park)
    p.switch(n + 1)
    drive(p, n)
    p.switch()
    assert p.dead

def chain(n):
    def link(nxt):
        v = main.switch()
        nxt.switch(v + 1)
    start = main
    for _ in range(n):
        g = greenlet(link); g.switch(start); start = g
    start.switch(0)

for _ in range(5):
    pingpong()
compiled = []
pypyjit.set_compile_hook(lambda info: compiled.append((info.type, str(info.greenkey)[:70])))
pingpong()
print("warm", len(compiled))
chain(50)           # dropped: a collection kills its head and starts a sweep
for _ in range(3):
    gc.collect()
del compiled[:]
pingpong()
print("after the first kills", len(compiled), compiled)
import greenlet_cffi.tracing    # sets a global of the layer (its hooks)
del compiled[:]
pingpong()
print("after importing tracing", len(compiled), compiled)
""", timeout=300)
    assert out[0] == "warm 0", out
    assert out[1] == "after the first kills 0 []", out
    assert out[2] == "after importing tracing 0 []", out
