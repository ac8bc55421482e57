#!/usr/bin/env bash
# A Debian unstable root for the interpreters the host does not have:
# CPython 3.14 and 3.15 and PyPy 8 (Python 3.11), from Debian's packages.
#
#   scripts/sid_root.sh ensure               make the root if needed (idempotent)
#   scripts/sid_root.sh run [-b DIR]... CMD  run CMD inside it, from the current
#                                            directory; the project and each DIR
#                                            are visible at their own paths
#   scripts/sid_root.sh path                 print where the root is
#   scripts/sid_root.sh clean                delete it
#
# The root is made once per machine and cached ($SID_ROOT, default
# /var/cache/greenlet_cffi/sid-root); a stamp file marks it complete and
# names the packages in it, so adding a package here installs it on the next
# run.  The Debian mirror is the one the host's apt already uses ($SID_MIRROR
# to override).  Each `run` is a private mount namespace: /proc, /dev, /sys
# and the bind mounts vanish with it, whatever way it ends, and parallel runs
# do not see each other's mounts.  pip inside the root gets the host's CA
# bundle, pip configuration and PIP_* environment, and the local directories
# that configuration names.  Needs root (as CI runs).
set -euo pipefail

PROJECT=$(cd "$(dirname "$0")/.." && pwd -P)
SID_ROOT=${SID_ROOT:-/var/cache/greenlet_cffi/sid-root}
STAMP=.greenlet_cffi-complete
PACKAGES="python3.14-dev python3.14-venv python3.15-dev python3.15-venv libffi-dev
pypy3 pypy3-dev pypy3-venv gcc g++ libc6-dev ca-certificates make file git"   # g++: greenlet's C++ test extension (tests/upstream); make, file: gevent's libev build (tests/clients); git: the sdist check when a root interpreter builds it
PACKAGES=$(echo $PACKAGES)     # one line, for the stamp
# The mirror's unstable index may be past its Valid-Until date.
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o Acquire::Check-Date=false)
INNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "sid_root.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts)"

# The first Debian (not security) archive in the host's apt sources.
host_mirror() {
    {
        grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list \
            /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break }}'
        grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | awk '{for (i = 2; i <= NF; i++) print $i}'
    } | grep -v security | grep -E '/debian/?$' | head -1
}

# Refuses to delete a directory with anything mounted under it (it could be
# a bind mount of a real directory).
safe_remove() {
    local dir=$1
    [ -e "$dir" ] || return 0
    if findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | grep -q .; then
        die "something is still mounted under $dir; not deleting it"
    fi
    rm -rf --one-file-system "$dir"
}

# Directories the host's pip configuration points at (find-links, file://
# indexes, constraint files), so that pip in the root resolves the same way.
# What lies under /etc is copied instead (sync_host_config).
pip_config_files() {
    local f
    for f in /etc/pip.conf /etc/xdg/pip/pip.conf "${HOME:-/root}/.config/pip/pip.conf" \
             "${HOME:-/root}/.pip/pip.conf" ${PIP_CONFIG_FILE:-}; do
        [ -f "$f" ] && echo "$f"
    done
    return 0
}
pip_local_dirs() {
    {
        pip_config_files | xargs -r cat
        env | grep -E '^PIP_' | cut -d= -f2-
    } | grep -oE '(file://)?/[^[:space:]"'"'"',]+' | sed 's#^file://##' \
      | while read -r p; do
            [ -f "$p" ] && p=$(dirname "$p")
            # A local index's pages link to files beside it (../files/).
            case $p in */simple|*/simple/) p=$(dirname "$p") ;; esac
            case $p in /etc|/etc/*) continue ;; esac
            [ -d "$p" ] && echo "$p"
        done | sort -u
    return 0
}

# Host files pip and apt need inside the root, copied at each ensure.
sync_host_config() {
    local R=$1 f
    install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt.host"
    # Debian's ca-certificates regenerates its bundle; keep the host's (it
    # may hold a local CA) under the path the host's PIP_CERT & co. name.
    cp -f "$R/etc/ssl/certs/ca-certificates.crt.host" "$R/etc/ssl/certs/ca-certificates.crt"
    cp -fL /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
    for f in $(pip_config_files); do
        install -D -m 644 "$f" "$R$f"
    done
    if [ -d /etc/xdg/pip ]; then
        mkdir -p "$R/etc/xdg"
        rm -rf "$R/etc/xdg/pip" && cp -a /etc/xdg/pip "$R/etc/xdg/pip"
    fi
}

# Runs "$@" (host paths: the root is $1) in a private mount namespace with
# /proc, /dev and /sys mounted in the root.
in_namespace() {
    unshare --mount --propagation private -- "$@"
}

do_ensure() ( # a subshell: the lock is released when it returns
    local R=$SID_ROOT mirror
    mkdir -p "$(dirname "$R")"
    exec 9>"$R.lock"
    flock 9        # one maker at a time; runs wait for it
    if [ -f "$R/$STAMP" ] && [ "$(cat "$R/$STAMP")" = "$PACKAGES" ]; then
        sync_host_config "$R"
        return 0
    fi
    if [ ! -f "$R/.debootstrap-done" ]; then
        command -v debootstrap >/dev/null || {
            echo ">>> installing debootstrap with apt-get"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        }
        mirror=${SID_MIRROR:-$(host_mirror)}
        [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources* (set SID_MIRROR)"
        echo ">>> debootstrap sid into $R (mirror from the host's apt sources)"
        safe_remove "$R"
        # debootstrap mounts /proc and /sys in the target itself: in a
        # namespace of its own, those mounts die with it even if it fails.
        in_namespace debootstrap --variant=minbase sid "$R" "$mirror" \
            >"$R.debootstrap.log" 2>&1 \
            || { tail -20 "$R.debootstrap.log" >&2; die "debootstrap failed (log: $R.debootstrap.log)"; }
        touch "$R/.debootstrap-done"
    fi
    sync_host_config "$R"
    echo ">>> installing into the root: $PACKAGES"
    in_root_shell "$R" "export DEBIAN_FRONTEND=noninteractive
        apt-get ${APT_OPTS[*]} update -qq &&
        apt-get ${APT_OPTS[*]} install -y -qq --no-install-recommends $PACKAGES >/dev/null" \
        || die "apt-get inside the root failed"
    sync_host_config "$R"   # the ca-certificates package rewrote the bundle
    echo "$PACKAGES" >"$R/$STAMP"
)

# in_root_shell ROOT SCRIPT [DIR...]: SCRIPT run by bash inside the root, with
# each DIR bind-mounted at its own path.
in_root_shell() {
    local R=$1 script=$2
    shift 2
    in_namespace bash -c '
        set -e
        R=$1 script=$2 inner_path=$3 mounts=$4
        shift 4
        . "$mounts"
        mount_into_root "$R" "$@"
        exec chroot "$R" /usr/bin/env PATH="$inner_path" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
            /bin/bash -c "$script"
    ' in_root "$R" "$script" "$INNER_PATH" "$PROJECT/scripts/root_mounts.sh" "$@"
}

do_run() {
    local binds=("$PROJECT") d cwd quoted
    while [ $# -gt 0 ]; do
        case $1 in
            -b) mkdir -p "$2"; binds+=("$(cd "$2" && pwd -P)"); shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no command"
    do_ensure
    while read -r d; do binds+=("$d"); done < <(pip_local_dirs)
    cwd=$(pwd -P)
    quoted=$(printf '%q ' "$@")
    in_root_shell "$SID_ROOT" "cd $(printf '%q' "$cwd") 2>/dev/null || cd /; exec $quoted" "${binds[@]}"
}

case ${1:-} in
    ensure) do_ensure ;;
    run) shift; do_run "$@" ;;
    path) echo "$SID_ROOT" ;;
    clean) exec 9>"$SID_ROOT.lock"; flock 9; safe_remove "$SID_ROOT"; rm -f "$SID_ROOT.debootstrap.log" ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
