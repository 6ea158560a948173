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
use std::path::Path;
use std::process::Command;

/// (kernel sha256, ramdisk sha256 or empty, args with blanks collapsed).
fn digest((k, r, a): (Vec<u8>, Vec<u8>, String)) -> (String, String, String) {
    let r = if r.is_empty() {
        String::new()
    } else {
        sha256(&r)
    };
    (
        sha256(&k),
        r,
        a.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

fn pygrub(disk: &Path) -> (String, String, String) {
    digest(pygrub_boot(disk, &[]))
}

/// rsgrub's args as they are: GRUB joins words with one space already.
fn ours(disk: &Path) -> (String, String, String) {
    let (k, r, a) = rsgrub_boot(disk, &[]);
    let (k, r, _) = digest((k, r, String::new()));
    (k, r, a)
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
