"""Differential random testing: random greenlet programs run against
greenlet_cffi and against greenlet 3.5.6 (CPython, from PyPI), comparing
everything they observe (tests/differential/program.py says what).

Each implementation runs in a long-lived child interpreter (a crash or hang
fails the example, with the program).  On PyPy the reference runs in a
CPython venv beside this one (see harness.find_reference); there the
programs have no "drop" operation: without reference counting a dropped
greenlet is killed whenever the GC gets to it, not at the `del`, so the
traces could only agree by chance (tests/test_gc.py covers PyPy's kills).

CI: a fixed seed and a small budget.  scripts/differential.sh --long runs
10,000 programs with a fresh seed:
    GCFFI_DIFF_EXAMPLES  number of programs (default 300)
    GCFFI_DIFF_SEED      hypothesis seed (default fixed)
    GCFFI_DIFF_COLLECT   a file: divergences are appended there (one JSON
                         line each) instead of failing the first one, so a
                         long run counts them all (the script then fails)
"""
import collections
import json
import os
import sys

import pytest

hypothesis = pytest.importorskip(
    "hypothesis", reason="hypothesis is not installed (scripts/setup_venvs.sh installs it)")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "differential"))
import harness  # noqa: E402
import strategies  # noqa: E402

PYPY = sys.implementation.name == "pypy"
EXAMPLES = int(os.environ.get("GCFFI_DIFF_EXAMPLES", "300"))
SEED = int(os.environ.get("GCFFI_DIFF_SEED", "20250613"))
COLLECT = os.environ.get("GCFFI_DIFF_COLLECT")
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")

STATS = collections.Counter()


@pytest.fixture(scope="module")
def workers():
    ref_python, why = harness.find_reference()
    if ref_python is None:
        pytest.skip(why)
    ours = harness.Worker(sys.executable, "greenlet_cffi")
    ref = harness.Worker(ref_python, "greenlet")
    yield ours, ref
    ours.close()
    ref.close()
    print("\ndifferential: %d programs run, %d identical, documented differences: %s, "
          "seed %d, reference %s" % (
              STATS["programs"], STATS["identical"],
              dict((k, v) for k, v in STATS.items() if k not in ("programs", "identical")),
              SEED, ref_python))


def _check(workers, ops):
    ours_w, ref_w = workers
    ref = ref_w.run(ops)
    assert "internal-error" not in ref, "the program interpreter failed on the reference: %s" % ref
    ours = ours_w.run(ops)
    verdict = harness.classify(ours, ref)
    if verdict is None:
        return "identical"
    if COLLECT and verdict[0] not in harness.DOCUMENTED:
        with open(COLLECT, "a") as f:
            f.write(json.dumps({"ops": ops, "ours": ours, "ref": ref, "at": verdict[1]}) + "\n")
        return "divergence"
    assert verdict[0] in harness.DOCUMENTED, harness.describe(ops, ours, ref)
    return verdict[0]


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(ops=strategies.programs(with_drop=not PYPY))
def test_random_programs(workers, ops):
    result = _check(workers, ops)
    STATS["programs"] += 1
    STATS[result] += 1


# Hand-picked programs, so that each operation kind is known to run (and to
# agree) whatever the random draw covers.
FIXED = [
    # values both ways, kwargs, a trace, a finish into main
    [["new", None, "body"], ["settrace", True], ["switch", 0, 4, False],
     ["switch", "main", 3, False], ["read", 0], ["switch", 0, 1, False], ["finish", 3]],
    # throw into unstarted, suspended and dead greenlets
    [["new", None, "body"], ["throw", 0, ["cls", "ValueError"], False],
     ["new", None, "body"], ["switch", 1, 0, False], ["switch", "main", 0, False],
     ["throw", 1, ["inst", "KeyError"], False], ["throw", 1, ["val", "GreenletExit"], False],
     ["read", 1]],
    # reparenting: valid, cyclic, not a greenlet, None, main's parent
    [["new", None, "body"], ["new", 0, "body"], ["parent", 0, 1], ["parent", 1, "self"],
     ["parent", 1, "bad"], ["parent", 1, "none"], ["parent", 0, "main"], ["read", 1]],
    # a child raising into its parent, which catches it
    [["new", None, "body"], ["switch", 0, 0, False], ["new", None, "body"],
     ["switch", 1, 0, True], ["raise", "KeyError"], ["finish", 1]],
    # subclass run, no run, run=None
    [["new", None, "sub"], ["switch", 0, 2, False], ["new", None, "norun"],
     ["switch", 1, 0, False], ["new", None, "runnone"], ["read", 2], ["switch", 2, 0, False]],
]
if not PYPY:
    # dropping a suspended greenlet kills it
    FIXED.append(
        [["new", None, "body"], ["switch", 0, 0, False], ["switch", "main", 0, False],
         ["drop", 0], ["new", None, "body"]])


@pytest.mark.parametrize("ops", FIXED, ids=range(len(FIXED)))
def test_fixed_programs(workers, ops):
    assert _check(workers, ops) == "identical"


def test_documented_differences_are_in_readme():
    with open(README) as f:
        text = " ".join(f.read().split())
    for name, phrase in harness.DOCUMENTED.items():
        assert " ".join(phrase.split()) in text, (
            "difference %r accepted by the differential test is not documented in "
            "README.md's 'How it differs from greenlet'" % name)
