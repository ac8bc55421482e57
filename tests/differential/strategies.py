"""Hypothesis strategies for the programs that tests/differential/program.py runs."""
from hypothesis import strategies as st

# Up to 6 greenlets, so that operations often hit one that exists.
INDEX = st.one_of(st.integers(0, 5), st.just("main"))
PARENT = st.one_of(st.none(), st.just("main"), st.integers(0, 5))
EXC = st.sampled_from(["ValueError", "KeyError", "GreenletExit", "SystemExit"])
THROW = st.tuples(st.sampled_from(["cls", "cls", "val", "inst", "none", "bad"]), EXC)


def ops(with_drop=True):
    choices = [
        st.tuples(st.just("new"), PARENT, st.sampled_from(["body"] * 6 + ["sub", "norun", "runnone"])),
        st.tuples(st.just("new"), st.none(), st.just("body")),
        st.tuples(st.just("switch"), INDEX, st.integers(0, 5), st.booleans()),
        st.tuples(st.just("switch"), INDEX, st.integers(0, 5), st.booleans()),
        st.tuples(st.just("throw"), INDEX, THROW, st.booleans()),
        st.tuples(st.just("parent"), st.integers(0, 5),
                  st.one_of(INDEX, st.sampled_from(["self", "none", "bad"]))),
        st.tuples(st.just("read"), INDEX),
        st.tuples(st.just("finish"), st.integers(0, 9)),
        st.tuples(st.just("raise"), EXC),
        st.tuples(st.just("settrace"), st.booleans()),
    ]
    if with_drop:
        choices.append(st.tuples(st.just("drop"), st.integers(0, 5)))
    return st.one_of(choices).map(list)


def programs(with_drop=True, max_size=40):
    return st.lists(ops(with_drop), min_size=1, max_size=max_size)
