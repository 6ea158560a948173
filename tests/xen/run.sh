#!/bin/sh
# Boot real PV guests under real Xen 4.17 (Debian's hypervisor and dom0 tools) under QEMU TCG,
# with rsgrub as libxl's `bootloader`. See tests/xen/README.md.
#
# Run as root on Debian 12. Environment:
#   RSGRUB=PATH          the rsgrub binary to test (default: <repo>/target/release/rsgrub)
#   BOOTLOADER=PATH      a different bootloader for every guest (negative control:
#                        BOOTLOADER=tests/xen/entry0-bootloader.sh must FAIL); PyGrub is not run
#   GUESTS=a,b,...       a subset of a b c d e f (rsgrub) and p (PyGrub on guest a's disk)
#   RSGRUB_XEN_CACHE     downloads and built dom0 artefacts (default /var/cache/rsgrub-xen)
#   RSGRUB_XEN_OUT       serial log and dom0 logs of this run (default /var/tmp/rsgrub-xen-out)
#   RSGRUB_XEN_TIMEOUT   hard limit for the QEMU runs in seconds (default 1500)
#   RSGRUB_XEN_STALL     kill QEMU when the serial log is silent this long (default 300)
# Exit status 0 only if every rsgrub guest passed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"
RSGRUB=${RSGRUB:-$repo/target/release/rsgrub}
BOOTLOADER=${BOOTLOADER:-}
GUESTS=${GUESTS:-a,b,c,d,e,f,p}
cache=${RSGRUB_XEN_CACHE:-/var/cache/rsgrub-xen}
out=${RSGRUB_XEN_OUT:-/var/tmp/rsgrub-xen-out}
limit=${RSGRUB_XEN_TIMEOUT:-1500}
t_start=$(date +%s)
log() { echo "xen-test: $*" >&2; }
elapsed() { echo $(($(date +%s) - t_start)); }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 2; }
[ -x "$RSGRUB" ] || { log "no rsgrub binary at $RSGRUB (cargo build --release -p rsgrub, or RSGRUB=...)"; exit 2; }
if [ -n "$BOOTLOADER" ]; then
    [ -x "$BOOTLOADER" ] || { log "BOOTLOADER=$BOOTLOADER is not executable"; exit 2; }
    GUESTS=$(echo "$GUESTS" | tr ',' '\n' | grep -v '^p$' | paste -sd, -)
fi
mkdir -p "$cache/debs"
chmod 755 "$cache" "$cache/debs"
chown _apt "$cache/debs" 2>/dev/null || true

# 1. Host tools, from Debian's archive only.
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_install() {
    [ -n "$updated" ] || { apt-get update -qq || log "apt-get update failed; trying the lists we have"; updated=1; }
    # shellcheck disable=SC2068
    apt-get install -y -qq --no-install-recommends $@ >/dev/null
}
need=""
for c in debootstrap:debootstrap cpio:cpio zstd:zstd sgdisk:gdisk sfdisk:fdisk mkfs.ext4:e2fsprogs \
    debugfs:e2fsprogs mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs qemu-img:qemu-utils; do
    command -v "${c%%:*}" >/dev/null 2>&1 || need="$need ${c#*:}"
done
[ -z "$need" ] || { log "apt-get install$need"; apt_install $need; }
[ -n "$(apt-cache policy linux-image-amd64 2>/dev/null | sed -n 's/^ *Candidate: //p')" ] ||
    { apt-get update -qq; updated=1; }

# QEMU: the system's qemu-system-x86_64, else install it, else (a newer qemu-utils from
# backports Breaks bookworm's qemu-system-common) unpack Debian's package into the cache and
# install only its libraries.
qemu=$(command -v qemu-system-x86_64 || true)
qemu_l=""
if [ -z "$qemu" ]; then
    if apt_install qemu-system-x86 2>/dev/null; then
        qemu=$(command -v qemu-system-x86_64)
    else
        qv=$(apt-cache policy qemu-system-x86 | sed -n 's/^ *Candidate: //p')
        qdir="$cache/qemu-$qv"
        if [ ! -x "$qdir/usr/bin/qemu-system-x86_64" ]; then
            log "apt-get install qemu-system-x86 failed: unpacking it into $qdir"
            rm -rf "$qdir.tmp"
            mkdir -p "$qdir.tmp"
            (cd "$cache/debs" && apt-get download -q qemu-system-x86 qemu-system-common seabios >/dev/null)
            for p in qemu-system-x86 qemu-system-common seabios; do
                dpkg-deb -x "$(ls -t "$cache/debs/${p}_"*.deb | head -n1)" "$qdir.tmp"
            done
            mv "$qdir.tmp" "$qdir"
        fi
        libs=$(apt-cache depends qemu-system-x86 | sed -n 's/^ *Depends: \(lib[^ <]*\)$/\1/p' | sort -u)
        # shellcheck disable=SC2086
        apt_install $libs
        qemu="$qdir/usr/bin/qemu-system-x86_64"
        qemu_l="-L $qdir/usr/share/seabios -L /usr/share/qemu"
    fi
fi
"$qemu" --version >/dev/null || { log "$qemu does not run"; exit 2; }

# The guests' busybox: Debian's busybox-static, unpacked (not installed: it conflicts with
# the busybox package).
bbv=$(apt-cache policy busybox-static | sed -n 's/^ *Candidate: //p')
bb="$cache/busybox-static-$bbv/bin/busybox"
if [ ! -x "$bb" ]; then
    (cd "$cache/debs" && apt-get download -q "busybox-static=$bbv" >/dev/null)
    rm -rf "$cache/busybox-static-$bbv"
    dpkg-deb -x "$(ls "$cache/debs/busybox-static_"*.deb | head -n1)" "$cache/busybox-static-$bbv"
fi
t_deps=$(elapsed)

# 2. Xen, the kernel and the dom0 initramfs (cached by package versions).
dom0=$(sh "$here/build-dom0.sh" "$cache" | tail -n1)
[ -s "$dom0/dom0.cpio.zst" ] || { log "build-dom0.sh failed"; exit 2; }
t_dom0=$(elapsed)

# 3. The guests and the data disk dom0 mounts at /data.
rm -rf "$out"
mkdir -p "$out"
data="$out/data"
mkdir -p "$data"
bl_cfg=/usr/local/bin/rsgrub
if [ -n "$BOOTLOADER" ]; then
    cp "$BOOTLOADER" "$data/bootloader-under-test"
    bl_cfg=/usr/local/bin/bootloader-under-test
fi
sh "$here/make-guests.sh" "$data" "$dom0/vmlinuz" "$bb" "$bl_cfg" "$GUESTS"
cp "$RSGRUB" "$data/rsgrub"
cp "$here/dom0-tests.sh" "$here/menu-driver.py" "$here/tslog.py" "$data/"
chmod 755 "$data/rsgrub" "$data/dom0-tests.sh"
size=$(($(du -sm "$data" | cut -f1) * 3 / 2 + 64))
mkfs.ext4 -q -F -L rsgrub-xen-data -d "$data" "$out/data.img" "${size}M" >/dev/null
rm -rf "$data"
t_guests=$(elapsed)

# 4. Boot Xen + dom0 under QEMU TCG (-cpu max/EPYC crash dom0 under TCG). A run whose serial
#    log stops growing for $stall seconds is killed; if that happens before the first guest
#    (seen once, on a heavily loaded host: dom0 stuck during kernel init), it is retried once.
boot_qemu() { # -> sets run_state to done | stalled | timeout
    log "booting Xen under QEMU TCG (serial log: $out/serial.log, limit ${limit}s)"
    : >"$out/serial.log"
    # shellcheck disable=SC2086
    "$qemu" $qemu_l -machine pc -accel tcg -cpu qemu64 -m 3072 -smp 2 -nographic -no-reboot \
        -nic none -monitor none -serial "file:$out/serial.log" \
        -drive "file=$out/data.img,format=raw,if=virtio" \
        -kernel "$dom0/xen.elf" \
        -append "dom0_mem=1024M,max:1024M dom0_max_vcpus=2 console=com1 com1=115200,8n1 noreboot" \
        -initrd "$dom0/vmlinuz console=hvc0 earlyprintk=xen loglevel=5,$dom0/dom0.cpio.zst" \
        </dev/null >"$out/qemu.log" 2>&1 &
    qpid=$!
    trap 'kill "$qpid" 2>/dev/null || true' EXIT INT TERM
    run_state=done
    t_b=$(date +%s)
    last_size=-1
    last_change=$t_b
    while kill -0 "$qpid" 2>/dev/null; do
        t_n=$(date +%s)
        size=$(stat -c %s "$out/serial.log" 2>/dev/null || echo 0)
        if [ "$size" != "$last_size" ]; then
            last_size=$size
            last_change=$t_n
        fi
        if [ $((t_n - t_q0)) -ge "$limit" ]; then
            run_state=timeout
        elif [ $((t_n - last_change)) -ge "$stall" ]; then
            run_state=stalled
        fi
        if [ "$run_state" != done ]; then
            log "QEMU $run_state (serial log silent for $((t_n - last_change))s, run $((t_n - t_b))s): killing pid $qpid"
            kill "$qpid" 2>/dev/null || true
            sleep 2
            kill -9 "$qpid" 2>/dev/null || true
            break
        fi
        sleep 1
    done
    wait "$qpid" 2>/dev/null || true
    trap - EXIT INT TERM
}
stall=${RSGRUB_XEN_STALL:-300}
t_q0=$(date +%s)
boot_qemu
if [ "$run_state" = stalled ] && ! grep -q 'RSGRUB-XEN-RESULT' "$out/serial.log"; then
    cp "$out/serial.log" "$out/serial-stalled.log"
    log "dom0 stalled before the first guest; retrying once (first log: $out/serial-stalled.log)"
    boot_qemu
fi
timed_out=""
[ "$run_state" = done ] || timed_out=$run_state
t_qemu=$(($(date +%s) - t_q0))

# 5. Results: the serial log's result lines, and dom0's logs from the data disk.
debugfs -R "rdump /out $out" "$out/data.img" >/dev/null 2>&1 || true
[ -d "$out/out" ] && mv "$out/out" "$out/dom0"
tr -d '\r' <"$out/serial.log" >"$out/serial.txt"
grep '^RSGRUB-XEN-ARGV' "$out/serial.txt" | sed 's/^RSGRUB-XEN-ARGV /argv /' >&2 || true
grep '^RSGRUB-XEN-DIRECT' "$out/serial.txt" | sed 's/^RSGRUB-XEN-DIRECT /bootloader alone in dom0 on guest a: /' >&2 || true
pass=0
fail=0
for g in $(echo "$GUESTS" | tr ',' ' '); do
    names=$(grep -o "^RSGRUB-XEN-RESULT [A-Z-]* $g-[^ ]*" "$out/serial.txt" | awk '{ print $3 }')
    if [ -z "$names" ]; then
        [ "$g" = p ] && { echo "INFO p-pygrub: no result"; continue; }
        echo "FAIL $g: no result line on the serial console${timed_out:+ (QEMU $timed_out)}"
        fail=$((fail + 1))
        continue
    fi
    for n in $names; do
        line=$(grep "^RSGRUB-XEN-RESULT [A-Z-]* $n " "$out/serial.txt" | head -n1 | cut -d' ' -f2-)
        kind=${line%% *}
        rest=${line#* }
        rest=${rest#* }
        secs=${rest%% *}
        detail=${rest#* }
        case "$kind" in
        PASS) echo "PASS $n ${secs}s ($detail)"; pass=$((pass + 1)) ;;
        INFO-*) echo "INFO $n: PyGrub ${kind#INFO-} ${secs}s ($detail)" ;;
        *) echo "FAIL $n: $detail"; fail=$((fail + 1)) ;;
        esac
    done
done
if grep -q '^RSGRUB-DOM0: FATAL' "$out/serial.txt"; then
    grep '^RSGRUB-DOM0: FATAL' "$out/serial.txt" >&2
fi
echo "$pass passed, $fail failed"
log "times: host tools ${t_deps}s, dom0 artefacts $((t_dom0 - t_deps))s, guest disks $((t_guests - t_dom0))s, QEMU ${t_qemu}s, total $(elapsed)s"
log "logs: $out (serial.txt, dom0/*.xl.log, dom0/*.console.log)"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
