"""Runs random greenlet programs and prints what they observably did.

    python program.py MODULE        (MODULE: greenlet or greenlet_cffi)

Reads one JSON program per line on stdin and writes one JSON result per
line on stdout, so one process runs many programs.  Standalone on purpose
(no pytest, no greenlet_cffi import unless asked): on PyPy the reference
runs in a CPython interpreter that has greenlet 3.5.6.

A program is a flat list of operations.  Whichever greenlet is running
takes the next one: a switch hands the rest of the program to its target.
A greenlet that finds the program exhausted returns; once the main greenlet
does, the end phase throws GreenletExit into every greenlet still
suspended, reads every attribute and reports the greenlets still alive
after a full collection.  Greenlets are named g0, g1, ... in creation order.

Operations (JSON lists):
  ["new", parent, kind]          parent: null (default), "main", index
                                 kind: body | norun | runnone | sub
  ["switch", i, argsel, catch]   i: index or "main"; argsel: see ARGS
  ["throw", i, excsel, catch]    excsel: see _throw_args
  ["parent", i, spec]            spec: index, "main", "self", "none", "bad"
  ["read", i]                    dead, bool, parent, gr_frame, run
  ["finish", value]              run returns value (main: skipped)
  ["raise", excname]             run raises (main: skipped)
  ["drop", i]                    forget g_i, then gc.collect()
  ["settrace", on]
A greenlet other than main that sees an exception out of a switch or throw
logs it, then re-raises it unless `catch` (GreenletExit always re-raises).
"""
import gc
import importlib
import json
import sys
import weakref

IMPL = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "greenlet")
PYPY = sys.implementation.name == "pypy"

ARGS = [
    ((), {}),
    ((1,), {}),
    (("a", 2), {}),
    ((), {"k": 1}),
    ((3,), {"k": 4}),
    ((None,), {}),
]
EXCS = {"ValueError": ValueError, "KeyError": KeyError,
        "GreenletExit": IMPL.GreenletExit, "SystemExit": SystemExit}


def collect():
    for _ in range(3 if PYPY else 1):
        gc.collect()


def enc(v):
    """A JSON form of a value that does not depend on the implementation."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, tuple):
        return {"t": [enc(x) for x in v]}
    if isinstance(v, list):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {"d": sorted([k, enc(x)] for k, x in v.items())}
    if isinstance(v, BaseException):
        # Messages of the implementation's own errors differ in wording;
        # arguments the program chose are compared.
        mine = all(isinstance(a, str) and (a in ("v", "i") or a.startswith("from g"))
                   for a in v.args)
        return {"e": type(v).__name__, "args": enc(v.args) if mine else "message"}
    if isinstance(v, IMPL.greenlet):
        return {"g": name(v)}
    return {"o": type(v).__name__}


def name(g):
    if g is None:
        return None
    return getattr(g, "name", "?")


CURRENT = None      # the Run being executed


def body(*args, **kwargs):
    run = CURRENT
    me = IMPL.getcurrent().name
    run.emit("start", me, enc(args), enc(kwargs))
    return run.loop(me)


class Sub(IMPL.greenlet):
    def run(self, *args, **kwargs):
        del self    # a suspended frame must not keep its own greenlet
        return body(*args, **kwargs)


def _throw_args(sel):
    """throw() arguments: (form, exception name)."""
    form, exc = sel
    typ = EXCS[exc]
    if form == "cls":
        return (typ,)
    if form == "val":
        return (typ, "v")
    if form == "inst":
        return (typ("i"),)
    if form == "none":
        return ()
    return (5,)         # "bad": not an exception


class Run:
    def __init__(self, ops):
        self.ops = ops
        self.pos = 0
        self.log = []
        self.table = []
        self.refs = []
        self.tracing = False

    def emit(self, *event):
        self.log.append(list(event))

    def next_op(self):
        if self.pos >= len(self.ops):
            return None
        op = self.ops[self.pos]
        self.pos += 1
        return op

    def get(self, i):
        if i == "main":
            return self.main
        if isinstance(i, int) and 0 <= i < len(self.table):
            return self.table[i]
        return None

    def tracer(self, event, args):
        origin, target = args
        self.emit("trace", event, name(origin), name(target))

    def loop(self, me):
        while True:
            op = self.next_op()
            if op is None:
                return ("done", me)
            if op[0] == "finish":
                if me != "main":
                    return ("ret", me, op[1])
                self.emit("skip")
            elif op[0] == "raise":
                if me != "main":
                    raise EXCS[op[1]]("from " + me)
                self.emit("skip")
            else:
                self.do(op, me)

    def do(self, op, me):
        kind = op[0]
        if kind == "new":
            self.new(op[1], op[2])
        elif kind in ("switch", "throw"):
            target = self.get(op[1])
            if target is None:
                self.emit("skip")
                return
            try:
                if kind == "switch":
                    args, kwargs = ARGS[op[2]]
                    result = target.switch(*args, **kwargs)
                else:
                    result = target.throw(*_throw_args(op[2]))
            except BaseException as e:
                del target
                self.emit("raised", me, enc(e))
                if me != "main" and (isinstance(e, IMPL.GreenletExit) or not op[3]):
                    raise
                return
            del target
            self.emit("got", me, enc(result))
        elif kind == "parent":
            g = self.get(op[1])
            if g is None:
                self.emit("skip")
                return
            spec = op[2]
            value = {"self": g, "none": None, "bad": 5}.get(spec, None) \
                if spec in ("self", "none", "bad") else self.get(spec)
            if spec not in ("self", "none", "bad") and value is None:
                self.emit("skip")
                return
            try:
                g.parent = value
            except BaseException as e:
                self.emit("parent", name(g), enc(e))
            else:
                self.emit("parent", name(g), name(g.parent))
        elif kind == "read":
            g = self.get(op[1])
            if g is None:
                self.emit("skip")
                return
            self.emit("read", *self.attributes(g))
        elif kind == "drop":
            if self.get(op[1]) is None or op[1] == "main":
                self.emit("skip")
                return
            self.table[op[1]] = None
            collect()
            self.emit("dropped", op[1])
        elif kind == "settrace":
            old = IMPL.settrace(self.tracer if op[1] else None)
            self.emit("settrace", old is not None)
        else:
            raise AssertionError("unknown operation %r" % (op,))

    def attributes(self, g):
        frame = g.gr_frame
        try:
            run = g.run
        except BaseException as e:
            run = enc(e)
        else:
            run = "callable" if callable(run) else enc(run)
        return [name(g), g.dead, bool(g), name(g.parent),
                None if frame is None else frame.f_code.co_name, run]

    def new(self, parent, kind):
        kwargs = {}
        if parent is not None:
            kwargs["parent"] = self.get(parent)
            if kwargs["parent"] is None:
                self.emit("skip")
                return
        try:
            if kind == "body":
                g = IMPL.greenlet(body, **kwargs)
            elif kind == "norun":
                g = IMPL.greenlet(**kwargs)
            elif kind == "runnone":
                g = IMPL.greenlet(None, **kwargs)
            else:
                g = Sub(**kwargs)
        except BaseException as e:
            self.emit("new", enc(e))
            return
        g.name = "g%d" % len(self.table)
        self.table.append(g)
        self.refs.append(weakref.ref(g))
        self.emit("new", g.name)

    def execute(self):
        global CURRENT
        CURRENT = self
        self.main = IMPL.getcurrent()
        self.main.name = "main"
        self.loop("main")
        # End phase: kill what is left, explicitly (the same in both).
        IMPL.settrace(None)
        for i in range(len(self.table)):
            g = self.table[i]
            if g is not None and g:
                try:
                    result = g.throw()
                except BaseException as e:
                    self.emit("end-raised", enc(e))
                else:
                    self.emit("end-got", enc(result))
            g = None
        for i in range(len(self.table)):
            if self.table[i] is not None:
                self.emit("final", *self.attributes(self.table[i]))
        self.table = []
        collect()
        leaked = ["g%d" % i for i, r in enumerate(self.refs) if r() is not None]
        CURRENT = None
        return {"log": self.log, "leaked": leaked}


def main():
    if not PYPY:
        # Kills of cyclic garbage happen only at our explicit collections,
        # in both implementations (see "drop").
        gc.disable()
    out = sys.stdout
    for line in sys.stdin:
        ops = json.loads(line)
        try:
            result = Run(ops).execute()
        except BaseException as e:     # a bug of this interpreter, or worse
            result = {"internal-error": "%s: %s" % (type(e).__name__, e)}
            IMPL.settrace(None)
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
