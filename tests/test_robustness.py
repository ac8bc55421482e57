"""Stress and robustness.  Risky scenarios run in child interpreters."""
import sys
import traceback

import pytest

from greenlet_cffi import GreenletExit, getcurrent, greenlet

PRELUDE = """
import gc, sys, random
import greenlet_cffi
from greenlet_cffi import greenlet, getcurrent, GreenletExit, error
def collect():
    for _ in range(4):
        gc.collect()
"""


def test_unbounded_recursion_in_greenlet(check_script):
    out = check_script(PRELUDE + """
sys.setrecursionlimit(1000)
main = getcurrent()
def recurse(n):
    return recurse(n + 1) + 1
def run():
    try:
        recurse(0)
    except RecursionError:
        caught = "caught RecursionError"
    # The greenlet keeps working after the error.
    got = main.switch(caught)
    return ("finished", got)
g = greenlet(run)
print(g.switch())
print(g.switch("again"))
# Main greenlet and new greenlets still recurse fine afterwards.
def depth(n):
    return 0 if n == 0 else depth(n - 1) + 1
print(depth(300))
print(greenlet(depth).switch(300))
""")
    assert out == ["caught RecursionError", "('finished', 'again')", "300", "300"]


def test_recursion_error_propagates_to_parent(check_script):
    out = check_script(PRELUDE + """
sys.setrecursionlimit(1000)
def recurse():
    recurse()
g = greenlet(recurse)
try:
    g.switch()
except RecursionError:
    print("parent got RecursionError", g.dead)
for i in range(3):
    try:
        greenlet(recurse).switch()
    except RecursionError:
        print("again", i)
""")
    assert out == ["parent got RecursionError True", "again 0", "again 1", "again 2"]


def test_deep_recursion_suspended_in_the_middle(check_script):
    out = check_script(PRELUDE + """
main = getcurrent()
def descend(n, acc):
    local_data = [n] * 5
    if n == 0:
        got = main.switch(("bottom", len(acc)))
        return got
    result = descend(n - 1, acc + [n])
    assert local_data == [n] * 5
    return result + n

deep = greenlet(descend)
print(deep.switch(500, []))
# Other greenlets run, some recursing themselves, while 'deep' is parked.
def other(n):
    def rec(k):
        return 0 if k == 0 else rec(k - 1) + 1
    v = rec(n)
    main.switch(v)
    return rec(n // 2)
others = [greenlet(other) for _ in range(10)]
print([o.switch(100 + i) for i, o in enumerate(others)])
print([o.switch() for o in others])
print(deep.switch(0))
print(deep.dead)
""")
    assert out == [
        "('bottom', 500)",
        str([100 + i for i in range(10)]),
        str([(100 + i) // 2 for i in range(10)]),
        str(sum(range(501))),
        "True",
    ]


def test_many_interleaved_deep_greenlets(check_script):
    # Several greenlets each suspended at a different recursion depth, with
    # stack-resident data that must survive arbitrary switching orders.
    out = check_script(PRELUDE + """
random.seed(7)
main = getcurrent()
def worker(ident, depth):
    def rec(k):
        mine = (ident, k)
        if k == 0:
            total = 0
            for step in range(5):
                total += main.switch((ident, step))
            return total
        r = rec(k - 1)
        assert mine == (ident, k), (mine, ident, k)
        return r + 1
    return rec(depth)
workers = {}
for i in range(20):
    g = greenlet(worker)
    assert g.switch(i, 50 + 7 * i) == (i, 0)
    workers[i] = g
expected_steps = {i: 1 for i in workers}
results = {}
while workers:
    i = random.choice(sorted(workers))
    r = workers[i].switch(i)
    if workers[i].dead:
        results[i] = r
        del workers[i]
    else:
        assert r == (i, expected_steps[i]), r
        expected_steps[i] += 1
ok = all(results[i] == 5 * i + 50 + 7 * i for i in range(20))
print(ok, len(results))
""")
    assert out == ["True 20"]


def test_twenty_thousand_suspended_greenlets(check_script):
    out = check_script(PRELUDE + """
random.seed(20000)
main = getcurrent()
def run(i):
    got = main.switch(i * 2)
    return (i, got)
N = 20000
gs = []
for i in range(N):
    g = greenlet(run)
    v = g.switch(i)
    assert v == i * 2
    gs.append(g)
print("alive", sum(1 for g in gs if g and not g.dead))
order = list(range(N))
random.shuffle(order)
bad = 0
for i in order:
    r = gs[i].switch(i + 1)
    if r != (i, i + 1) or not gs[i].dead:
        bad += 1
print("bad", bad)
print("dead", sum(1 for g in gs if g.dead))
del gs
collect()
print("done")
""", timeout=300)
    assert out == ["alive 20000", "bad 0", "dead 20000", "done"]


def test_many_suspended_greenlets_dropped_at_once(check_script):
    out = check_script(PRELUDE + """
main = getcurrent()
count = [0]
def run():
    try:
        main.switch()
    finally:
        count[0] += 1
def start_all():
    # In a function: PyPy's module-level loop keeps its last item alive.
    gs = [greenlet(run) for _ in range(5000)]
    for g in gs:
        g.switch()
start_all()
collect()
print(count[0])
""")
    assert out == ["5000"]


def test_keyboard_interrupt_reaches_parent(check_script):
    out = check_script(PRELUDE + """
def run():
    raise KeyboardInterrupt("stop")
g = greenlet(run)
try:
    g.switch()
except KeyboardInterrupt as exc:
    print("parent caught", exc.args, g.dead)
def nested():
    greenlet(run).switch()
try:
    greenlet(nested).switch()
except KeyboardInterrupt:
    print("two levels up")
""")
    assert out == ["parent caught ('stop',) True", "two levels up"]


def test_sigint_while_greenlet_runs(check_script):
    out = check_script(PRELUDE + """
import os, signal
# Python's own handler, whatever this process inherited (a shell's
# background job starts with SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
main = getcurrent()
def run():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000000):
            pass
        print("no interrupt")
    finally:
        print("child finally")
g = greenlet(run)
try:
    g.switch()
except KeyboardInterrupt:
    print("main caught KeyboardInterrupt", g.dead)
""")
    assert out == ["child finally", "main caught KeyboardInterrupt True"]


def test_keyboard_interrupt_thrown_into_greenlet(check_script):
    out = check_script(PRELUDE + """
main = getcurrent()
def run():
    try:
        main.switch()
    except KeyboardInterrupt:
        print("child saw it")
        raise
g = greenlet(run)
g.switch()
try:
    g.throw(KeyboardInterrupt)
except KeyboardInterrupt:
    print("back in main")
""")
    assert out == ["child saw it", "back in main"]


def test_traceback_of_exception_crossing_switches():
    main = getcurrent()

    def child_level_two():
        main.switch("parked")
        raise RuntimeError("after resume")

    def child_run():
        child_level_two()

    g = greenlet(child_run)
    assert g.switch() == "parked"

    def resumer_in_parent():
        g.switch()

    with pytest.raises(RuntimeError) as info:
        resumer_in_parent()
    names = [e.name for e in traceback.extract_tb(info.value.__traceback__)]
    assert "resumer_in_parent" in names
    assert "child_run" in names
    assert "child_level_two" in names
    assert names.index("resumer_in_parent") < names.index("child_run") \
        < names.index("child_level_two")


def test_exception_chaining_across_greenlets():
    def run():
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("second")

    with pytest.raises(ValueError) as info:
        greenlet(run).switch()
    assert isinstance(info.value.__context__, KeyError)


def test_exc_info_is_per_greenlet():
    main = getcurrent()

    def run():
        try:
            raise KeyError("child")
        except KeyError:
            main.switch(sys.exc_info()[1])
            return sys.exc_info()[1]

    g = greenlet(run)
    try:
        raise ValueError("main")
    except ValueError:
        child_exc = g.switch()
        assert isinstance(child_exc, KeyError)
        assert isinstance(sys.exc_info()[1], ValueError)
        again = g.switch()
        assert again is child_exc
        assert isinstance(sys.exc_info()[1], ValueError)
    assert sys.exc_info() == (None, None, None)


def test_new_greenlet_starts_without_handled_exception():
    def run():
        return sys.exc_info()

    try:
        raise ValueError("main")
    except ValueError:
        assert greenlet(run).switch() == (None, None, None)


def test_finally_and_with_blocks_across_switches():
    log = []
    main = getcurrent()

    class Ctx(object):
        def __enter__(self):
            log.append("enter")

        def __exit__(self, *exc):
            log.append(("exit", exc[0]))
            return False

    def run():
        with Ctx():
            try:
                main.switch()
            finally:
                log.append("finally")

    g = greenlet(run)
    g.switch()
    assert log == ["enter"]
    g.switch()
    assert log == ["enter", "finally", ("exit", None)]


def test_generator_driven_from_different_greenlets():
    def gen():
        for i in range(6):
            yield i

    it = gen()
    main = getcurrent()

    def consumer(tag):
        got = []
        while True:
            try:
                got.append((tag, next(it)))
            except StopIteration:
                return got
            main.switch()

    a = greenlet(consumer)
    b = greenlet(consumer)
    a.switch("a")
    b.switch("b")
    a.switch()
    b.switch()
    a.switch()
    b.switch()
    res_a = a.switch()
    res_b = b.switch()
    assert res_a == [("a", 0), ("a", 2), ("a", 4)]
    assert res_b == [("b", 1), ("b", 3), ("b", 5)]


def test_generator_body_switches_greenlets():
    main = getcurrent()

    def gen():
        for i in range(3):
            got = main.switch(("from generator", i))
            yield got

    def run():
        return list(gen())

    g = greenlet(run)
    assert g.switch() == ("from generator", 0)
    assert g.switch("a") == ("from generator", 1)
    assert g.switch("b") == ("from generator", 2)
    assert g.switch("c") == ["a", "b", "c"]


def test_switch_inside_del_does_not_crash(check_script):
    out = check_script(PRELUDE + """
main = getcurrent()
log = []
class Finalized(object):
    def __del__(self):
        g = greenlet(lambda: log.append("ran in __del__") or "r")
        log.append(g.switch())
def run():
    x = Finalized()
    del x
    collect()
    return "run done"
print(greenlet(run).switch())
print(log)
""")
    assert out == ["run done", "['ran in __del__', 'r']"]


def test_long_chain_of_switches():
    main = getcurrent()
    n = 100
    chain = []

    def link(i):
        if i + 1 < n:
            return chain[i + 1].switch(i + 1) + 1
        return main.switch("end of chain") + 1

    for _ in range(n):
        chain.append(greenlet(link))
    assert chain[0].switch(0) == "end of chain"
    # Unwinding: the last link returns to its parent (main), i.e. the value
    # comes here; the other links are still suspended.
    assert chain[-1].switch(0) == 1
    for g in chain[:-1]:
        assert not g.dead
    # Resume the others in reverse order via throw; each dies cleanly.
    for g in reversed(chain[:-1]):
        assert isinstance(g.throw(), GreenletExit)
        assert g.dead


def test_child_interpreter_imports_same_module(check_script):
    import os
    import greenlet_cffi

    out = check_script("import greenlet_cffi, os; "
                       "print(os.path.realpath(greenlet_cffi.__file__))")
    assert out == [os.path.realpath(greenlet_cffi.__file__)]


def test_recursion_limit_changed_while_suspended(check_script):
    # A suspended greenlet keeps its recursion depth, not what was left of
    # the old limit: after sys.setrecursionlimit() it gets the new room.
    out = check_script(PRELUDE + """
import sys
main = getcurrent()
def depth_reached():
    n = [0]
    def down():
        n[0] += 1
        down()
    try:
        down()
    except RecursionError:
        return n[0]
def run():
    main.switch()
    return depth_reached()
sys.setrecursionlimit(400)
g = greenlet(run)
g.switch()
sys.setrecursionlimit(2000)
reached = g.switch()
print(reached > 1000)   # with the old limit's room it would stop near 400
""")
    assert out == ["True"]


STRESS = """
import gc, random, sys, threading
from greenlet_cffi import greenlet, getcurrent, GreenletExit

def stress(seed, steps):
    # Random switches, starts, throws, finishes, drops (kill-on-collect) and
    # deep stacks among up to a few hundred greenlets; every greenlet checks
    # on the way out that its locals survived all of it.
    rng = random.Random(seed)
    main = getcurrent()
    pool = []
    made = [0]
    finished = [0]

    def deep(n, f):
        return f() if n <= 0 else deep(n - 1, f) + 0

    def body(tag):
        local = [tag] * rng.randint(0, 50)
        try:
            while True:
                try:
                    act = rng.random()
                    if act < 0.5 and pool:
                        rng.choice(pool).switch(tag)
                    elif act < 0.6:
                        deep(rng.randint(0, 60), lambda: main.switch(tag))
                    elif act < 0.7:
                        g = greenlet(body)
                        pool.append(g)
                        made[0] += 1
                        g.switch(made[0])
                    elif act < 0.75:
                        return tag
                    elif act < 0.8 and pool:
                        rng.choice(pool).throw(KeyError("x"))
                    elif act < 0.85 and pool:
                        pool.pop(rng.randrange(len(pool)))
                        if rng.random() < 0.3:
                            gc.collect()
                    else:
                        main.switch(tag)
                except KeyError:
                    pass
        finally:
            assert local == [tag] * len(local), "locals corrupted"
            finished[0] += 1

    for step in range(steps):
        if len(pool) < 5:
            pool.append(greenlet(body))
            made[0] += 1
        try:
            rng.choice(pool).switch(-1)
        except KeyError:
            pass
        pool[:] = [g for g in pool if not g.dead]
        if len(pool) > 300:
            del pool[:150]
    del pool[:]
    gc.collect()
    return made[0], finished[0]

results = {}
def worker(seed):
    results[seed] = stress(seed, 3000)
threads = [threading.Thread(target=worker, args=(s,)) for s in (2, 3)]
for t in threads:
    t.start()
results[1] = stress(1, 3000)
for t in threads:
    t.join()
for seed in sorted(results):
    made, finished = results[seed]
    print(seed, made > 100, finished > 100)
"""


def test_random_switching_stress_in_three_threads(run_script):
    proc = run_script(STRESS, timeout=240)
    # A thread's exception only reaches stderr: show it on failure.
    assert proc.returncode == 0 and proc.stdout.splitlines() == [
        "1 True True", "2 True True", "3 True True"], proc.stdout + proc.stderr
