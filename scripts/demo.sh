#!/bin/sh
# Build a sample guest disk with the real tools (GPT + ext4 + a Debian-style grub.cfg) and
# boot it with rsgrub exactly as libxl runs a bootloader.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo build --release -q
PATH="$PATH:/usr/sbin:/sbin"
work=sample
rm -rf "$work"; mkdir -p "$work/root/boot/grub" "$work/out"
kver=6.1.0-13-amd64
uuid=0d1bd6bc-6a49-4b6d-9b1a-27a0b2e5c3f1
head -c 8388608 /dev/urandom > "$work/root/boot/vmlinuz-$kver"
head -c 16777216 /dev/urandom > "$work/root/boot/initrd.img-$kver"
cat > "$work/root/boot/grub/grub.cfg" <<CFG
set default="0"
set timeout=5
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux \$menuentry_id_option 'gnulinux-simple-$uuid' {
	insmod gzio
	set root='hd0,gpt2'
	search --no-floppy --fs-uuid --set=root $uuid
	echo	'Loading Linux $kver ...'
	linux	/boot/vmlinuz-$kver root=UUID=$uuid ro  quiet
	initrd	/boot/initrd.img-$kver
}
submenu 'Advanced options for Debian GNU/Linux' {
	menuentry 'Debian GNU/Linux, with Linux $kver (recovery mode)' {
		linux	/boot/vmlinuz-$kver root=UUID=$uuid ro single
		initrd	/boot/initrd.img-$kver
	}
}
CFG
mkfs.ext4 -q -F -U "$uuid" -L rootfs -d "$work/root" "$work/rootfs.img" 64M
truncate -s 80M "$work/disk.img"
sgdisk -n1:0:+1M -t1:ef02 -n2:0:+64M -t2:8300 "$work/disk.img" >/dev/null
start=$(sgdisk -i2 "$work/disk.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
dd if="$work/rootfs.img" of="$work/disk.img" bs=512 seek="$start" conv=notrunc,sparse status=none
: > "$work/result"
echo "\$ rsgrub --output=$work/result --output-format=simple0 --output-directory=$work/out $work/disk.img"
./target/release/rsgrub --output="$work/result" --output-format=simple0 \
    --output-directory="$work/out" "$work/disk.img"
echo "result:"; tr '\0' '\n' < "$work/result" | sed 's/^/  /'
k=$(tr '\0' '\n' < "$work/result" | sed -n 's/^kernel //p')
r=$(tr '\0' '\n' < "$work/result" | sed -n 's/^ramdisk //p')
cmp "$k" "$work/root/boot/vmlinuz-$kver" && cmp "$r" "$work/root/boot/initrd.img-$kver" \
    && echo "kernel and initrd match the guest's files byte for byte"
