"""Types: mypy (strict) passes on the installed package and on a small typed
program using it, reveals getcurrent() as greenlet, and rejects misuse."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import _child_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "pyproject.toml")

pytestmark = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import mypy"],
                   stderr=subprocess.DEVNULL).returncode != 0,
    reason="mypy is not installed in this venv (scripts/setup_venvs.sh installs "
           "it on CPython; the stubs are the same on every interpreter)")

GOOD = '''\
from typing import Optional, Tuple, TYPE_CHECKING

import greenlet_cffi
from greenlet_cffi import GreenletExit, compat, getcurrent, greenlet


def consumer() -> int:
    total = 0
    parent = getcurrent().parent
    assert parent is not None
    while True:
        item: Optional[int] = parent.switch(total)
        if item is None:
            return total
        total += item


def tracer(event: str, args: Tuple[greenlet, greenlet]) -> None:
    origin, target = args
    assert event in ("switch", "throw") and origin is not target or True


class Worker(greenlet):
    def run(self) -> str:
        return "done"


c = greenlet(consumer)
c.switch()
for i in range(5):
    c.switch(i)
total: int = c.switch(None)
assert total == 10 and c.dead and not c

old = greenlet_cffi.settrace(tracer)
assert greenlet_cffi.gettrace() is tracer
greenlet_cffi.settrace(old)
w = Worker()
assert w.switch() == "done"
try:
    greenlet(lambda: None).throw(GreenletExit)
except GreenletExit:
    pass
print(greenlet_cffi.BACKEND, greenlet_cffi.__version__, compat.GREENLET_VERSION)
if TYPE_CHECKING:
    reveal_type(greenlet_cffi.getcurrent())
    reveal_type(c.parent)
    reveal_type(c.gr_frame)
    reveal_type(w.dead)
    reveal_type(compat.register())
'''

BAD = '''\
import greenlet_cffi
from greenlet_cffi import greenlet
g = greenlet(run=42)
g.dead = True
name: str = greenlet_cffi.getcurrent()
greenlet_cffi.settrace(lambda event: None)
'''


def mypy(*args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", CONFIG,
         "--no-incremental", "--cache-dir", os.devnull] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        cwd=cwd, env=_child_env(), timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(autouse=True)
def _config():
    if not os.path.exists(CONFIG):
        pytest.skip("no pyproject.toml beside tests/ (the mypy configuration)")


def test_mypy_on_package(tmp_path):
    rc, out = mypy("-p", "greenlet_cffi", cwd=str(tmp_path))
    assert rc == 0 and "Success: no issues found" in out, out


def test_mypy_on_typed_example(tmp_path):
    (tmp_path / "example.py").write_text(GOOD)
    rc, out = mypy("example.py", cwd=str(tmp_path))
    assert rc == 0, out
    revealed = [line.split("Revealed type is ", 1)[1]
                for line in out.splitlines() if "Revealed type is " in line]
    assert revealed[0] == '"greenlet_cffi._greenlet.greenlet"', out
    # Optional[X] reads "X | None" or "Union[X, None]" by mypy version.
    expected = [("greenlet_cffi._greenlet.greenlet", "None"),
                ("types.FrameType", "None"), ("bool",),
                ("types.ModuleType",)]
    assert len(revealed) == 5, out
    for got, parts in zip(revealed[1:], expected):
        assert all(p in got for p in parts), out
    # And the example runs as typed.
    proc = subprocess.run([sys.executable, str(tmp_path / "example.py")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=_child_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_mypy_rejects_misuse(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    rc, out = mypy("bad.py", cwd=str(tmp_path))
    assert rc == 1, out
    lines = sorted({int(line.split(":")[1]) for line in out.splitlines()
                    if line.startswith("bad.py:") and ": error:" in line})
    assert lines == [3, 4, 5, 6], out
