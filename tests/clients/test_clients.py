"""Real libraries on greenlet_cffi through the drop-in, each program in a
child interpreter, in each way of opting in (see _drop_in.py): the
environment variable (.pth at start-up), python -m greenlet_cffi.run, and
compat.register() in the program.  Each program asserts that the greenlets
the library runs are greenlet_cffi's and prints one OK line."""
import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import _child_env

HERE = os.path.dirname(os.path.abspath(__file__))
PYPY = sys.implementation.name == "pypy"
MODES = ["env", "run", "register"]


def _missing(*modules):
    for m in modules:
        if importlib.util.find_spec(m) is None:
            return m
    return None


def run_client(prog, mode, timeout=240):
    env = _child_env()
    env.pop("GREENLET_CFFI_AS_GREENLET", None)
    path = os.path.join(HERE, prog)
    if mode == "env":
        env["GREENLET_CFFI_AS_GREENLET"] = "1"
        cmd = [sys.executable, path, mode]
    elif mode == "run":
        cmd = [sys.executable, "-m", "greenlet_cffi.run", path, mode]
    else:
        cmd = [sys.executable, path, mode]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env, cwd=HERE,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s %s timed out after %ss\n%s\n%s"
                    % (prog, mode, timeout, e.stdout, e.stderr))
    assert proc.returncode == 0, (
        "%s (%s) exited with %r\n--- stdout ---\n%s\n--- stderr ---\n%s"
        % (prog, mode, proc.returncode, proc.stdout, proc.stderr))
    ok = [line for line in proc.stdout.splitlines() if line.startswith("OK ")]
    assert ok and ok[-1].split()[3].rstrip(":") == mode, proc.stdout
    print(ok[-1])
    return ok[-1]


def _need(*modules):
    m = _missing(*modules)
    if m is not None:
        pytest.skip("%s is not installed in this venv (scripts/setup_venvs.sh "
                    "installs tests/clients/requirements*.txt; see its output "
                    "for why this one could not be)" % m)


@pytest.mark.parametrize("mode", MODES)
def test_sqlalchemy_asyncio_orm(mode):
    _need("sqlalchemy", "aiosqlite")
    run_client("prog_sqlalchemy.py", mode)


@pytest.mark.parametrize("mode", MODES)
def test_eventlet_echo(mode):
    _need("eventlet")
    run_client("prog_eventlet.py", mode)


@pytest.mark.parametrize("mode", MODES)
def test_gevent_stream_server(mode):
    if not PYPY:
        pytest.skip("gevent on CPython subclasses greenlet's C struct in "
                    "compiled code, a layout greenlet_cffi's greenlet does "
                    "not have (README): the drop-in serves gevent on PyPy")
    _need("gevent")
    run_client("prog_gevent.py", mode)
