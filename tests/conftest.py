"""Shared helpers for the greenlet_cffi test suite.

Anything that might take the interpreter down (deep recursion, huge
numbers of greenlets, threads combined with garbage collection of
greenlets, interpreter-level tracing hooks, KeyboardInterrupt, ...) is
executed in a child interpreter via the ``run_script`` fixture, so that a
crash fails a single test instead of the whole session.
"""
import gc
import os
import subprocess
import sys
import textwrap

import pytest

import greenlet_cffi


def _import_root():
    """Directory that must be on sys.path for ``import greenlet_cffi``."""
    path = os.path.abspath(greenlet_cffi.__file__)
    parent = os.path.dirname(path)
    if os.path.splitext(os.path.basename(path))[0] == "__init__":
        # A package: its parent directory is the import root.
        parent = os.path.dirname(parent)
    return parent


def _child_env():
    env = dict(os.environ)
    entries = [_import_root()]
    # Keep every sys.path entry of this interpreter so the child resolves
    # greenlet_cffi (and its dependencies) exactly as we do.
    for entry in sys.path:
        if entry and entry not in entries:
            entries.append(entry)
    old = env.get("PYTHONPATH")
    if old:
        entries.append(old)
    env["PYTHONPATH"] = os.pathsep.join(entries)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


def run_script(code, timeout=60):
    """Run ``code`` (dedented) in a fresh interpreter.

    Returns a ``subprocess.CompletedProcess`` with text ``stdout`` and
    ``stderr``; the caller asserts on ``returncode`` and the output.  A
    child that does not finish within ``timeout`` seconds (e.g. a deadlock)
    is killed and the test fails.
    """
    code = textwrap.dedent(code)
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            env=_child_env(),
            # ``-c`` puts the working directory first on sys.path; run from
            # the import root so the child imports the very same package.
            cwd=_import_root(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail("child interpreter timed out after %ss\n--- stdout ---\n%s"
                    "\n--- stderr ---\n%s" % (timeout, exc.stdout, exc.stderr))


def check_script(code, timeout=60):
    """Run ``code`` in a child interpreter, require exit status 0.

    Returns the list of stdout lines.
    """
    proc = run_script(code, timeout=timeout)
    assert proc.returncode == 0, (
        "child exited with %r\n--- stdout ---\n%s\n--- stderr ---\n%s"
        % (proc.returncode, proc.stdout, proc.stderr)
    )
    return proc.stdout.splitlines()


@pytest.fixture(name="run_script")
def run_script_fixture():
    return run_script


@pytest.fixture(name="check_script")
def check_script_fixture():
    return check_script


def collect():
    """Collect garbage thoroughly (PyPy needs several passes)."""
    for _ in range(4):
        gc.collect()


@pytest.fixture(autouse=True)
def _no_leftover_trace():
    """Make sure no test leaks a greenlet trace function into the next."""
    yield
    if greenlet_cffi.gettrace() is not None:
        greenlet_cffi.settrace(None)
        pytest.fail("test left a greenlet trace function installed")


@pytest.fixture(name="collect")
def collect_fixture():
    return collect


def pytest_report_header(config):
    return "greenlet_cffi under test: %s (version %s)" % (
        greenlet_cffi.__file__, getattr(greenlet_cffi, "__version__", "?"))
