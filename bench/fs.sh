#!/bin/sh
# Per-filesystem extraction benchmark: a 60 MB file (override with MB=) extracted by rsgrub
# (`--kernel=/big.bin`, the real boot path) from ext4, FAT32, ISO9660, UFS2 and qcow2-wrapped
# ext4 images, each compared with `cat` of the same bytes. ReiserFS is left out: no tool here
# writes a populated ReiserFS image without a kernel driver. Not a test: numbers only.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
cargo build --release -q
PATH="$PATH:/usr/sbin:/sbin"
MB=${MB:-60}; RUNS=${RUNS:-15}
w=$(mktemp -d /var/tmp/rsgrub-fsbench.XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/root" "$w/out"
head -c $((MB << 20)) /dev/urandom > "$w/root/big.bin"
size=$((MB + 40))
mkfs.ext4 -q -F -d "$w/root" "$w/ext4.img" ${size}M
qemu-img convert -f raw -O qcow2 "$w/ext4.img" "$w/ext4.qcow2"
mkfs.vfat -F 32 -C "$w/fat.img" $((size * 1024)) >/dev/null
mcopy -i "$w/fat.img" "$w/root/big.bin" ::
xorriso -as mkisofs -quiet -R -o "$w/iso.img" "$w/root"
makefs -t ffs -s ${size}m -o version=2 "$w/ufs.img" "$w/root" >/dev/null
: > "$w/result"
set --
for fs in ext4.img ext4.qcow2 fat.img iso.img ufs.img; do
    set -- "$@" -n "$fs" "./target/release/rsgrub -q --kernel=/big.bin --output=$w/result --output-format=simple0 --output-directory=$w/out $w/$fs"
done
hyperfine -N --warmup 2 --runs "$RUNS" --prepare "sh -c 'rm -f $w/out/* $w/cat.out'" \
    --export-json "$w/h.json" "$@" -n cat "sh -c 'cat $w/root/big.bin > $w/cat.out'" >/dev/null
python3 - "$w/h.json" "$MB" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
cat = r.pop("cat")
print(f"{sys.argv[2]} MB file; cat {cat*1000:.1f} ms")
for k, v in r.items():
    print(f"  {k:12s} {v*1000:8.1f} ms   x{v/cat:.2f} of cat")
PY
