"""Allocation failures in the C core: builds greenlet_cffi with
-DGCFFI_FAULT_INJECTION into a temporary directory (through build_ffi.py and
GCFFI_CFLAGS) and runs tests/fault_program.py there, which makes every
allocation of spawn, switch, throw and finish fail in turn: each must give
MemoryError in Python and leave every greenlet usable -- never an abort.
CPython only (PyPy has no C core of ours)."""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

import greenlet_cffi

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


@pytest.fixture(scope="module")
def fault_build(tmp_path_factory):
    if sys.implementation.name != "cpython":
        pytest.skip("PyPy switches with its own stacklet core: no C core of ours to fail")
    if not os.path.exists(os.path.join(REPO, "build_ffi.py")):
        pytest.skip("needs the source tree (build_ffi.py) beside the tests")
    tmp = str(tmp_path_factory.mktemp("fault"))
    pkg = os.path.join(tmp, "greenlet_cffi")
    os.makedirs(pkg)
    for f in glob.glob(os.path.join(os.path.dirname(greenlet_cffi.__file__), "*.py")):
        shutil.copy(f, pkg)
    # cffi compiles inside tmpdir, where build_ffi.py's relative sources
    # must resolve.  A copy, not a symlink: the compiler writes its object
    # files beside the sources, and through a symlink two interpreters
    # running this test at once (CI runs them in pairs) wrote the same
    # csrc/*.o -- a CPython 3.9 core got an object built for another
    # version and segfaulted at import (a CI run, 2026-11-27).
    shutil.copytree(os.path.join(REPO, "csrc"), os.path.join(tmp, "csrc"))
    env = dict(os.environ, GCFFI_CFLAGS="-DGCFFI_FAULT_INJECTION -O1 -g")
    build = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); import build_ffi; "
         "build_ffi.ffibuilder.compile(tmpdir=sys.argv[1])", tmp],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=600)
    assert build.returncode == 0, build.stdout[-5000:]
    return tmp


def test_every_allocation_failure_is_a_memory_error(fault_build):
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "fault_program.py")], cwd=fault_build,
        env=dict(os.environ, PYTHONPATH=fault_build, PYTHONFAULTHANDLER="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, "abort or crash (%r):\n%s" % (proc.returncode, proc.stderr[-5000:])
    result = json.loads(proc.stdout.splitlines()[-1])
    print(result)
    assert result["problems"] == []
    # The walk did fail allocations of every kind of step (a handful at least).
    assert result["allocations"] >= 5 and result["memory_errors"] >= result["allocations"]
