"""The backend contract itself -- NAME, main_handle, new_handle, set_entry(begin, finish),
transfer, top_frame, get_context, set_context (described in
greenlet_cffi/_backend_pypy.py) -- tested directly, without the greenlet
layer.

Backend-neutral: the same tests run against the cffi core on CPython and
the continulet core on PyPy, through ``greenlet_cffi._backend``.

Each test runs in a child interpreter, for two reasons: the test must
register its own entry function with ``set_entry`` (which would replace
the greenlet layer's in this process), and a broken switching core tends to
crash rather than fail.  The child loads the backend without executing
``greenlet_cffi/__init__.py`` when it can, so the layer never registers its
entry or makes a main handle there; see ``_PRELUDE``.
"""
import importlib.util
import os
import subprocess
import sys
import textwrap


_PRELUDE = r'''
import gc, importlib, importlib.util, random, sys, threading, types

def _load_backend():
    # 1. greenlet_cffi._backend (or, on PyPy, _backend_pypy) from a bare
    #    package object, so that greenlet_cffi/__init__.py does not run.
    spec = importlib.util.find_spec("greenlet_cffi")
    pkg = types.ModuleType("greenlet_cffi")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["greenlet_cffi"] = pkg
    names = ["greenlet_cffi._backend"]
    if sys.implementation.name == "pypy":
        names.append("greenlet_cffi._backend_pypy")
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    # 2. The real package (if only it sets up greenlet_cffi._backend).
    for name in list(sys.modules):
        if name == "greenlet_cffi" or name.startswith("greenlet_cffi."):
            del sys.modules[name]
    return importlib.import_module("greenlet_cffi._backend")

B = _load_backend()
print("backend:", B.NAME, B.__name__)

# A minimal "Python layer": a new greenlet runs the body registered for
# the handle being started (bodies return the handle to finish into).
_tls = threading.local()

def _begin():
    body = _tls.starting
    _tls.starting = None
    return body, (), None

def _finish(result, exc):
    if exc is not None:     # finish() must not raise: stop loudly instead
        import os, traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        os._exit(3)
    return result

B.set_entry(_begin, _finish)

def switch(handle):
    """transfer() to handle; it must come back successfully."""
    assert not B.transfer(handle)

def start(handle, body):
    """Switch to the unstarted handle, which runs body()."""
    _tls.starting = body
    switch(handle)

def then_start(handle, body):
    """For `return then_start(h, body)`: finish into unstarted h."""
    _tls.starting = body
    return handle

def frames_from(f, stop_code, limit=100):
    """Code names from f down the f_back chain until stop_code (inclusive)."""
    names = []
    while f is not None and len(names) < limit:
        names.append(f.f_code.co_name)
        if f.f_code is stop_code:
            return names
        f = f.f_back
    raise AssertionError("did not reach %s: %r" % (stop_code.co_name, names))
'''


def _import_path():
    entries = []
    spec = importlib.util.find_spec("greenlet_cffi")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            entries.append(os.path.dirname(os.path.abspath(location)))
    for entry in sys.path:
        if entry and entry not in entries:
            entries.append(entry)
    return entries


def run_child(body, timeout=300):
    """Run _PRELUDE + body in a fresh interpreter; it must print 'OK'."""
    code = _PRELUDE + textwrap.dedent(body) + '\nprint("OK")\n'
    env = dict(os.environ)
    path = _import_path()
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, env=env, timeout=timeout,
        # -c puts the working directory first on sys.path: run where the
        # package under test is imported from, not from a source checkout.
        cwd=path[0],
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines and lines[-1] == "OK", (
        "child exited with %r\n--- stdout ---\n%s\n--- stderr ---\n%s"
        % (proc.returncode, proc.stdout, proc.stderr))
    return lines


def test_names():
    run_child('''
    assert B.NAME == ("continulet" if sys.implementation.name == "pypy"
                      else "cffi"), B.NAME
    for name in ("main_handle", "new_handle", "set_entry", "transfer",
                 "top_frame", "get_context", "set_context"):
        assert callable(getattr(B, name)), name
    ''')


def test_start_run_and_finish_into_main():
    run_child('''
    main = B.main_handle()
    g = B.new_handle()
    log = []

    def body():
        log.append("body")
        assert B.top_frame(g) is None          # running
        return main

    assert B.top_frame(g) is None              # unstarted
    start(g, body)                             # returns once g finished
    assert log == ["body"]
    assert B.top_frame(g) is None              # finished
    assert B.top_frame(main) is None           # running
    # The thread goes on normally, and can start more greenlets.
    for i in range(100):
        start(B.new_handle(), lambda: log.append(i) or main)
    assert log == ["body"] + list(range(100))
    ''')


def test_ping_pong_with_values_in_a_list():
    run_child('''
    main = B.main_handle()
    g = B.new_handle()
    box = []

    def body():
        while True:
            value = box.pop()
            if value is None:
                return main
            box.append(value * 2)
            switch(main)

    box.append(1)
    start(g, body)
    assert box.pop() == 2
    for i in range(10000):
        box.append(i)
        switch(g)
        assert box.pop() == 2 * i
    box.append(None)
    switch(g)                                  # g finishes into main
    assert box == []
    assert B.top_frame(g) is None
    ''')


def test_finish_into_suspended_handles():
    run_child('''
    main = B.main_handle()
    log = []

    # a starts b; b finishes into a (suspended in its transfer to b).
    a, b = B.new_handle(), B.new_handle()

    def body_b():
        log.append("b")
        return a

    def body_a():
        log.append("a1")
        start(b, body_b)
        log.append("a2")
        return main

    start(a, body_a)
    assert log == ["a1", "b", "a2"]

    # Finishing into a suspended greenlet that is not the one that
    # started us: c and d both suspend in main; d finishes into c.
    del log[:]
    c, d = B.new_handle(), B.new_handle()

    def body_c():
        switch(main)
        log.append("c resumed")
        return main

    def body_d():
        log.append("d")
        return c

    start(c, body_c)
    start(d, body_d)
    assert log == ["d", "c resumed"]
    assert B.top_frame(c) is None and B.top_frame(d) is None
    ''')


def test_finish_into_unstarted_handles():
    run_child('''
    main = B.main_handle()
    log = []
    a, b = B.new_handle(), B.new_handle()

    def body_b():
        log.append("b")
        return main

    def body_a():
        log.append("a")
        return then_start(b, body_b)            # b has never run

    start(a, body_a)
    assert log == ["a", "b"]

    # A long chain, each greenlet finishing into a fresh one: finished
    # greenlets are released, so this must not run out of stack.
    N = 3000
    handles = [B.new_handle() for _ in range(N)]
    seen = []

    def make(i):
        def body():
            seen.append(i)
            if i + 1 == N:
                return main
            return then_start(handles[i + 1], make(i + 1))
        return body

    start(handles[0], make(0))
    assert seen == list(range(N))

    # Finishing into an unstarted handle from a greenlet that is nested
    # (started by another greenlet, which is still suspended).
    del log[:]
    outer, inner, last = B.new_handle(), B.new_handle(), B.new_handle()

    def body_last():
        log.append("last")
        return outer                             # suspended

    def body_inner():
        log.append("inner")
        return then_start(last, body_last)

    def body_outer():
        start(inner, body_inner)
        log.append("outer resumed")
        return main

    start(outer, body_outer)
    assert log == ["inner", "last", "outer resumed"]
    ''')


def test_20000_suspended_handles_switched_in_shuffled_order():
    run_child('''
    random.seed(12345)
    main = B.main_handle()
    N = 20000
    handles = [B.new_handle() for _ in range(N)]
    ring = list(range(N))
    random.shuffle(ring)
    position = {h: k for k, h in enumerate(ring)}
    resumed, finished = [], []

    def make(i):
        def body():
            switch(main)                         # suspend right away
            # Round 1: pass control straight to the next one in `ring`
            # (arbitrary pairs, no detour through main).
            resumed.append(i)
            k = position[i] + 1
            switch(handles[ring[k]] if k < N else main)
            # Round 2: resumed by main in another order; finish into it.
            finished.append(i)
            return main
        return body

    for i in range(N):
        start(handles[i], make(i))
    assert all(B.top_frame(h) is not None for h in handles)

    switch(handles[ring[0]])
    assert resumed == ring

    order = list(range(N))
    random.shuffle(order)
    for i in order:
        switch(handles[i])
    assert finished == order
    assert all(B.top_frame(h) is None for h in handles)
    ''')


def test_arbitrary_pairs_nested_starts():
    run_child('''
    random.seed(7)
    main = B.main_handle()
    # Each greenlet starts the next one from inside itself; the innermost
    # goes back to main.  Then they are resumed in random order, each
    # transferring to a random other suspended one or to main.
    N = 200
    handles = [B.new_handle() for _ in range(N)]
    alive = set()
    log = []
    hops = [0]

    def make(i):
        def body():
            alive.add(i)
            if i + 1 < N:
                start(handles[i + 1], make(i + 1))
            else:
                switch(main)
            while hops[0] < 2000:
                hops[0] += 1
                others = [j for j in (random.randrange(N), random.randrange(N))
                          if j in alive and j != i]
                log.append(i)
                switch(handles[others[0]] if others else main)
            alive.discard(i)
            return main
        return body

    start(handles[0], make(0))
    assert alive == set(range(N))
    while alive:
        switch(handles[random.choice(sorted(alive))])
    assert hops[0] == 2000 and len(log) == 2000
    assert all(B.top_frame(h) is None for h in handles)
    ''')


def test_top_frame():
    run_child('''
    main = B.main_handle()
    g = B.new_handle()
    seen = {}

    def suspend_here(target, token):
        # The "Python-layer function that called transfer()".
        assert not B.transfer(target)

    def helper():
        seen["running g"] = B.top_frame(g)
        # main is suspended in suspend_here(g, "main token"):
        f = B.top_frame(main)
        seen["main"] = (f.f_code.co_name, f.f_locals["token"])
        suspend_here(main, "g token")
        return "helper done"

    def body():
        helper()
        return main

    _tls.starting = body
    suspend_here(g, "main token")
    assert seen["running g"] is None
    assert seen["main"] == ("suspend_here", "main token"), seen["main"]
    assert B.top_frame(main) is None           # running

    top = B.top_frame(g)
    assert top.f_code.co_name == "suspend_here"
    assert top.f_locals["token"] == "g token"
    # Walking f_back from the top frame reaches the greenlet's body, which
    # the backend called: on CPython nothing lies below it (f_back None).
    names = frames_from(top, body.__code__)
    assert names == ["suspend_here", "helper", "body"], names
    bottom = top.f_back.f_back
    if sys.implementation.name == "cpython":
        assert bottom.f_back is None, bottom.f_back

    switch(g)                                  # g finishes
    assert B.top_frame(g) is None
    assert B.top_frame(B.new_handle()) is None
    ''')


def test_each_greenlet_has_its_own_context():
    run_child('''
    import contextvars
    VAR = contextvars.ContextVar("VAR", default="default")
    main = B.main_handle()
    VAR.set("main")
    main_ctx = B.get_context(main, True)
    assert isinstance(main_ctx, contextvars.Context) and main_ctx[VAR] == "main"

    a, b, c = B.new_handle(), B.new_handle(), B.new_handle()
    assert B.get_context(a, False) is None     # unstarted, none set
    seen = []

    def body_a():
        seen.append(("a starts with", VAR.get()))  # a new, empty context
        VAR.set("a")
        switch(main)
        seen.append(("a resumed with", VAR.get()))
        return main

    start(a, body_a)
    assert VAR.get() == "main"                 # ours came back
    assert B.get_context(main, True) is main_ctx
    ctx_a = B.get_context(a, False)            # a's, kept while suspended
    assert ctx_a[VAR] == "a"

    # Set before the start: the greenlet starts in that context.
    preset = contextvars.Context()
    preset.run(VAR.set, "preset")
    B.set_context(b, False, preset)
    assert B.get_context(b, False) is preset

    def body_b():
        seen.append(("b starts with", VAR.get()))
        assert B.get_context(b, True) is preset
        VAR.set("b")
        return main

    start(b, body_b)
    assert VAR.get() == "main"
    assert preset[VAR] == "b"
    assert B.get_context(b, False) is preset   # a finished one keeps its last

    # Replaced while suspended: resumes in the new one.
    other = contextvars.Context()
    other.run(VAR.set, "other")
    B.set_context(a, False, other)
    switch(a)
    assert B.get_context(a, False) is other

    # Replacing the running greenlet's context takes effect at once.
    def body_c():
        mine = contextvars.Context()
        mine.run(VAR.set, "replaced")
        B.set_context(c, True, mine)
        seen.append(("c after set", VAR.get()))
        return main

    start(c, body_c)
    assert VAR.get() == "main"
    assert seen == [("a starts with", "default"), ("b starts with", "preset"),
                    ("a resumed with", "other"), ("c after set", "replaced")]
    ''')


def test_threads_each_have_their_own_main_handle():
    run_child('''
    import contextvars
    VAR = contextvars.ContextVar("VAR", default=None)
    THREADS = 4
    ROUNDS = 2000
    barrier = threading.Barrier(THREADS)
    results, mains, errors = {}, {}, []

    def worker(t):
        try:
            main = B.main_handle()
            mains[t] = main
            VAR.set(("main", t))
            barrier.wait()                     # all main handles exist
            handles = [B.new_handle() for _ in range(3)]
            box = []

            def make(k):
                def body():
                    VAR.set((t, k))
                    while True:
                        value = box.pop()
                        if value is None:
                            return main
                        box.append((t, k, value, VAR.get()))
                        switch(main)
                return body

            for r in range(ROUNDS):
                k = r % 3
                box.append(r)
                if r < 3:
                    start(handles[k], make(k))
                else:
                    switch(handles[k])
                assert box.pop() == (t, k, r, (t, k))
                assert VAR.get() == ("main", t)
            for k in range(3):
                box.append(None)
                switch(handles[k])
            results[t] = ROUNDS
        except BaseException as e:
            errors.append((t, repr(e)))
            raise

    threads = [threading.Thread(target=worker, args=(t,))
               for t in range(THREADS)]
    for th in threads:
        th.start()
    # The process's main thread uses its own handles meanwhile.
    main = B.main_handle()
    g = B.new_handle()
    box = [0]
    def body():
        while box[-1] is not None:
            box.append(box.pop() + 1)
            switch(main)
        return main
    start(g, body)
    for r in range(ROUNDS):
        switch(g)
    box.append(None)
    switch(g)
    for th in threads:
        th.join()
    assert not errors, errors
    assert box == [ROUNDS + 1, None]
    assert results == {t: ROUNDS for t in range(THREADS)}
    assert len({id(m) for m in mains.values()} | {id(main)}) == THREADS + 1
    ''')


def test_dropped_suspended_handles_are_freed_without_running():
    run_child('''
    main = B.main_handle()
    ran = []

    def make():
        def body():
            try:
                switch(main)
                ran.append("resumed")
            finally:
                ran.append("finally")
            return main
        return body

    # Dropped in its own thread while suspended.
    g = B.new_handle()
    start(g, make())
    del g

    # Dropped after its thread ended with it suspended.
    left = []
    def worker():
        tmain = B.main_handle()
        h = B.new_handle()
        def body():
            try:
                switch(tmain)
                ran.append("resumed")
            finally:
                ran.append("finally")
            return tmain
        start(h, body)
        left.append(h)
    th = threading.Thread(target=worker)
    th.start()
    th.join()
    del left[:]

    for _ in range(4):
        gc.collect()
    assert ran == [], ran
    # The thread is still fine.
    g2 = B.new_handle()
    start(g2, make())
    switch(g2)
    assert ran == ["resumed", "finally"]
    ''')
