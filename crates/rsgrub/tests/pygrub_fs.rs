//! Differential tests against Debian's PyGrub (libxenfsimage) on the other filesystems it
//! reads: ISO9660 (xorriso), UFS1 (makefs) and ReiserFS 3.6 (images written by Linux 6.1,
//! kept in fuzz/corpus). Same kernel, ramdisk and args.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn pygrub(disk: &Path) -> (String, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("result");
    fs::write(&out, b"").unwrap();
    let o = Command::new("/usr/lib/xen-4.17/bin/pygrub")
        .arg("-q")
        .arg(format!("--output={}", out.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", tmp.path().display()))
        .arg(disk)
        .output()
        .expect("Debian's PyGrub (xen-utils-4.17; scripts/setup.sh installs it)");
    assert!(
        o.status.success(),
        "pygrub: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let items = parse_simple(&fs::read(&out).unwrap(), 0);
    let get = |k: &str| items.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let k = sha256(&fs::read(get("kernel").unwrap()).unwrap());
    let r = get("ramdisk")
        .map(|p| sha256(&fs::read(p).unwrap()))
        .unwrap_or_default();
    let a = get("args").unwrap_or_default();
    (k, r, a.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn ours(disk: &Path) -> (String, String, String) {
    let r = run_libxl(disk, &["-q"]);
    assert_eq!(r.status, 0, "rsgrub: {}", r.stderr);
    let rd = if r.get("ramdisk").is_some() {
        sha256(&r.file("ramdisk"))
    } else {
        String::new()
    };
    (
        sha256(&r.file("kernel")),
        rd,
        r.get("args").unwrap_or("").to_string(),
    )
}

fn tree(root: &Path) {
    populate(
        root,
        &[
            ("boot/vmlinuz", &pseudo_random(700_000, 151)),
            ("boot/initrd", &pseudo_random(90_000, 152)),
            (
                "boot/grub/menu.lst",
                b"default 1\ntimeout 1\ntitle A\n root (hd0,0)\n kernel /boot/initrd\ntitle B\n root (hd0,0)\n kernel /boot/vmlinuz ro root=/dev/xvda1 console=hvc0\n initrd /boot/initrd\n",
            ),
        ],
    );
}

#[test]
fn iso9660_matches_pygrub() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let iso = tmp.path().join("t.iso");
    sh(Command::new(tool("xorriso"))
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
        .arg(&iso)
        .arg(&root));
    assert_eq!(ours(&iso), pygrub(&iso));
}

#[test]
fn ufs1_matches_pygrub() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let img = tmp.path().join("ufs1.img");
    sh(Command::new(tool("makefs"))
        .args(["-t", "ffs", "-s", "12m", "-o", "version=1"])
        .arg(&img)
        .arg(&root));
    assert_eq!(ours(&img), pygrub(&img));
}

#[test]
fn reiserfs_matches_pygrub() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_reiserfs");
    for name in [
        "linux-3.6-512-r5.bin",
        "linux-3.6-512-tea.bin",
        "linux-3.6-512-rupasov.bin",
    ] {
        let img = dir.join(name);
        assert_eq!(ours(&img), pygrub(&img), "{name}");
    }
}
