"""Run a program with greenlet_cffi standing in for greenlet.

    python -m greenlet_cffi.run script.py [args...]
    python -m greenlet_cffi.run -m module [args...]

Like ``python script.py`` / ``python -m module``, after
``greenlet_cffi.compat.register()``.  It also sets GREENLET_CFFI_AS_GREENLET=1
in the environment, so the Python child processes the program starts (with
this environment, and greenlet_cffi installed where they run) register at
their start too, through the package's ``.pth`` file.
"""
import os
import runpy
import sys
from typing import List, Optional

from . import compat

USAGE = ("usage: python -m greenlet_cffi.run script.py [args...]\n"
         "       python -m greenlet_cffi.run -m module [args...]\n")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv == ["-m"]:
        sys.stderr.write(USAGE)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    os.environ[compat.ENV_VAR] = "1"
    compat.register()
    if argv[0] == "-m":
        # As `python -m`: sys.path[0] stays the working directory.
        sys.argv[:] = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        # As `python script.py`: the script's directory comes first.
        script = argv[0]
        sys.argv[:] = argv
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
