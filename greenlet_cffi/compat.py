"""greenlet_cffi under greenlet's name, for code that says ``import greenlet``.

After :func:`register`, ``import greenlet`` (and ``from greenlet import
greenlet``, ``import greenlet._greenlet``) anywhere in the process gives a
module whose names are greenlet_cffi's: ``greenlet.greenlet is
greenlet_cffi.greenlet``.  It reports ``__version__`` :data:`GREENLET_VERSION`:
greenlet_cffi implements the greenlet 3.x API as that release of greenlet
behaves (the suite is checked against it), so version checks written for
greenlet 3 accept it.

This is the cffi-port convention (psycopg2cffi's ``compat.register()``,
PyMySQL's ``install_as_MySQLdb()``).  Whole programs opt in without a code
change through ``GREENLET_CFFI_AS_GREENLET=1`` (a ``.pth`` file installed
with the package calls :func:`register` at interpreter start) or
``python -m greenlet_cffi.run``.

On PyPy, code written for PyPy's bundled greenlet may look below its API:
gevent's ``Greenlet.dead`` reads the bundled class's private
``_greenlet__main`` and ``_greenlet__started`` and asks
``_continuation.continulet.is_pending(greenlet)``, because the bundled
greenlet *is* a continulet.  :func:`register` answers those three questions
for greenlet_cffi's greenlets too (see :func:`_pypy_internals`).
"""
import sys
import types
from importlib.machinery import ModuleSpec
from typing import Any, List, Optional

import greenlet_cffi

__all__ = ["register", "is_registered", "GREENLET_VERSION", "ENV_VAR"]

#: The greenlet release whose API (and ``__version__``) the alias reports.
GREENLET_VERSION = "3.5.6"
#: Setting it to a value other than "" or "0" registers at interpreter start.
ENV_VAR = "GREENLET_CFFI_AS_GREENLET"

# The public names of greenlet's module (and of its greenlet._greenlet).
_NAMES = ("greenlet", "getcurrent", "GreenletExit", "error", "settrace",
          "gettrace", "GREENLET_USE_GC", "GREENLET_USE_TRACING",
          "GREENLET_USE_CONTEXT_VARS", "GREENLET_USE_STANDARD_THREADING")

_alias: Optional[types.ModuleType] = None   # the `greenlet` module we made


def _make_alias() -> types.ModuleType:
    mod = types.ModuleType("greenlet", "greenlet_cffi under greenlet's name "
                           "(greenlet_cffi.compat.register()).")
    sub = types.ModuleType("greenlet._greenlet", mod.__doc__)
    for m in (mod, sub):
        attrs = {name: getattr(greenlet_cffi, name) for name in _NAMES}
        attrs.update(__version__=GREENLET_VERSION, __all__=list(_NAMES[:6]),
                     __package__="greenlet",
                     # A spec, so that importlib.util.find_spec("greenlet"),
                     # which libraries use to test for greenlet, finds it.
                     __spec__=ModuleSpec(m.__name__, None, origin=__name__,
                                         is_package=m is mod),
                     __greenlet_cffi__=greenlet_cffi)   # how to tell it is ours
        if greenlet_cffi._C_API is not None:
            # where greenlet.h's PyGreenlet_Import() looks (both places)
            attrs["_C_API"] = greenlet_cffi._C_API
        m.__dict__.update(attrs)
    # A package, so that `import greenlet.<name>` of anything we lack fails
    # as a missing submodule rather than as "not a package".
    mod.__dict__.update(__path__=[], _greenlet=sub)
    return mod


def is_registered() -> bool:
    """Whether ``import greenlet`` gives greenlet_cffi now."""
    mod = sys.modules.get("greenlet")
    return mod is not None and getattr(mod, "greenlet", None) is greenlet_cffi.greenlet


def _live_greenlets(mod: types.ModuleType) -> List[Any]:
    """The live greenlets (started and not finished, or not yet started;
    main greenlets aside) of another greenlet module ``mod``.

    Found by one walk over the objects the GC knows (greenlet objects are
    GC objects on CPython; PyPy lists every object): nothing cheaper would
    notice a greenlet suspended somewhere, and register() walks only when
    another greenlet module was imported.  A main greenlet always exists
    once getcurrent() ran; it is not counted.
    """
    found: List[Any] = []
    cls = getattr(mod, "greenlet", None)
    if not isinstance(cls, type):
        return found
    import gc
    for obj in gc.get_objects():
        # type(), not isinstance(): no user __class__ property runs here.
        if issubclass(type(obj), cls):
            try:
                if obj.parent is None or obj.dead:
                    continue            # a main greenlet, or a finished one
            except Exception:
                pass                    # unsure: count it
            found.append(obj)
    return found


def register() -> types.ModuleType:
    """Make ``import greenlet`` give greenlet_cffi in this process; return
    the ``greenlet`` module it gives.  Calling it again does nothing more.

    A ``greenlet`` imported before is replaced if none of its greenlets
    exist yet (modules that kept its names go on using them); with live
    greenlets of another implementation it raises ImportError, since
    mixing two stack switchers in one thread cannot work.
    """
    global _alias
    old: Any = sys.modules.get("greenlet")
    if old is not None and old is not _alias and old is not greenlet_cffi \
            and getattr(old, "greenlet", None) is not greenlet_cffi.greenlet:
        live = _live_greenlets(old)
        if live:
            raise ImportError(
                "greenlet_cffi.compat.register(): another greenlet module "
                "(%s, version %s) was imported and %d of its greenlets are "
                "alive; greenlet_cffi cannot stand in for it now. Register "
                "before anything imports greenlet (e.g. set %s=1 in the "
                "environment, or run under python -m greenlet_cffi.run)."
                % (getattr(old, "__file__", old.__name__),
                   getattr(old, "__version__", "?"), len(live), ENV_VAR))
    if _alias is None:
        _alias = _make_alias()
    sys.modules["greenlet"] = _alias
    sys.modules["greenlet._greenlet"] = _alias.__dict__["_greenlet"]
    if sys.implementation.name == "pypy":
        _pypy_internals()
    return _alias


# -- PyPy: what code written for PyPy's bundled greenlet reads ------------

def _pypy_internals() -> None:
    """gevent (on PyPy, where it is pure Python on greenlet's API) decides
    ``Greenlet.dead`` as PyPy's bundled greenlet would: ``self.
    _greenlet__main``, ``self._greenlet__started``, and
    ``_continuation.continulet.is_pending(self)`` (it overrides
    ``__bool__``, which the bundled ``dead`` relies on).  greenlet_cffi's
    greenlet is not a continulet (it owns one, in the backend), so:

    * the two private names become read-only properties of our class that
      say the same from the public API: main = no parent; started = alive
      or dead;
    * ``sys.modules["_continuation"]`` becomes a copy of that module whose
      ``continulet`` is a subclass answering ``is_pending(g)`` for a
      greenlet as the bundled one does: started and not finished, and
      False for a main greenlet.  Real
      continulets behave as before (the subclass adds no state); modules
      that imported ``_continuation`` earlier, greenlet_cffi's backend
      among them, keep the original.
    """
    cls: Any = greenlet_cffi.greenlet
    if "_greenlet__started" not in cls.__dict__:
        alive, dead, parent = cls.__bool__, cls.dead.__get__, cls.parent.__get__
        # The base class's own bool/dead/parent: subclasses (gevent's
        # Greenlet) override __bool__ and dead with their own meaning.
        cls._greenlet__main = property(lambda g: parent(g) is None)
        cls._greenlet__started = property(lambda g: alive(g) or dead(g))
    import _continuation
    if not getattr(_continuation, "__greenlet_cffi__", False):
        sys.modules["_continuation"] = _continuation_proxy(_continuation)


def _continuation_proxy(real: Any) -> types.ModuleType:
    proxy = types.ModuleType(real.__name__, real.__doc__)
    proxy.__dict__.update(
        (k, v) for k, v in real.__dict__.items()
        if k not in ("__name__", "__doc__"))
    base: Any = real.continulet
    base_is_pending = base.is_pending
    glet = greenlet_cffi.greenlet
    alive, parent = glet.__bool__, glet.parent.__get__

    class continulet(base):  # type: ignore[misc]
        __slots__ = ()
        __doc__ = base.__doc__

        def is_pending(self) -> bool:
            if isinstance(self, glet):
                # As for the bundled greenlet: started and not finished, and
                # never a main greenlet (it holds no continulet stack there).
                return alive(self) and parent(self) is not None
            return bool(base_is_pending(self))

    continulet.__module__ = base.__module__
    continulet.__qualname__ = "continulet"
    proxy.__dict__.update(continulet=continulet, __greenlet_cffi__=True)
    return proxy


def _startup() -> None:
    """Called by the .pth file at interpreter start when ENV_VAR is set."""
    try:
        register()
    except Exception as e:      # never stop the interpreter from starting
        sys.stderr.write("greenlet_cffi: %s is set but register() failed: "
                         "%s: %s\n" % (ENV_VAR, type(e).__name__, e))
