#!/bin/sh
# Extraction benchmark: an 8 MB kernel + 60 MB initrd (override with KERNEL_MB / INITRD_MB)
# from an ext4 guest image, by rsgrub, by Debian's PyGrub, and by `cat` of the same two files.
# Prints mean wall times, the ratios, and rsgrub's peak RSS. Not a test: numbers only.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
command -v hyperfine >/dev/null && [ -x /usr/bin/time ] || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine time >/dev/null; }
cargo build --release -q
PATH="$PATH:/usr/sbin:/sbin"
K=${KERNEL_MB:-8}; I=${INITRD_MB:-60}; RUNS=${RUNS:-20}
w=$(mktemp -d /var/tmp/rsgrub-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/root/boot/grub" "$w/out" "$w/cat"
head -c $((K << 20)) /dev/urandom > "$w/root/boot/vmlinuz"
head -c $((I << 20)) /dev/urandom > "$w/root/boot/initrd.img"
printf "set default=0\nmenuentry 'bench' {\n linux /boot/vmlinuz root=/dev/xvda1 ro\n initrd /boot/initrd.img\n}\n" \
    > "$w/root/boot/grub/grub.cfg"
mkfs.ext4 -q -F -d "$w/root" "$w/disk.img" $((K + I + 64))M
qemu-img convert -f raw -O qcow2 "$w/disk.img" "$w/disk.qcow2"
: > "$w/result"
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
RS="./target/release/rsgrub -q --output=$w/result --output-format=simple0 --output-directory=$w/out $w/disk.img"
PG="$PYGRUB -q --output=$w/result --output-format=simple0 --output-directory=$w/out $w/disk.img"
CAT="cat $w/root/boot/vmlinuz > $w/cat/k; cat $w/root/boot/initrd.img > $w/cat/i"
# hyperfine -N runs --prepare without a shell: the glob needs one.
CLEAN="sh -c 'rm -f $w/out/* $w/cat/*'"
hyperfine -N --warmup 3 --runs "$RUNS" --prepare "$CLEAN" --export-json "$w/h.json" \
    -n rsgrub "$RS" -n rsgrub-no-zero-copy "env RSGRUB_NO_ZERO_COPY=1 $RS" \
    -n rsgrub-no-sandbox "$RS --no-sandbox" \
    -n rsgrub-qcow2 "./target/release/rsgrub -q --output=$w/result --output-format=simple0 --output-directory=$w/out $w/disk.qcow2" \
    -n pygrub "$PG" -n cat "sh -c '$CAT'" >/dev/null
rm -f "$w/out/"*
rss=$(/usr/bin/time -f %M $RS 2>&1 >/dev/null | tail -1)
python3 - "$w/h.json" "$rss" "$K" "$I" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
rs, pg, cat = r["rsgrub"], r["pygrub"], r["cat"]
print(f"payload: {sys.argv[3]} MB kernel + {sys.argv[4]} MB initrd from ext4")
nz = r["rsgrub-no-zero-copy"]
ns = r["rsgrub-no-sandbox"]
qc = r["rsgrub-qcow2"]
print(f"rsgrub {rs*1000:8.1f} ms   (pread/write path {nz*1000:.1f} ms)   pygrub {pg*1000:8.1f} ms   cat {cat*1000:8.1f} ms")
print(f"sandbox cost = {(rs-ns)*1000:+.1f} ms (target <= 5 ms; rsgrub --no-sandbox {ns*1000:.1f} ms)")
print(f"qcow2 (uncompressed) {qc*1000:.1f} ms: qcow2/raw = {qc/rs:.2f} (target <= 1.5)")
print(f"rsgrub/cat = {rs/cat:.2f} (target <= 1.5)   pygrub/rsgrub = {pg/rs:.2f} (target >= 3)")
print(f"rsgrub peak RSS (parent, /usr/bin/time) = {int(sys.argv[2])/1024:.1f} MiB (target <= 16)")
PY
