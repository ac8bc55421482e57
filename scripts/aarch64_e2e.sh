#!/usr/bin/env bash
# greenlet_cffi end to end on AArch64: a Debian arm64 root run by qemu-user
# on this (x86-64) machine, Debian's python3 and python3-cffi, the package
# built there by pip and the whole suite run by pytest.
#
#   scripts/aarch64_e2e.sh [--upstream] [PYTEST ARGS...]
#                                             make the root if needed, copy
#                                             the project in, build, run
#                                             pytest (default: tests/);
#                                             --upstream: then greenlet's own
#                                             suite (tests/upstream/) too
#   scripts/aarch64_e2e.sh ensure             only make the root
#   scripts/aarch64_e2e.sh shell CMD...       run CMD in the root (bash -c)
#   scripts/aarch64_e2e.sh clean              delete the root
#
# Environment: ARM_ROOT (default /var/cache/greenlet_cffi/arm64-root),
# ARM_SUITE (Debian release, default bookworm: CPython 3.11), ARM_MIRROR
# (default deb.debian.org), ARM_TIMEOUT (seconds for the whole pytest run,
# default 5400).  Needs root.
#
# How the foreign binaries run: each command enters a new user namespace
# (uids/gids 0-65535 mapped to themselves, so dpkg's chowns work) with its
# own mount and pid namespaces, mounts a binfmt_misc instance private to that
# user namespace (Linux >= 6.7) and registers qemu-aarch64-static there with
# the F flag (the kernel opens the emulator at registration, so it need not
# exist inside the root).  Nothing is registered machine-wide, the host's
# qemu-user packages are left alone, and /proc, /dev, /sys and the bind mounts
# vanish with the namespace.  The static emulator comes from Debian's
# qemu-user-static package, unpacked (not installed) into the cache.
set -euo pipefail

PROJECT=$(cd "$(dirname "$0")/.." && pwd -P)
CACHE=/var/cache/greenlet_cffi
ARM_ROOT=${ARM_ROOT:-$CACHE/arm64-root}
ARM_SUITE=${ARM_SUITE:-bookworm}
ARM_MIRROR=${ARM_MIRROR:-http://deb.debian.org/debian}
ARM_TIMEOUT=${ARM_TIMEOUT:-5400}
QEMU=$CACHE/qemu/qemu-aarch64-static
STAMP=.greenlet_cffi-complete
# python3-venv: a venv seeing Debian's cffi/pytest; the rest: what the
# tests import (hypothesis, psutil) or run (pytest-timeout, the C compiler).
PACKAGES="python3 python3-dev python3-venv python3-pip python3-cffi python3-pytest
python3-pytest-timeout python3-hypothesis python3-psutil gcc libc6-dev libffi-dev
ca-certificates"
PACKAGES=$(echo $PACKAGES)
INNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VENV=/opt/gcffi-venv          # inside the root
SRC=/root/greenlet_cffi       # inside the root: a fresh copy of the project per run

die() { echo "aarch64_e2e.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (namespaces, chroot)"

ensure_qemu() {
    [ -x "$QEMU" ] && return 0
    local tmp
    tmp=$(mktemp -d)
    echo ">>> fetching Debian's qemu-user-static (unpacked into $CACHE/qemu, not installed)"
    (cd "$tmp" && apt-get download -q qemu-user-static >/dev/null 2>&1) \
        || { apt-get update -qq && (cd "$tmp" && apt-get download -q qemu-user-static >/dev/null 2>&1); } \
        || die "apt-get download qemu-user-static failed"
    dpkg-deb -x "$tmp"/qemu-user-static_*.deb "$tmp/x"
    mkdir -p "$(dirname "$QEMU")"
    install -m 755 "$tmp/x/usr/bin/qemu-aarch64-static" "$QEMU"
    rm -rf "$tmp"
}

# in_arm_ns SCRIPT [DIR...]: SCRIPT run by bash inside the root (as root of
# the user namespace), each DIR bind-mounted at its own path.
in_arm_ns() {
    local script=$1 fifo upid me i rc=0
    shift
    fifo=$(mktemp -u) && mkfifo "$fifo"
    # The child waits on the fifo until its uid/gid maps are written: only
    # a process outside the namespace (us, real root) may map uids 0-65535.
    unshare --user --mount --pid --fork --propagation private -- bash -c '
        set -e
        read -r _ <"$1"
        R=$2 qemu=$3 script=$4 inner_path=$5 mounts=$6
        shift 6
        mount -t proc proc /proc
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        # ELF64, little endian, version 1, any OS ABI, ET_EXEC or ET_DYN,
        # e_machine 183 (EM_AARCH64).
        echo ":gcffi-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:$qemu:F" \
            >/proc/sys/fs/binfmt_misc/register
        . "$mounts"
        mount_into_root "$R" "$@"
        exec chroot "$R" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" PATH="$inner_path" \
            LANG=C.UTF-8 LC_ALL=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
            PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 /bin/bash -c "$script"
    ' arm_ns "$fifo" "$ARM_ROOT" "$QEMU" "$script" "$INNER_PATH" "$PROJECT/scripts/root_mounts.sh" "$@" &
    upid=$!
    me=$(readlink /proc/self/ns/user)
    for i in $(seq 200); do
        [ "$(readlink "/proc/$upid/ns/user" 2>/dev/null)" != "$me" ] && break
        sleep 0.05
    done
    echo "0 0 65536" >"/proc/$upid/uid_map"
    echo "0 0 65536" >"/proc/$upid/gid_map"
    echo go >"$fifo"
    rm -f "$fifo"
    wait "$upid" || rc=$?
    return $rc
}

do_ensure() ( # a subshell: the lock is released when it returns
    local R=$ARM_ROOT
    mkdir -p "$(dirname "$R")"
    exec 9>"$R.lock"
    flock 9
    ensure_qemu
    if [ -f "$R/$STAMP" ] && [ "$(cat "$R/$STAMP")" = "$PACKAGES" ]; then
        return 0
    fi
    if [ ! -f "$R/.debootstrap-done" ]; then
        command -v debootstrap >/dev/null || {
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        }
        if findmnt -rn -o TARGET | grep -q "^$R/"; then die "something is mounted under $R"; fi
        rm -rf --one-file-system "$R"
        echo ">>> debootstrap $ARM_SUITE arm64, first stage (host tools) into $R"
        unshare --mount --propagation private debootstrap --foreign --arch=arm64 \
            --variant=minbase "$ARM_SUITE" "$R" "$ARM_MIRROR" >"$R.debootstrap.log" 2>&1 \
            || { tail -20 "$R.debootstrap.log" >&2; die "debootstrap failed (log: $R.debootstrap.log)"; }
        echo ">>> debootstrap second stage (arm64 binaries under qemu; several minutes)"
        # container=lxc: debootstrap then neither test-creates a device
        # node (a user namespace may not) nor makes /dev itself (it is
        # the host's, bind-mounted).
        in_arm_ns "container=lxc /debootstrap/debootstrap --second-stage" >>"$R.debootstrap.log" 2>&1 \
            || { tail -20 "$R.debootstrap.log" >&2; die "second stage failed (log: $R.debootstrap.log)"; }
        touch "$R/.debootstrap-done"
    fi
    install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
    cp -fL /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
    echo ">>> apt-get install (arm64, under qemu): $PACKAGES"
    # The namespace's root cannot switch to apt's _apt sandbox user for
    # downloads reliably; downloads run as root instead.
    in_arm_ns "export DEBIAN_FRONTEND=noninteractive
        apt-get -o APT::Sandbox::User=root update -qq &&
        apt-get -o APT::Sandbox::User=root install -y -qq --no-install-recommends $PACKAGES >/dev/null" \
        || die "apt-get inside the root failed"
    # ca-certificates rebuilt the bundle: keep the host's (pip's PIP_CERT).
    install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
    echo "$PACKAGES" >"$R/$STAMP"
)

do_run() {
    local start rc=0 args upstream=""
    if [ "${1:-}" = --upstream ]; then
        # objgraph: greenlet's leak tests use it (a PyPI wheel, pure Python).
        upstream="(cd / && $VENV/bin/python -m pip install -q objgraph &&
            timeout $ARM_TIMEOUT $VENV/bin/python $SRC/tests/upstream/run_upstream.py --timeout 1200) || rc=1"
        shift
    fi
    do_ensure
    start=$SECONDS
    # The project as git sees it (tracked and untracked-not-ignored files),
    # never a local build or venv.
    rm -rf --one-file-system "${ARM_ROOT:?}$SRC"
    mkdir -p "$ARM_ROOT$SRC"
    (cd "$PROJECT" && git ls-files -z -co --exclude-standard \
        | xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1" || true' _ {} \
        | tar --null -T - -cf -) | tar -xf - -C "$ARM_ROOT$SRC"
    args=$(printf '%q ' "${@:-tests}")
    echo ">>> building greenlet_cffi and running pytest $args on AArch64 (qemu)"
    in_arm_ns "set -e
        uname -m; python3 --version
        [ -x $VENV/bin/python ] || python3 -m venv --system-site-packages $VENV
        cd $SRC
        # What scripts/setup_venvs.sh adds on the host, from PyPI (arm64
        # wheels), once per root: greenlet 3.5.6 (the differential tests'
        # and the drop-in tests' reference), mypy (the stubs' check), and the
        # real libraries of tests/clients.  Best effort: without them those
        # tests skip, saying why.
        if [ ! -f $VENV/.gcffi-extras ]; then
            $VENV/bin/python -m pip install -q greenlet==3.5.6 mypy -r tests/clients/requirements.txt \
                && touch $VENV/.gcffi-extras || echo '!!! extras not installed: their tests skip'
        fi
        # Build isolation: pip fetches setuptools>=77 and cffi from PyPI for the
        # build (Debian 12's setuptools is older than pyproject.toml needs).
        time $VENV/bin/python -m pip install -q --force-reinstall --no-deps .
        (cd / && $VENV/bin/python -c 'import greenlet_cffi._core as c; print(\"core:\", c.__file__)')
        # -P: the working directory (the source tree) stays off sys.path, so
        # the tests import the installed package (Debian's pytest has no
        # script in the venv).
        rc=0
        timeout $ARM_TIMEOUT $VENV/bin/python -P -m pytest -p no:cacheprovider -rs $args || rc=1
        $upstream
        exit \$rc" \
        || rc=$?
    echo ">>> AArch64 end to end: exit status $rc after $((SECONDS - start)) s"
    return $rc
}

case ${1:-} in
    ensure) do_ensure ;;
    shell) shift; do_ensure; in_arm_ns "$*" ;;
    clean) exec 9>"$ARM_ROOT.lock"; flock 9
           if findmnt -rn -o TARGET | grep -q "^$ARM_ROOT/"; then die "something is mounted under $ARM_ROOT"; fi
           rm -rf --one-file-system "$ARM_ROOT" "$ARM_ROOT.debootstrap.log" ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) do_run "$@" ;;
esac
