"""Runs differential programs in long-lived child interpreters and compares
greenlet_cffi with the reference greenlet 3.5.6."""
import glob
import json
import os
import select
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "program.py")
REFERENCE_VERSION = "3.5.6"
TIMEOUT = 30.0      # seconds for one program: a hang is a failure


class WorkerDied(Exception):
    pass


class Worker:
    """One child interpreter running program.py for one implementation."""

    def __init__(self, python, module, env=None):
        self.python, self.module, self.env = python, module, env
        self.proc = None

    def _start(self):
        self.proc = subprocess.Popen(
            [self.python, PROGRAM, self.module], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
            universal_newlines=True, bufsize=1, cwd=HERE)

    def run(self, ops):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps(ops) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass        # reported below, with its status and stderr
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise WorkerDied("%s worker (%s) %s\n--- stderr ---\n%s" % (
                self.module, self.python,
                "exited with %r" % self.proc.returncode if ready
                else "hung for %ss" % TIMEOUT, self.stderr))
        return json.loads(line)

    def close(self):
        self.stderr = ""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr = self.proc.stderr.read()[-4000:]
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


def _reference_version(python):
    try:
        out = subprocess.run(
            [python, "-c", "import sys, greenlet; "
             "print(sys.implementation.name, greenlet.__version__)"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if len(out) == 2 else None


def find_reference():
    """A CPython interpreter that imports greenlet 3.5.6: this one, or
    $GREENLET_REFERENCE_PYTHON, or a CPython venv beside this interpreter's
    (scripts/setup_venvs.sh makes them; PyPy's run uses cp311 first).
    Returns (python, None) or (None, why not)."""
    candidates = []
    if os.environ.get("GREENLET_REFERENCE_PYTHON"):
        candidates.append(os.environ["GREENLET_REFERENCE_PYTHON"])
    if sys.implementation.name == "cpython":
        candidates.append(sys.executable)
    root = os.path.dirname(os.path.abspath(sys.prefix))
    for name in ("cp311", "cp312", "cp313", "cp314", "cp315", "cp310", "cp39"):
        candidates += glob.glob(os.path.join(root, name, "bin", "python"))
    seen = []
    for python in candidates:
        if python in seen:
            continue
        seen.append(python)
        found = _reference_version(python)
        if found == ["cpython", REFERENCE_VERSION]:
            return python, None
    return None, ("no CPython interpreter with greenlet %s among %s (set "
                  "GREENLET_REFERENCE_PYTHON, or run scripts/setup_venvs.sh)"
                  % (REFERENCE_VERSION, seen))


# The deliberate differences the comparison accepts.  Each names the bullet
# of README.md's "How it differs from greenlet" that describes it: that list
# is the one place they are documented (test_differential.py checks that
# the README still says so).
DOCUMENTED = {
    "cyclic-garbage": "only reachable through a reference cycle is\nfound by the cyclic GC and killed",
}


def first_difference(ours, ref):
    n = min(len(ours), len(ref))
    for i in range(n):
        if ours[i] != ref[i]:
            return i
    return None if len(ours) == len(ref) else n


def classify(ours, ref):
    """None if the results agree, else (documented difference name, index)
    or ("divergence", index) for one that is not documented."""
    if "internal-error" in ours or "internal-error" in ref:
        return ("internal-error", None) if ours != ref else None
    i = first_difference(ours["log"], ref["log"])
    if i is None and ours["leaked"] == ref["leaked"]:
        return None
    if i is None:
        i = len(ours["log"])
    # greenlet leaks a suspended greenlet kept only by a reference cycle
    # (its frames are roots); we kill it when the GC finds it.  It shows as
    # our kill (GreenletExit raised in it) where greenlet had none, of a
    # greenlet that greenlet reports still alive at the end.
    rest = ours["log"][i:]
    for event in rest:
        if event[0] == "raised" and event[2].get("e") == "GreenletExit" \
                and event[1] in ref["leaked"] and event[1] not in ours["leaked"]:
            return ("cyclic-garbage", i)
        if event[0] not in ("trace",):
            break
    return ("divergence", i)


def describe(ops, ours, ref):
    """A readable account of a divergence for the failure message."""
    lines = ["program: %s" % json.dumps(ops)]
    if "log" in ours and "log" in ref:
        i = first_difference(ours["log"], ref["log"])
        lines.append("first difference at event %s" % i)
        for label, res in (("greenlet_cffi", ours), ("greenlet " + REFERENCE_VERSION, ref)):
            lines.append("--- %s (leaked at end: %s)" % (label, res["leaked"]))
            for j, event in enumerate(res["log"]):
                mark = ">>" if j == i else "  "
                lines.append("%s %3d %s" % (mark, j, json.dumps(event)))
    else:
        lines.append("greenlet_cffi: %s\nreference: %s" % (ours, ref))
    return "\n".join(lines)
