#!/bin/sh
# The benchmark suite of issue #11: ext4, XFS, btrfs, ZFS, FAT, ISO9660, UFS (raw), ext4 in qcow2,
# zstd-compressed btrfs, with 8 MB + 60 MB and 8 MB + 200 MB payloads; a 2 TiB sparse GPT
# disk; a /boot with 100,000 files; `-l` on a Debian config. Paired runs against `cat` (or
# `zstd -dc`, or the small disk), PyGrub where it reads the image. Numbers only.
# Knobs: RUNS=15 KERNEL_MB=8 INITRD_MB="60 200" ONLY="ext4 xfs btrfs zfs fat iso ufs btrfs-zstd scale"
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
[ -x /usr/bin/time ] && command -v zstd >/dev/null || \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time zstd >/dev/null
cargo build --release -q
exec python3 bench/suite.py
