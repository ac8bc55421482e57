"""CI smoke run of the stack-core fuzzer (fuzz/fuzz_stack.c: libFuzzer,
ASan, UBSan) for a few seconds; fuzz/run.sh is the long run."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(os.environ.get("GCFFI_FUZZ_SECONDS", "5"))


def test_fuzz_stack_core():
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("no clang (Debian: apt-get install clang; scripts/test_all.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "fuzz_stack")
        build = subprocess.run(
            [clang, "-g", "-O1", "-DGCFFI_ASAN", "-fsanitize=fuzzer,address,undefined",
             "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
             "-I", os.path.join(REPO, "csrc"), os.path.join(REPO, "fuzz", "fuzz_stack.c"),
             os.path.join(REPO, "csrc", "stack.c"), "-o", exe],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if build.returncode != 0 and "fuzzer" in build.stdout and "cannot find" in build.stdout:
            pytest.skip("clang has no libFuzzer runtime: %s" % build.stdout[-500:])
        assert build.returncode == 0, build.stdout
        proc = subprocess.run(
            [exe, "-max_total_time=%d" % SECONDS, "-max_len=512", "-seed=1",
             "-artifact_prefix=%s/" % tmp],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
            env=dict(os.environ, ASAN_OPTIONS="detect_stack_use_after_return=0"),
            timeout=SECONDS + 120)
    assert proc.returncode == 0, proc.stdout[-6000:]
    runs = re.search(r"Done (\d+) runs", proc.stdout)
    assert runs and int(runs.group(1)) > 100, proc.stdout[-2000:]
    print("fuzz_stack: %s runs in %ss" % (runs.group(1), SECONDS))
