"""Introspecting suspended greenlets' frames while other greenlets run.

From CPython 3.12 every call from C into Python links a frame that lives on
the C stack between the Python frames; a suspended greenlet's C stack is
elsewhere (saved to the heap, its memory reused by the greenlet running), so
walking f_back must not touch those frames.  These run in a child process:
a mistake there crashes rather than fails.
"""
PRELUDE = """
import sys, gc
from greenlet_cffi import greenlet, getcurrent
main = getcurrent()
MAX = 200
def walk(f, stop_at):
    # names from f down to the frame named stop_at (PyPy's chains loop
    # below a suspended greenlet's bottom, so never walk past run)
    names = []
    while f is not None and len(names) < MAX:
        names.append(f.f_code.co_name)
        if f.f_code.co_name == stop_at:
            break
        f = f.f_back
    return names
"""


def test_f_back_through_c_calls_while_others_run(check_script):
    # Each greenlet suspends inside Python code called back from C (sorted's
    # key, map, a property), so its chain crosses C-level entry frames.
    out = check_script(PRELUDE + """
class P(object):
    @property
    def value(self):
        return main.switch("in property")

def in_key(x):
    main.switch("in key")
    return x

def run_sorted():
    return sorted([3, 1, 2], key=in_key)

def run_map():
    return list(map(lambda x: main.switch("in map") or x, [1]))

def run_prop():
    return P().value

gs = [greenlet(f) for f in (run_sorted, run_map, run_prop)]
for g in gs:
    print(g.switch())
# a busy greenlet to overwrite the shared C stack between walks
def churn(n):
    def deep(k):
        return deep(k - 1) + 1 if k else main.switch(0)
    while True:
        n = deep(50)
churner = greenlet(churn)
for rnd in range(50):
    churner.switch(rnd)
    for g in gs:
        f = g.gr_frame
        chain = walk(f, {gs[0]: "run_sorted", gs[1]: "run_map", gs[2]: "run_prop"}[g])
        assert chain[-1] in ("run_sorted", "run_map", "run_prop"), chain
    # frame objects taken earlier stay walkable too
    gc.collect()
print([walk(g.gr_frame, n)[:2] for g, n in zip(gs, ["run_sorted", "run_map", "run_prop"])])
# resume all the way: results must be right after all that walking
for g in gs[:2]:
    while not g.dead:
        r = g.switch()
print(r)
print(gs[2].switch(42))
""")
    assert out[:3] == ["in key", "in map", "in property"]
    assert out[3] == ("[['in_key', 'run_sorted'], ['<lambda>', 'run_map'], "
                      "['value', 'run_prop']]")
    assert out[4] == "[1]"
    assert out[5] == "42"


def test_frame_captured_inside_then_walked_while_suspended(check_script):
    out = check_script(PRELUDE + """
box = {}
def inner():
    box["f"] = sys._getframe()
    main.switch()
    return "resumed"
def run():
    return list(map(lambda _: inner(), [0]))[0]
g = greenlet(run)
g.switch()
def other():
    x = [sorted([i, -i]) for i in range(100)]
    main.switch(len(x))
print(greenlet(other).switch())
print(walk(box["f"], "run"))
import traceback
print(len(traceback.extract_stack(box["f"], limit=10)) > 0)
print(g.switch())
""")
    assert out[0] == "100"
    assert out[1] == "['inner', '<lambda>', 'run']"
    assert out[2] == "True"
    assert out[3] == "resumed"
