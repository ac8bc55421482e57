#!/usr/bin/env bash
# Builds fuzz/fuzz_stack.c (libFuzzer + ASan + UBSan, with Debian's clang)
# against csrc/stack.c and runs it.  Usage: fuzz/run.sh [SECONDS] [libFuzzer options...]
# (default 600 s: the documented long run; tests/test_fuzz_stack.py runs a
# few seconds of it in CI).  A failing input is written to fuzz/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}; shift || true
if ! command -v clang >/dev/null; then
    echo ">>> installing clang with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
mkdir -p fuzz/out
clang -g -O1 -DGCFFI_ASAN -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -I csrc fuzz/fuzz_stack.c csrc/stack.c -o fuzz/out/fuzz_stack
# The core's own stack copies are not checked (see csrc/stack.c); ASan's fake
# stack would move frames off the stack the core slices.
ASAN_OPTIONS=detect_stack_use_after_return=0 \
    fuzz/out/fuzz_stack -max_total_time="$secs" -max_len=512 -print_final_stats=1 \
    -artifact_prefix=fuzz/out/ "$@"
