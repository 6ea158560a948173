#!/bin/sh
# Build (or find in the cache) what QEMU boots: the Xen hypervisor as an ELF (QEMU's multiboot
# -kernel wants the gunzipped xen.gz, an ELF32 with a multiboot1 header), the generic Debian
# kernel (dom0 and the PV guests) and the dom0 initramfs (debootstrap minbase + xen-utils-4.17
# + qemu-system-xen + the kernel's Xen modules, /init = tests/xen/dom0-init).
#
# usage: build-dom0.sh CACHE_DIR        prints the artefact directory on stdout (last line)
# The artefacts are keyed by the package versions and by this script and dom0-init, so a
# second run with the same apt state skips debootstrap. Needs root and Debian's apt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-dom0.sh CACHE_DIR}
work=${RSGRUB_XEN_WORK:-/var/tmp/rsgrub-xen-work}
log() { echo "build-dom0: $*" >&2; }
mkdir -p "$cache/debs" "$work"
chmod 755 "$cache" "$cache/debs"
# apt-get download drops to the _apt user; let it write there (else it warns, then works as root).
chown _apt "$cache/debs" 2>/dev/null || true

# Package versions from this machine's apt (no network needed once the lists exist).
cand() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n1; }
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || { log "cannot resolve linux-image-amd64 (apt-get update?)"; exit 1; }
kver=${kpkg#linux-image-}
xen_v=$(cand xen-hypervisor-4.17-amd64)
k_v=$(cand "$kpkg")
utils_v=$(cand xen-utils-4.17)
qemu_v=$(cand qemu-system-xen)
for v in "$xen_v" "$k_v" "$utils_v" "$qemu_v"; do
    case "$v" in "" | "(none)") log "a package has no candidate version (apt-get update?)"; exit 1 ;; esac
done
key=$(printf '%s\n' "$xen_v" "$kpkg=$k_v" "$utils_v" "$qemu_v" | cat - "$here/dom0-init" "$here/build-dom0.sh" \
    | sha256sum | cut -c1-16)
out="$cache/dom0-$key"
if [ -s "$out/dom0.cpio.zst" ] && [ -s "$out/xen.elf" ] && [ -s "$out/vmlinuz" ]; then
    log "cached: $out"
    echo "$out"
    exit 0
fi

# 1. The hypervisor and the kernel, with apt-get download (apt's _apt user must be able to
#    write there, or apt warns and downloads unsandboxed; either works).
getdeb() { # package version -> path of the .deb in $cache/debs
    vf=$(echo "$2" | sed 's/:/%3a/')
    f=$(ls "$cache/debs/$1_${vf}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$f" ]; then
        (cd "$cache/debs" && apt-get download -q "$1=$2") >&2
        f=$(ls "$cache/debs/$1_${vf}_"*.deb | head -n1)
    fi
    echo "$f"
}
xdeb=$(getdeb xen-hypervisor-4.17-amd64 "$xen_v")
kdeb=$(getdeb "$kpkg" "$k_v")
rm -rf "$work/x" "$work/k"
mkdir -p "$work/x" "$work/k"
dpkg-deb -x "$xdeb" "$work/x"
dpkg-deb -x "$kdeb" "$work/k"
mkdir -p "$out.tmp"
zcat "$work/x/boot/xen-4.17-amd64.gz" >"$out.tmp/xen.elf"
cp "$work/k/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"

# 2. The dom0 root: debootstrap from this machine's Debian mirror, then the Xen tools from the
#    same suites apt uses here (bookworm, -updates, -security), so xen-utils matches the
#    hypervisor version.
sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Origin: Debian' \
    'Identifier: Packages' 2>/dev/null | sort -u)
mirror=$(echo "$sources" | awk '$2 == "bookworm" { print $1; exit }')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian/
root="$work/root"
rm -rf "$root"
log "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
echo "$sources" | awk 'NF == 3 { print "deb " $1 " " $2 " " $3 }' >"$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
log "apt-get install xen-utils-4.17=$utils_v qemu-system-xen=$qemu_v ... in the dom0 root"
chroot "$root" sh -c "export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
    apt-get install -y -q --no-install-recommends xen-utils-4.17=$utils_v qemu-system-xen=$qemu_v \
        kmod mount procps util-linux python3-minimal passwd" >"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; exit 1; }
umount "$root/proc"
trap - EXIT

# 3. Only the modules dom0 needs (and their dependencies) from the kernel package.
mkdir -p "$root/lib/modules"
rm -rf "$root/lib/modules/$kver"
cp -a "$work/k/lib/modules/$kver" "$root/lib/modules/"
chroot "$root" depmod "$kver"
need=$(for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-blkfront \
    loop virtio_pci virtio_blk ext4; do
    chroot "$root" modprobe -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" { print $2 }' | sort -u)
mv "$root/lib/modules/$kver" "$root/lib/modules/$kver.all"
for f in $need; do
    mkdir -p "$root$(dirname "$f")"
    cp "$root/lib/modules/$kver.all${f#/lib/modules/$kver}" "$root$f"
done
cp "$root/lib/modules/$kver.all"/modules.order "$root/lib/modules/$kver.all"/modules.builtin* \
    "$root/lib/modules/$kver/"
rm -rf "$root/lib/modules/$kver.all"
chroot "$root" depmod "$kver"

# 4. Trim and pack.
rm -rf "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
    "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" "$root/usr/share/info"
cp "$here/dom0-init" "$root/init"
chmod 755 "$root/init"
mkdir -p "$root/usr/local/bin" "$root/data"
log "packing the initramfs ($(du -sh "$root" | cut -f1))"
(cd "$root" && find . -xdev | cpio -o -H newc --quiet | zstd -q -T0 -6 >"$out.tmp/dom0.cpio.zst")
printf 'xen-hypervisor-4.17-amd64 %s\n%s %s\nxen-utils-4.17 %s\nqemu-system-xen %s\n' \
    "$xen_v" "$kpkg" "$k_v" "$utils_v" "$qemu_v" >"$out.tmp/versions"
rm -rf "$out" "$root" "$work/x" "$work/k"
mv "$out.tmp" "$out"
# Older artefacts (other package versions or scripts) are not used again.
for old in "$cache"/dom0-*; do
    [ "$old" = "$out" ] || rm -rf "$old"
done
log "built $out"
echo "$out"
