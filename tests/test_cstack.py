"""CPython's C-stack overflow check in greenlets.

From 3.12 CPython stops runaway C recursion (here: repr() of a deeply
nested list) with RecursionError whatever sys.setrecursionlimit() says:
3.12 and 3.13 count a C recursion budget in the thread state (saved per
greenlet), 3.14+ compare the stack pointer with the thread's stack limits
(not saved: every greenlet runs on the thread's own stack).  Either way a
greenlet -- started deep in the C stack, or resumed after its stack slice
was copied out and back -- must get RecursionError, never a crash and
never an error too early.
"""
import platform
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.python_implementation() != "CPython" or sys.version_info < (3, 12),
    reason="before 3.12 (and on PyPy) C recursion is bounded by the Python "
           "recursion limit only; a huge limit crashes without greenlets too")

SCRIPT = r"""
import sys
from greenlet_cffi import greenlet, getcurrent

sys.setrecursionlimit(10 ** 6)      # the C-stack check must be what stops it
deep = []
for _ in range(10 ** 6):
    deep = [deep]
shallow = []
for _ in range(200):
    shallow = [shallow]

def attempt():
    # A modest nesting must still work (the check does not fire too early).
    assert repr(shallow).count("[") == 201
    try:
        repr(deep)
    except RecursionError:
        return "RecursionError"
    return "no error"

main = getcurrent()

def worker(tag):
    print(tag, attempt())
    other = main.switch()           # suspended: its slice may be copied out
    print(tag, "resumed", attempt())
    if other is not None:
        other.switch(None)          # into the other one's restored slice
    print(tag, "again", attempt())

print("main", attempt())
a = greenlet(worker)
a.switch("a")

def down(n):
    # Each level goes through C (map), so this is deep in the C stack too.
    if n == 0:
        b = greenlet(worker)
        b.switch("b")
        return b
    return list(map(down, [n - 1]))[0]

b = down(300)
a.switch(b)         # a checks, resumes b, which checks and finishes into main
a.switch()          # a checks once more and finishes
print("main", attempt())
print("OK")
"""


def test_c_recursion_is_stopped_in_every_greenlet(check_script):
    out = check_script(SCRIPT, timeout=120)
    assert out == [
        "main RecursionError",
        "a RecursionError",
        "b RecursionError",
        "a resumed RecursionError",
        "b resumed RecursionError",
        "b again RecursionError",
        "a again RecursionError",
        "main RecursionError",
        "OK",
    ], out
