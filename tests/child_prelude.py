"""Code that the child interpreters of test_gc.py and test_threads.py start with."""

THREADS_AND_GC = """
import gc, sys, threading, weakref
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent, GreenletExit, error
def collect():
    for _ in range(4):
        gc.collect()
def wait_released(refs, rounds=2000):
    # After Thread.join() returns, the interpreter may still be tearing
    # the thread down for a short moment; until then a greenlet of that
    # thread cannot be freed from here.  Poll (bounded) instead of racing.
    import time
    for _ in range(rounds):
        collect()
        if all(r() is None for r in refs):
            return True
        time.sleep(0.005)
    return False
"""
