"""The C stack-switching core alone (csrc/stack.c plus the platform header),
through the C benchmark's built-in checks: values passed across switches, a
recursion pattern intact after thousands of switches, finishing into main.
Natively, and for AArch64 under qemu-user when the cross tools are there."""
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = [os.path.join(REPO, "bench", "c_switch.c"), os.path.join(REPO, "csrc", "stack.c")]


def _build_and_run(cc, runner, expect_platform):
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "c_switch")
        subprocess.run(cc + ["-O2", "-I", os.path.join(REPO, "csrc"), "-o", exe] + SOURCES,
                       check=True)
        proc = subprocess.run(runner + [exe, "--quick"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "platform %s" % expect_platform in proc.stdout
    print(proc.stdout)


def test_core_native():
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) to build the core with")
    expected = {"x86_64": "x86_64-sysv", "AMD64": "x86_64-sysv",
                "aarch64": "aarch64-aapcs", "arm64": "aarch64-aapcs"}.get(platform.machine())
    if expected is None:
        pytest.skip("no switch header for %s" % platform.machine())
    _build_and_run(["cc"], [], expected)


def test_core_aarch64_under_qemu():
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("no aarch64-linux-gnu-gcc / qemu-aarch64 (Debian: gcc-aarch64-linux-gnu, "
                    "libc6-dev-arm64-cross, qemu-user)")
    _build_and_run([cc, "-static"], [qemu], "aarch64-aapcs")
