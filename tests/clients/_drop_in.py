"""Shared by the client programs: how this run got greenlet_cffi, and the
proof that `import greenlet` really is it.  argv[1] is the mode:

  env       GREENLET_CFFI_AS_GREENLET=1 was set: the .pth registered at start
  run       started through python -m greenlet_cffi.run
  register  the program calls greenlet_cffi.compat.register() itself
"""
import sys


def setup():
    mode = sys.argv[1]
    if mode in ("env", "run"):
        # Registered before the program's first line, by the start-up hook.
        assert "greenlet" in sys.modules, "the start-up hook did not register"
    elif mode == "register":
        assert "greenlet" not in sys.modules, "registered already?"
        from greenlet_cffi import compat
        compat.register()
    else:
        raise SystemExit("unknown mode %r" % mode)
    check()
    return mode


def check():
    import greenlet
    import greenlet_cffi
    assert greenlet.greenlet is greenlet_cffi.greenlet, greenlet.greenlet
    assert greenlet.getcurrent is greenlet_cffi.getcurrent


def on_ours(g):
    """g (a library's greenlet, seen running) is one of greenlet_cffi's."""
    import greenlet_cffi
    assert isinstance(g, greenlet_cffi.greenlet), type(g).__mro__
    assert g.parent is not None, "expected to run in a spawned greenlet"
