# Sourced by scripts/sid_root.sh and scripts/aarch64_e2e.sh inside a private
# mount namespace, just before they chroot into a root.
#
# mount_into_root ROOT [DIR...]: /proc, the host's /dev and /sys, and each DIR
# at its own path, under ROOT; they vanish with the namespace.
mount_into_root() {
    local R=$1 d
    shift
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"
    mount --rbind /sys "$R/sys"
    for d in "$@"; do
        mkdir -p "$R$d"
        mount --bind "$d" "$R$d"
    done
}
