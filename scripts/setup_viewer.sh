#!/usr/bin/env bash
# Installs what tests/test_viewer.py needs: Chromium and npm from Debian's
# apt mirrors (when missing) and speedscope from the npm registry, unpacked
# into the cache (tests/viewer_harness.py; $GREENLET_CFFI_CACHE or
# ~/.cache/greenlet_cffi). Without them the viewer tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
    echo ">>> installing$missing with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
python3 -c 'import sys; sys.path.insert(0, "tests"); import viewer_harness as v; print(">>> speedscope:", v.speedscope_app())'
