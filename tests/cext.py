"""Compiles a one-file C or C++ extension module for the running CPython
with the compiler it was built with (sysconfig): greenlet's test extensions
(tests/upstream/run_upstream.py) and ours (tests/test_capi.py)."""
import os
import shlex
import subprocess
import sysconfig


def build(src, outdir, include_dirs=()):
    """Compile src into outdir as <name><EXT_SUFFIX> unless up to date;
    return its path.  A compiler error raises CalledProcessError."""
    cfg = sysconfig.get_config_var
    name = os.path.basename(src).rsplit(".", 1)[0]
    out = os.path.join(outdir, name + cfg("EXT_SUFFIX"))
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    cpp = src.endswith(".cpp")
    compiler = (cfg("CXX") or "c++") if cpp else (cfg("CC") or "cc")
    tmp = "%s.%d.tmp" % (out, os.getpid())
    cmd = shlex.split(compiler) + ["-shared", "-fPIC", "-O1",
                                   "-I", sysconfig.get_paths()["include"]]
    for d in include_dirs:
        cmd += ["-I", d]
    cmd += [src, "-o", tmp] + (["-lstdc++"] if cpp else [])
    subprocess.check_call(cmd)
    os.replace(tmp, out)    # concurrent builds (other versions) stay safe
    return out
