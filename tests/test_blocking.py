"""greenlet_cffi.blocking.watch_blocking: a monitor thread for greenlets
that run too long without switching."""
import textwrap

PRELUDE = """
import threading, time
from greenlet_cffi import greenlet, getcurrent
from greenlet_cffi.blocking import watch_blocking
reports = []
"""


def test_sleeping_greenlet_found_plain_thread_not(check_script):
    lines = check_script(PRELUDE + textwrap.dedent("""
        def plain():
            time.sleep(0.6)             # a thread that never uses greenlets
        t = threading.Thread(target=plain, name="plain")
        t.start()
        watch = watch_blocking(0.1, reports.append)
        main = getcurrent()
        def sleeper():
            main.switch()               # switches once...
            time.sleep(0.3)             # ...then blocks
        g = greenlet(sleeper)
        g.switch()
        g.switch()
        main_switched_at = time.monotonic()
        t.join()
        watch.stop()
        # The sleeper's episode; then main's own, waiting in join() (it
        # switched before, so it counts) once the sleeper is done.
        for r in reports:
            print(r.thread_name, r.greenlet is g, r.greenlet is main,
                  r.seconds >= 0.1, r.stack[-1].name)
        print(watch.reports == len(reports))
    """))
    assert lines[0] == "MainThread True False True sleeper"
    assert not any(line.startswith("plain") for line in lines)
    # main's wait in join() after its greenlets is an episode of its own
    assert len(lines) <= 3
    assert all(line.startswith("MainThread False True True ") for line in lines[1:-1])
    assert lines[-1] == "True"


def test_reported_once_per_episode(check_script):
    lines = check_script(PRELUDE + textwrap.dedent("""
        watch = watch_blocking(0.05, reports.append)
        main = getcurrent()
        def sleeper():
            main.switch()
            time.sleep(0.4)             # one long episode: one report
            main.switch()
            time.sleep(0.3)             # a second one
            main.switch()
        g = greenlet(sleeper)
        g.switch()
        g.switch()
        g.switch()
        watch.stop()
        print(len(reports), [r.greenlet is g for r in reports])
        print(reports[0].seconds >= 0.05, reports[0].seconds < 1.0)
    """))
    assert lines == ["2 [True, True]", "True True"]


def test_default_reports_a_logging_warning(run_script):
    proc = run_script(PRELUDE + textwrap.dedent("""
        import logging
        logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
        with watch_blocking(0.05):
            main = getcurrent()
            def busy_sleep():
                main.switch()
                time.sleep(0.3)
            g = greenlet(busy_sleep)
            g.switch(); g.switch()
    """))
    assert proc.returncode == 0, proc.stderr
    assert "WARNING greenlet_cffi.blocking" in proc.stderr
    assert "without switching" in proc.stderr
    assert "busy_sleep" in proc.stderr        # the stack is in the message


def test_stop_ends_the_counting(check_script):
    lines = check_script(PRELUDE + textwrap.dedent("""
        w = watch_blocking(0.05, reports.append)
        greenlet(lambda: None).switch()
        ts = getcurrent()._greenlet__ts
        print(ts.hook is not None, ts.hook.switches > 0)
        w.stop()
        print(ts.hook is None, w._thread.is_alive())
    """))
    assert lines == ["True True", "True False"]


def test_bad_argument():
    import pytest
    from greenlet_cffi.blocking import watch_blocking
    with pytest.raises(ValueError):
        watch_blocking(0)
