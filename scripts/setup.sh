#!/bin/sh
# Install what rsgrub's tests and demo use on Debian 12 (as root). Idempotent.
set -eu
need=""
for pkg in e2fsprogs fdisk gdisk dosfstools mtools xorriso isolinux makefs reiserfsprogs lvm2 btrfs-progs xfsprogs zfs-fuse binutils qemu-utils lzop man-db dpkg-dev gzip xz-utils zstd lz4 bzip2 xen-utils-4.17 tmux strace coreutils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is required (rustup)"; exit 1; }
