"""What issue 10's gc.collect() costs on PyPy before any kill.

To raise GreenletExit in a garbage chain of suspended greenlets, something
with __del__ has to keep the chain alive through the collection that finds
it, so that collection walks the chain.  This runs issue 10's program with
nothing killed and measures its timed gc.collect() with the chain simply
dropped ("plain") and with its links also held by one object with __del__
("hold"), as any design that kills them has to; and, for ours, with a
__del__ that does nothing on each of the timed chain's reapers
("finalizers"), what a finalizer per suspended greenlet costs by itself.

    pypy3 bench/hold_floor.py ours plain|hold|finalizers [--links N]  # no kills
    pypy3 bench/hold_floor.py bundled plain|hold [--links N]  # PyPy's greenlet

"ours" turns the sweep off and gives suspended greenlets a reaper without
__del__, so greenlet_cffi kills nothing here.  PyPy only.
"""
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finalizer_kills import chain as _chain  # noqa: E402  (issue 10's chain)

if sys.implementation.name != "pypy":
    sys.exit("hold_floor.py: PyPy only (it measures PyPy's finalizer ordering)")
# No argparse: importing it moved "ours hold" from 35-45 to 80-86 ms on
# PyPy 7.3.11 (where the major collections fall), a measure of how much
# these timings depend on the heap around them.
args = sys.argv[1:]
LINKS = 10000
if "--links" in args:
    i = args.index("--links")
    LINKS = int(args[i + 1])
    del args[i:i + 2]
if len(args) != 2 or args[0] not in ("ours", "bundled") or args[1] not in ("plain", "hold", "finalizers"):
    sys.exit(__doc__)
impl, mode = args
if mode == "finalizers" and impl != "ours":
    sys.exit(__doc__)
if impl == "ours":
    os.environ["GREENLET_CFFI_PYPY_SWEEP"] = "0"
    import greenlet_cffi as m
    from greenlet_cffi import _greenlet

    class _NoKill(object):
        __slots__ = ("greenlet", "key")

        def __init__(self, g):
            self.greenlet = g

    _greenlet._Reaper = _NoKill

    class _NoKillFinalizer(_NoKill):
        __slots__ = ()

        def __del__(self):
            pass
    kills = [0]     # greenlet_cffi's kills of garbage greenlets: none here

    def _counting(f):
        def counted(*args):
            kills[0] += 1
            return f(*args)
        return counted
    _greenlet._collect = _counting(_greenlet._collect)
    _greenlet._kill = _counting(_greenlet._kill)
else:
    import greenlet as m
greenlet, getcurrent = m.greenlet, m.getcurrent


class Holder(object):
    def __init__(self, items):
        self.items = items

    def __del__(self):
        pass


def spawn(n=10000):
    f = lambda x: x
    for i in range(n):
        greenlet(f).switch(i)


def chain(n, hold=False):
    links = _chain(greenlet, getcurrent, n)     # issue 10's, left suspended
    if hold:
        Holder(links)       # garbage at once, holding the links


for _ in range(5):
    spawn()
chain(LINKS)
gc.collect()
for _ in range(5):
    spawn()
if mode == "finalizers":
    _greenlet._Reaper = _NoKillFinalizer        # the timed chain's only
t = time.perf_counter()
chain(LINKS, hold=mode == "hold")
c = time.perf_counter() - t
t = time.perf_counter()
gc.collect()
g = time.perf_counter() - t
for _ in range(3):
    gc.collect()        # and after more collections, still nothing killed
print("%s %s: chain %.3f s, gc.collect() %.3f s%s"
      % (impl, mode, c, g, ", kills %d" % kills[0] if impl == "ours" else ""))
