"""The test-support functions that greenlet's own test suite imports from
``greenlet._greenlet``, with the same meaning for greenlet_cffi.  The
``greenlet`` alias used to run that suite (tests/upstream/) exposes them."""
import threading

from . import _backend as _b
from . import _greenlet as _l

__all__ = ["get_pending_cleanup_count", "get_total_main_greenlets",
           "enable_optional_cleanup", "get_clocks_used_doing_optional_cleanup",
           "CLOCKS_PER_SEC", "set_thread_local"]

#: The unit of get_clocks_used_doing_optional_cleanup().
CLOCKS_PER_SEC = 1000000


def get_pending_cleanup_count():
    """Greenlets dropped elsewhere that their live thread has yet to kill."""
    return sum(len(ts.doomed) for ts in list(_l._all_states) if ts.alive)


def get_total_main_greenlets():
    """Main greenlets that still exist (those of ended threads included,
    while anything holds them)."""
    return len(_l._all_mains)


def enable_optional_cleanup(flag):
    """Whether ending a thread releases what its thread state holds (see
    _greenlet._thread_ended); off, those references leak as in greenlet."""
    _l._cleanup["enabled"] = bool(flag)


def get_clocks_used_doing_optional_cleanup():
    """Processor time spent in that cleanup, in CLOCKS_PER_SEC units;
    None while it is disabled."""
    if not _l._cleanup["enabled"]:
        return None
    return int(_l._cleanup["seconds"] * CLOCKS_PER_SEC)


def set_thread_local(key, value):
    """Store value under key in this thread's own dictionary (cleared, and
    its values released, when the thread ends)."""
    setattr(_thread_dict, key, value)


_thread_dict = threading.local()


if _b.trash_delete_nesting() is not None:
    def get_tstate_trash_delete_nesting():
        """The thread's trashcan nesting (CPython before 3.13)."""
        return _b.trash_delete_nesting()
    __all__.append("get_tstate_trash_delete_nesting")
