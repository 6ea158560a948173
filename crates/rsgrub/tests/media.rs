//! FAT and ISO9660 guests end to end: an Alpine-style FAT disk with extlinux.conf, an install
//! ISO with isolinux.cfg (xorriso), and a hybrid ISO (ISO9660 at 0 plus an MBR).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::process::Command;

#[test]
fn alpine_style_fat_disk_with_extlinux() {
    let tmp = tempfile::tempdir().unwrap();
    let k = pseudo_random(2 << 20, 61);
    let i = pseudo_random(1 << 20, 62);
    let src = tmp.path().join("src");
    populate(
        &src,
        &[
            ("boot/vmlinuz-virt", &k),
            ("boot/initramfs-virt", &i),
            (
                "extlinux.conf",
                b"DEFAULT virt\nPROMPT 0\nTIMEOUT 10\nLABEL virt\n  MENU LABEL Linux virt\n  LINUX /boot/vmlinuz-virt\n  INITRD /boot/initramfs-virt\n  APPEND root=/dev/xvda2 modules=sd-mod,usb-storage,ext4 quiet\n",
            ),
        ],
    );
    let img = tmp.path().join("esp.fat");
    sh(Command::new(tool("mkfs.vfat"))
        .args(["-F", "32", "-n", "ALPINE", "-C"])
        .arg(&img)
        .arg("65536"));
    sh(Command::new(tool("mcopy"))
        .args(["-s", "-i"])
        .arg(&img)
        .arg(src.join("boot"))
        .arg(src.join("extlinux.conf"))
        .arg("::"));
    let disk = tmp.path().join("disk.raw");
    mbr_disk(&disk, 80, &[(64, Some(&img), "c", true)]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k);
    assert_eq!(r.file("ramdisk"), i);
    assert_eq!(
        r.get("args"),
        Some("root=/dev/xvda2 modules=sd-mod,usb-storage,ext4 quiet")
    );
}

fn iso_tree(tmp: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let k = pseudo_random(2 << 20, 63);
    let i = pseudo_random(1 << 20, 64);
    let src = tmp.join("iso");
    populate(
        &src,
        &[
            ("install.amd/vmlinuz", &k),
            ("install.amd/initrd.gz", &i),
            (
                "isolinux/isolinux.cfg",
                b"include menu.cfg\ndefault install\ntimeout 0\n",
            ),
            (
                "isolinux/menu.cfg",
                b"label install\n\tmenu label ^Install\n\tkernel /install.amd/vmlinuz\n\tappend vga=788 initrd=/install.amd/initrd.gz --- quiet\n",
            ),
        ],
    );
    (src, k, i)
}

#[test]
fn install_iso_with_isolinux_cfg() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, k, i) = iso_tree(tmp.path());
    let iso = tmp.path().join("install.iso");
    sh(Command::new(tool("xorriso"))
        .args([
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-V",
            "Debian 12",
            "-o",
        ])
        .arg(&iso)
        .arg(&src));
    let r = run_libxl(&iso, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k);
    assert_eq!(r.file("ramdisk"), i);
    assert_eq!(r.get("args"), Some("vga=788 --- quiet"));
}

#[test]
fn hybrid_iso_boots_from_the_iso_filesystem() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, k, _) = iso_tree(tmp.path());
    let iso = tmp.path().join("hybrid.iso");
    let mbr = std::path::Path::new("/usr/lib/ISOLINUX/isohdpfx.bin");
    let mut cmd = Command::new(tool("xorriso"));
    cmd.args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
        .arg(&iso);
    let bin = std::path::Path::new("/usr/lib/ISOLINUX/isolinux.bin");
    if mbr.is_file() && bin.is_file() {
        // Debian-style isohybrid: El Torito isolinux boot image + the isohybrid MBR.
        std::fs::copy(bin, src.join("isolinux/isolinux.bin")).unwrap();
        cmd.arg("-isohybrid-mbr").arg(mbr);
        cmd.args([
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "isolinux/boot.cat",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
        ]);
    } else {
        cmd.arg("--protective-msdos-label");
    }
    sh(cmd.arg(&src));
    let r = run_libxl(&iso, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k);
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&iso)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // It really is hybrid: an MBR signature in front of the ISO9660 volume descriptors.
    let bytes = std::fs::read(&iso).unwrap();
    assert_eq!(&bytes[510..512], &[0x55, 0xAA]);
    assert_eq!(&bytes[0x8001..0x8006], b"CD001");
    // The isohybrid partition starts at sector 0, so the ISO filesystem is read as the disk.
    assert_eq!(j["volumes"][0]["device"], "hd0", "{j}");
    assert_eq!(j["volumes"][0]["filesystem"]["type"], "iso9660");
    assert_eq!(j["boot_volume"], 0);
}
