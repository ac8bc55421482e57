"""The drop-in: compat.register(), the GREENLET_CFFI_AS_GREENLET start-up
hook (.pth), python -m greenlet_cffi.run, and on PyPy what code written for
PyPy's bundled greenlet reads.  Everything that registers runs in a child
interpreter: registering changes sys.modules for the whole process."""
import os
import subprocess
import sys
import textwrap

import pytest

import greenlet_cffi
from conftest import _child_env, _import_root
from greenlet_cffi import compat

PYPY = sys.implementation.name == "pypy"
VAR = "GREENLET_CFFI_AS_GREENLET"


def run(args, env_var=None, cwd=None, timeout=60):
    """Run ``python args...`` with VAR set to env_var (None: unset)."""
    env = _child_env()
    env.pop(VAR, None)
    if env_var is not None:
        env[VAR] = env_var
    return subprocess.run([sys.executable] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          env=env, cwd=cwd or _import_root(), timeout=timeout)


def check(code, env_var=None, args=()):
    proc = run(["-c", textwrap.dedent(code)] + list(args), env_var=env_var)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


def _reference_greenlet_available():
    # CPython: greenlet from PyPI (setup_venvs.sh installs it as the
    # benchmark's reference); PyPy: its bundled greenlet.py.
    proc = run(["-c", "import greenlet"])
    return proc.returncode == 0


def test_register_gives_our_names():
    out = check("""
        from greenlet_cffi import compat
        import greenlet_cffi
        mod = compat.register()
        import greenlet
        from greenlet import greenlet as G, getcurrent, GreenletExit, error
        from greenlet import settrace, gettrace
        import greenlet._greenlet
        from greenlet._greenlet import greenlet as G2
        assert mod is greenlet and compat.is_registered()
        assert G is G2 is greenlet_cffi.greenlet
        assert getcurrent is greenlet_cffi.getcurrent
        assert GreenletExit is greenlet_cffi.GreenletExit
        assert error is greenlet_cffi.error
        assert (settrace, gettrace) == (greenlet_cffi.settrace, greenlet_cffi.gettrace)
        for n in ("GC", "TRACING", "CONTEXT_VARS"):
            assert getattr(greenlet, "GREENLET_USE_" + n) is True
        assert greenlet._greenlet.greenlet is G
        import importlib.util
        assert importlib.util.find_spec("greenlet").name == "greenlet"
        assert importlib.util.find_spec("greenlet._greenlet").name == "greenlet._greenlet"
        ns = {}
        exec("from greenlet import *", ns)
        assert ns["greenlet"] is G and ns["getcurrent"] is getcurrent
        assert compat.register() is greenlet        # again: the same module
        try:
            import greenlet.nosuchthing
        except ModuleNotFoundError as e:
            assert "greenlet.nosuchthing" in str(e)
        else:
            raise AssertionError("imported a submodule that does not exist")
        # It works under its new name.
        g = greenlet.greenlet(lambda x: greenlet.getcurrent().parent.switch(x + 1))
        assert g.switch(41) == 42 and not g.dead
        print(greenlet.__version__)
    """)
    assert out == [compat.GREENLET_VERSION]


def test_version_passes_greenlet_3_checks():
    parts = tuple(int(p) for p in compat.GREENLET_VERSION.split("."))
    assert parts[0] == 3 and len(parts) == 3
    # What libraries compare against: gevent needs >= 3.2.2 on CPython,
    # SQLAlchemy and eventlet >= 1.0.
    assert parts >= (3, 2, 2)


def _foreign_state_code(state):
    # A greenlet of the reference implementation in the given state, then
    # register().
    return """
        import greenlet as ref
        from greenlet_cffi import compat
        state = %r
        if state == "suspended":
            g = ref.greenlet(lambda: ref.getcurrent().parent.switch())
            g.switch()
        elif state == "unstarted":
            g = ref.greenlet(lambda: None)
        elif state == "finished":
            g = ref.greenlet(lambda: None)
            g.switch()
        elif state == "main only":
            ref.getcurrent()
        try:
            mod = compat.register()
        except ImportError as e:
            print("refused:", e)
        else:
            import greenlet, greenlet_cffi
            assert greenlet is mod and greenlet.greenlet is greenlet_cffi.greenlet
            print("registered")
    """ % state


@pytest.mark.parametrize("state", ["suspended", "unstarted"])
def test_refuses_with_live_foreign_greenlets(state):
    if not _reference_greenlet_available():
        pytest.skip("no reference greenlet importable here to be the other one")
    out = " ".join(check(_foreign_state_code(state)))
    assert out.startswith("refused:"), out
    assert "1 of its greenlets are alive" in out and VAR in out


@pytest.mark.parametrize("state", ["finished", "main only", "imported only"])
def test_replaces_foreign_greenlet_without_live_greenlets(state):
    if not _reference_greenlet_available():
        pytest.skip("no reference greenlet importable here to be the other one")
    assert check(_foreign_state_code(state)) == ["registered"]


def test_env_var_registers_at_start():
    out = check("""
        import sys
        # Nothing imported greenlet here: the .pth did, at start-up.
        mod = sys.modules.get("greenlet")
        import greenlet_cffi
        print(mod is not None and mod.greenlet is greenlet_cffi.greenlet)
    """, env_var="1")
    assert out == ["True"]


@pytest.mark.parametrize("value", [None, "", "0"])
def test_env_var_unset_costs_no_import(value):
    # Every module imported at start-up (the .pth's imports too) is listed
    # by -X importtime, or by -v on PyPy (which has no -X importtime).
    flag, seen, ours = (["-v"], "import 'encodings", "import 'greenlet_cffi") if PYPY \
        else (["-X", "importtime"], "import time:", "greenlet_cffi")
    proc = run(flag + ["-c", "import sys; "
                       "print('greenlet_cffi' in sys.modules, 'greenlet' in sys.modules)"],
               env_var=value)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
    assert seen in proc.stderr
    assert ours not in proc.stderr


def test_pth_installed_beside_package():
    site_dir = _import_root()
    pth = os.path.join(site_dir, "greenlet_cffi.pth")
    if not os.path.exists(pth):
        pytest.skip("greenlet_cffi is not installed from a wheel here (%s has "
                    "no greenlet_cffi.pth): the start-up hook cannot be tested"
                    % site_dir)
    with open(pth) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    # One import line (site runs only lines starting with "import").
    assert len(lines) == 1 and lines[0].startswith("import ")
    assert VAR in lines[0]


def test_env_var_reaches_child_processes():
    out = check("""
        import subprocess, sys
        code = ("import sys, greenlet_cffi; m = sys.modules.get('greenlet'); "
                "print(m is not None and m.greenlet is greenlet_cffi.greenlet)")
        print(subprocess.check_output([sys.executable, "-c", code]).decode().strip())
    """, env_var="1")
    assert out == ["True"]


def test_startup_failure_is_reported_not_fatal():
    # What the .pth calls: a failing register() is reported on stderr and
    # the program goes on (on the other greenlet).
    if not _reference_greenlet_available():
        pytest.skip("no reference greenlet importable here to be the other one")
    proc = run(["-c", textwrap.dedent(_foreign_state_code("suspended")).replace(
        "mod = compat.register()", "compat._startup(); mod = compat.register()")])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused:")
    assert proc.stderr.startswith("greenlet_cffi: %s is set but register() "
                                  "failed: ImportError: " % VAR), proc.stderr


def test_startup_import_failure_is_not_fatal(tmp_path):
    # A greenlet_cffi that cannot be imported, ahead of the installed one:
    # `site` reports the .pth line's error, the interpreter still starts.
    if not os.path.exists(os.path.join(_import_root(), "greenlet_cffi.pth")):
        pytest.skip("greenlet_cffi is not installed from a wheel here (no .pth)")
    (tmp_path / "greenlet_cffi").mkdir()
    (tmp_path / "greenlet_cffi" / "__init__.py").write_text("raise RuntimeError('broken')\n")
    env = _child_env()
    env[VAR] = "1"
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env["PYTHONPATH"]
    proc = subprocess.run([sys.executable, "-c", "print('started')"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 0 and proc.stdout.split() == ["started"], proc.stderr
    assert "broken" in proc.stderr


@pytest.fixture
def program(tmp_path):
    code = textwrap.dedent("""
        import os, subprocess, sys
        import greenlet, greenlet_cffi
        assert greenlet.greenlet is greenlet_cffi.greenlet
        print("name", __name__)
        print("argv", *sys.argv[1:])
        print("path0", sys.path[0])
        print("env", os.environ.get("GREENLET_CFFI_AS_GREENLET"))
        child = ("import sys, greenlet_cffi; m = sys.modules.get('greenlet'); "
                 "print(m is not None and m.greenlet is greenlet_cffi.greenlet)")
        print("child", subprocess.check_output([sys.executable, "-c", child]).decode().strip())
        if "fail" in sys.argv:
            sys.exit(3)
    """)
    (tmp_path / "prog.py").write_text(code)
    (tmp_path / "progmod.py").write_text(code)
    return tmp_path


def _lines(stdout):
    return dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)


def test_run_script(program, tmp_path):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    proc = run(["-m", "greenlet_cffi.run", str(program / "prog.py"), "a", "--b"],
               cwd=str(sub))
    assert proc.returncode == 0, proc.stderr
    out = _lines(proc.stdout)
    assert out == {"name": "__main__", "argv": "a --b", "path0": str(program),
                   "env": "1", "child": "True"}


def test_run_module(program):
    proc = run(["-m", "greenlet_cffi.run", "-m", "progmod", "x"], cwd=str(program))
    assert proc.returncode == 0, proc.stderr
    out = _lines(proc.stdout)
    assert out["name"] == "__main__" and out["argv"] == "x"
    assert out["env"] == "1" and out["child"] == "True"


def test_run_exit_status_and_usage(program):
    proc = run(["-m", "greenlet_cffi.run", str(program / "prog.py"), "fail"])
    assert proc.returncode == 3
    proc = run(["-m", "greenlet_cffi.run"])
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_subclass_attribute_names_are_the_subclass_own():
    # gevent's Greenlet keeps its callable in self._run; other libraries'
    # subclasses use names like _parent or _state.  The layer's own state
    # must not live under them.
    out = check("""
        import greenlet_cffi
        class G(greenlet_cffi.greenlet):
            def __init__(self, fn):
                greenlet_cffi.greenlet.__init__(self, None, greenlet_cffi.getcurrent())
                self._run, self._parent, self._state = fn, "p", "s"
                self._ts = self._handle = self._reaper = "mine"
            def run(self):
                return self._run() + (self._parent, self._state, self._ts)
        g = G(lambda: ("ran",))
        print(*g.switch(), g.dead, g._run is not None)
    """)
    assert out == ["ran", "p", "s", "mine", "True", "True"]


# -- PyPy: what code written for the bundled greenlet reads ------------------

PYPY_INTERNALS = """
import sys
if sys.argv[1] == "ours":
    from greenlet_cffi import compat
    compat.register()
import greenlet, _continuation
from greenlet import greenlet as G, getcurrent
pending = _continuation.continulet.is_pending
def probe(g):
    return (bool(g._greenlet__main), bool(g._greenlet__started), bool(pending(g)))
out = {}
out["main"] = probe(getcurrent())
g = G(lambda: out.__setitem__("running", probe(getcurrent())) or getcurrent().parent.switch())
out["unstarted"] = probe(g)
g.switch()
out["suspended"] = probe(g)
g.switch()
out["finished"] = probe(g)
class Sub(G):
    def __bool__(self):         # as gevent's Greenlet does
        return False
s = Sub(lambda: getcurrent().parent.switch())
s.switch()
out["subclass suspended"] = probe(s)
c = _continuation.continulet(lambda c: 7)
out["plain continulet"] = (pending(c), c.switch(), pending(c))
print(sorted(out.items()))
"""


@pytest.mark.skipif(not PYPY, reason="PyPy only: the bundled greenlet's internals")
def test_pypy_internals_match_bundled_greenlet():
    ours = run(["-c", PYPY_INTERNALS, "ours"])
    bundled = run(["-c", PYPY_INTERNALS, "bundled"])
    assert ours.returncode == 0, ours.stderr
    assert bundled.returncode == 0, bundled.stderr
    assert "greenlet_cffi" not in bundled.stdout
    assert ours.stdout == bundled.stdout
    print(ours.stdout)


def test_run_reaches_multiprocessing_spawn_children(tmp_path):
    # The spawn start method starts a fresh interpreter that re-imports the
    # program: it registers through the .pth, from the variable run set.
    (tmp_path / "mp.py").write_text(textwrap.dedent("""
        import multiprocessing, sys

        def registered(_):
            import greenlet, greenlet_cffi
            g = greenlet.greenlet(lambda: greenlet.getcurrent().parent.switch(7))
            return greenlet.greenlet is greenlet_cffi.greenlet and g.switch() == 7

        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                print(*pool.map(registered, range(4)))
    """))
    proc = run(["-m", "greenlet_cffi.run", str(tmp_path / "mp.py")], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True"] * 4
