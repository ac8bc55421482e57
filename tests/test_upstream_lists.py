"""The lists that shape the run of greenlet's own suite (tests/upstream/):
every line well-formed, with a known scope and a reason, and no test both
excluded and known failing."""
import os
import re

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream")
SCOPE = re.compile(r"^(all|cpython|pypy|cp3\d+|pypy3\d+)$")
NODE = re.compile(r"^greenlet/tests/test_\w+\.py(::\w+::\w+)?$")


def _entries(name):
    out = []
    with open(os.path.join(HERE, name)) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            spec, sep, reason = line.partition("#")
            fields = spec.split()
            assert len(fields) == 2 and sep and reason.strip(), "%s:%d: %r" % (name, n, line)
            assert SCOPE.match(fields[0]), "%s:%d: scope %r" % (name, n, fields[0])
            assert NODE.match(fields[1]), "%s:%d: node %r" % (name, n, fields[1])
            out.append((fields[0], fields[1]))
    return out


@pytest.mark.parametrize("name", ["excluded.txt", "known_failing.txt", "no_leak.txt"])
def test_lines_are_well_formed(name):
    entries = _entries(name)
    assert len(entries) == len(set(entries)), "a line is there twice"


def _overlap(a, b):
    """Whether two scopes can apply to the same interpreter."""
    if "all" in (a, b) or a == b:
        return True
    family = {"cpython": "cp", "pypy": "pypy"}
    return any(x in family and y.startswith(family[x]) and y != x
               for x, y in ((a, b), (b, a)))


@pytest.mark.parametrize("a,b", [("excluded.txt", "known_failing.txt"),
                                 ("excluded.txt", "no_leak.txt"),
                                 ("known_failing.txt", "no_leak.txt")])
def test_no_test_is_in_two_lists(a, b):
    both = [(node, s1, s2) for s1, node in _entries(a)
            for s2, other in _entries(b)
            if node == other and _overlap(s1, s2)]
    assert not both
