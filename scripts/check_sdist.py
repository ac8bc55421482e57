"""Checks that an sdist holds what building and testing greenlet_cffi need
and nothing else: exactly the tracked files under csrc/, greenlet_cffi/,
tests/ and the top-level build files, plus what setuptools generates.
Usage: python scripts/check_sdist.py dist/greenlet_cffi-X.tar.gz"""
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP = {"README.md", "LICENSE", "MANIFEST.in", "build_ffi.py",
       "greenlet_cffi.pth", "pyproject.toml", "setup.py"}
DIRS = ("csrc/", "greenlet_cffi/", "tests/")
GENERATED = {"PKG-INFO", "setup.cfg"}
NEEDED = {"build_ffi.py", "setup.py", "pyproject.toml", "greenlet_cffi.pth",
          "csrc/core.c", "csrc/stack.c", "csrc/platform/select.h",
          "greenlet_cffi/py.typed", "greenlet_cffi/__init__.pyi",
          "tests/conftest.py", "tests/clients/requirements.txt"}


def wanted(path):
    return path in TOP or path.startswith(DIRS)


def tracked():
    out = subprocess.check_output(["git", "ls-files", "-z"], cwd=ROOT)
    return {p for p in out.decode().split("\0") if p and wanted(p)}


def main(sdist):
    with tarfile.open(sdist) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    prefix = names[0].split("/", 1)[0] + "/"
    have = {n[len(prefix):] for n in names}
    generated = {n for n in have if n in GENERATED or n.startswith("greenlet_cffi.egg-info/")}
    have -= generated
    problems = ["missing (needed): " + p for p in sorted(NEEDED - have)]
    if os.path.isdir(os.path.join(ROOT, ".git")) or os.path.isfile(os.path.join(ROOT, ".git")):
        expect = tracked()
        problems += ["missing: " + p for p in sorted(expect - have)]
        problems += ["not wanted: " + p for p in sorted(have - expect)]
    else:
        problems += ["not wanted: " + p for p in sorted(have) if not wanted(p)]
    for p in problems:
        print("sdist %s: %s" % (os.path.basename(sdist), p))
    if problems:
        return 1
    print("sdist %s: %d files, as expected" % (os.path.basename(sdist), len(have)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
