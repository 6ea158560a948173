//! NetBSD and Solaris guests end to end: FFS images from `makefs`, inside a NetBSD disklabel
//! (MBR type 0xA9) or a Solaris x86 VTOC (MBR type 0xBF) written by the test — no Linux tool
//! writes either label.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

const PART: u64 = 2048; // partition start (sectors)
const PART_LEN: u64 = 40960; // 20 MiB

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn ffs(dir: &Path, img: &Path, version: u32) {
    sh(Command::new(tool("makefs"))
        .args(["-t", "ffs", "-s", "12m", "-o"])
        .arg(format!("version={version}"))
        .arg(img)
        .arg(dir));
}

fn disk_with_partition(path: &Path, kind: &str) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    let mut child = Command::new(tool("sfdisk"))
        .arg("-q")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    let script = format!("label: dos\nstart={PART}, size={PART_LEN}, type={kind}, bootable\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn write_at(path: &Path, off: u64, data: &[u8]) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_at(data, off)
        .unwrap();
}

/// A NetBSD disklabel (d_magic 0x82564557, absolute sector offsets) with partition `a`
/// (4.2BSD, fstype 7) at `a_off` for `a_len` sectors and `c`/`d` covering the partition/disk.
fn netbsd_label(a_off: u32, a_len: u32) -> [u8; 512] {
    let mut l = [0u8; 512];
    put32(&mut l, 0, 0x8256_4557);
    put16(&mut l, 4, 4);
    l[8..16].copy_from_slice(b"rsgrubte");
    put32(&mut l, 40, 512);
    put32(&mut l, 44, 63);
    put32(&mut l, 48, 16);
    put32(&mut l, 52, 65);
    put32(&mut l, 56, 63 * 16);
    put32(&mut l, 60, 65536);
    put16(&mut l, 72, 3600);
    put16(&mut l, 74, 1);
    put32(&mut l, 132, 0x8256_4557);
    let parts: [(u32, u32, u8); 4] = [
        (a_len, a_off, 7),
        (0, 0, 0),
        (PART_LEN as u32, PART as u32, 0),
        (65536, 0, 0),
    ];
    put16(&mut l, 138, parts.len() as u16);
    put32(&mut l, 140, 8192);
    for (i, (size, off, fstype)) in parts.iter().enumerate() {
        let o = 148 + 16 * i;
        put32(&mut l, o, *size);
        put32(&mut l, o + 4, *off);
        put32(&mut l, o + 8, 2048);
        l[o + 12] = *fstype;
        l[o + 13] = 8;
    }
    let words = (148 + 16 * parts.len()) / 2;
    let sum = (0..words).fold(0u16, |a, i| {
        a ^ u16::from_le_bytes([l[2 * i], l[2 * i + 1]])
    });
    put16(&mut l, 136, sum);
    l
}

#[test]
fn netbsd_pv_guest_in_a_disklabel() {
    let tmp = tempfile::tempdir().unwrap();
    let k = pseudo_random(1 << 20, 131);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("netbsd", &k),
            (
                "boot.cfg",
                b"banner=Welcome to NetBSD\nmenu=Boot normally:rndseed /var/db/entropy-file;boot netbsd\nmenu=Boot single user:boot netbsd -s\ndefault=2\ntimeout=5\n",
            ),
        ],
    );
    let img = tmp.path().join("ffs.img");
    ffs(&root, &img, 1);
    let disk = tmp.path().join("disk.img");
    disk_with_partition(&disk, "a9");
    let a_off = PART + 64;
    write_at(&disk, a_off * 512, &std::fs::read(&img).unwrap());
    write_at(&disk, (PART + 1) * 512, &netbsd_label(a_off as u32, 24576));
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
    // NetBSD's Xen kernel takes its root from root=: partition a of the first xbd disk.
    assert_eq!(r.get("args"), Some("root=xbd0a -s"));
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&disk)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = j["boot_volume"].as_u64().unwrap() as usize;
    assert_eq!(j["volumes"][b]["scheme"], "bsd", "{j}");
    assert!(
        j["volumes"][b]["filesystem"]["type"]
            .as_str()
            .unwrap()
            .starts_with("ufs"),
        "{j}"
    );
}

/// An x86 VTOC (sector 1 of the Solaris partition), `slices` = (index, tag, start, size).
fn vtoc_label(slices: &[(usize, u16, u32, u32)]) -> [u8; 512] {
    let mut l = [0u8; 512];
    put32(&mut l, 12, 0x600D_DEEE);
    put32(&mut l, 16, 1);
    l[20..28].copy_from_slice(b"rsgrub  ");
    put16(&mut l, 28, 512);
    put16(&mut l, 30, 16);
    for &(i, tag, start, size) in slices {
        let o = 72 + 12 * i;
        put16(&mut l, o, tag);
        put32(&mut l, o + 4, start);
        put32(&mut l, o + 8, size);
    }
    put32(&mut l, 456, 1000);
    put32(&mut l, 460, 998);
    put32(&mut l, 468, 64);
    put32(&mut l, 472, 32);
    put16(&mut l, 508, 0xDABE);
    let sum = (0..255).fold(0u16, |a, i| {
        a ^ u16::from_le_bytes([l[2 * i], l[2 * i + 1]])
    });
    put16(&mut l, 510, sum);
    l
}

#[test]
fn solaris_root_slice_in_a_vtoc() {
    let tmp = tempfile::tempdir().unwrap();
    let unix = pseudo_random(600_000, 141);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("platform/i86xpv/kernel/amd64/unix", &unix),
            ("platform/i86pc/amd64/boot_archive", b"BOOTARCHIVE"),
        ],
    );
    let img = tmp.path().join("ufs.img");
    ffs(&root, &img, 1);
    let disk = tmp.path().join("disk.img");
    disk_with_partition(&disk, "bf");
    // Slice 0 boot (tag 1), slice 3 root (tag 2) holding the UFS.
    write_at(&disk, (PART + 4096) * 512, &std::fs::read(&img).unwrap());
    write_at(
        &disk,
        (PART + 1) * 512,
        &vtoc_label(&[(0, 1, 16, 2048), (3, 2, 4096, 28672)]),
    );
    let r = run_libxl(&disk, &["-q", "--args=root=/dev/dsk/c0t0d0s3 -v"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&unix));
    assert_eq!(r.file("ramdisk"), b"BOOTARCHIVE");
    assert_eq!(
        r.get("args"),
        Some("root=/dev/dsk/c0t0d0s3  /platform/i86xpv/kernel/amd64/unix -v ")
    );
}

/// No boot.cfg: NetBSD's Xen convention, a `netbsd-XEN3_DOMU` kernel at the root.
#[test]
fn netbsd_domu_kernel_without_config() {
    let tmp = tempfile::tempdir().unwrap();
    let k = pseudo_random(500_000, 171);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[("netbsd-XEN3_DOMU", &k), ("netbsd-XEN3PAE_DOMU", b"PAE")],
    );
    let img = tmp.path().join("ffs.img");
    ffs(&root, &img, 2);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
    assert_eq!(r.get("args"), Some("root=xbd0a"));
}
