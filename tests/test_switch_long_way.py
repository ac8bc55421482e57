"""switch(value) that takes the long way (a kill is pending in the thread,
the target is not started, ...) must leave nothing of the switching
greenlet in its own suspended frames: a greenlet whose stack held itself
was never freed, so never killed (tests/test_stress.py found it: greenlets
another thread dropped were never killed, with CPython's fast switch on)."""
import pytest


@pytest.mark.parametrize("args", ["", "1", "1, 2"])
def test_greenlet_switching_away_while_a_kill_is_pending_is_freed(check_script, args):
    out = check_script("""
        import gc, threading, weakref
        from greenlet_cffi import GreenletExit, getcurrent, greenlet
        main = getcurrent()
        ended = []

        def parked():
            try:
                main.switch()
            except GreenletExit:
                ended.append("parked killed")
                raise

        def drop():
            box.clear()
            for _ in range(4):
                gc.collect()    # PyPy finds it here, CPython at once

        def run():
            # Another thread drops a suspended greenlet of this thread: its
            # kill is pending here, so this switch goes the long way.
            t = threading.Thread(target=drop)
            t.start(); t.join()
            try:
                main.switch(%s)
            except GreenletExit:
                ended.append("g killed")
                raise

        box = [greenlet(parked)]
        box[0].switch()
        g = greenlet(run)
        g.switch()
        print(ended)            # the pending kill ran on the way
        ref = weakref.ref(g)
        del g
        for _ in range(4):
            gc.collect()        # PyPy finds it; CPython frees it at once
        getcurrent()            # ...and kills it at a switch or getcurrent()
        print(ended, ref() is None)
    """ % args)
    assert out == ["['parked killed']", "['parked killed', 'g killed'] True"], out
