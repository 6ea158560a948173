//! Hostile images: each gives a one-line error, exit status 1, no files left, no panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

fn assert_clean_failure(r: &Run, needle: &str) {
    assert_eq!(r.status, 1, "stderr: {}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("rsgrub: error: "), "stderr: {}", r.stderr);
    assert!(
        last.to_lowercase().contains(&needle.to_lowercase()),
        "error should mention {needle:?}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.left.is_empty(), "files left behind: {:?}", r.left);
    assert!(r.output.is_empty(), "output written on failure");
}

fn ext4(tmp: &Path, files: &[(&str, &[u8])], size_mb: u64) -> PathBuf {
    let root = tmp.join("root");
    populate(&root, files);
    let img = tmp.join("fs.img");
    mkfs_ext("ext4", &root, &img, size_mb, &[]);
    img
}

const CFG: &[u8] = b"menuentry 'x' {\n linux /boot/vmlinuz ro\n initrd /boot/initrd\n}\n";

#[test]
fn truncated_image() {
    let tmp = tempfile::tempdir().unwrap();
    let img = ext4(
        tmp.path(),
        &[
            ("boot/grub/grub.cfg", CFG),
            ("boot/vmlinuz", &pseudo_random(4 << 20, 1)),
            ("boot/initrd", b"I"),
        ],
        16,
    );
    // Keep the superblock and group descriptors, cut the rest.
    let f = fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(300 * 1024).unwrap();
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "whole disk");
}

#[test]
fn zeroed_superblock() {
    let tmp = tempfile::tempdir().unwrap();
    let img = ext4(tmp.path(), &[("boot/grub/grub.cfg", CFG)], 8);
    let mut f = fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.seek(SeekFrom::Start(1024)).unwrap();
    f.write_all(&[0u8; 1024]).unwrap();
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "no known filesystem");
}

fn crc32(b: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), independent of the implementation under test.
    let mut c = 0xFFFF_FFFFu32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn gpt_with_4294967295_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk.img");
    gpt_disk(&disk, 8, &[(4, None, "8300")]);
    // Rewrite both headers: 2^32-1 entries, valid header CRC.
    let mut b = fs::read(&disk).unwrap();
    let lbas = [1usize, b.len() / 512 - 1];
    for lba in lbas {
        let h = lba * 512;
        b[h + 80..h + 84].copy_from_slice(&u32::MAX.to_le_bytes());
        b[h + 16..h + 20].copy_from_slice(&[0; 4]);
        let crc = crc32(&b[h..h + 92]);
        b[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
    }
    fs::write(&disk, &b).unwrap();
    let r = run_libxl(&disk, &["-q"]);
    assert_clean_failure(&r, "GPT");
}

#[test]
fn partition_past_end_of_image() {
    let tmp = tempfile::tempdir().unwrap();
    let img = ext4(tmp.path(), &[("boot/grub/grub.cfg", CFG)], 8);
    let disk = tmp.path().join("disk.img");
    mbr_disk(&disk, 16, &[(8, Some(&img), "83", true)]);
    // Cut the disk in the middle of the partition.
    fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .unwrap()
        .set_len(6 << 20)
        .unwrap();
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.to_lowercase().contains("past the end"),
        "{}",
        r.stderr
    );
    assert!(r.left.is_empty());
}

#[test]
fn kernel_symlink_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    populate(&root, &[("boot/grub/grub.cfg", CFG), ("boot/initrd", b"I")]);
    std::os::unix::fs::symlink("vmlinuz2", root.join("boot/vmlinuz")).unwrap();
    std::os::unix::fs::symlink("vmlinuz", root.join("boot/vmlinuz2")).unwrap();
    let img = tmp.path().join("fs.img");
    mkfs_ext("ext4", &root, &img, 8, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "/boot/vmlinuz");
}

/// `..` beyond the root stays inside the guest: the guest's own file is read, never dom0's.
#[test]
fn dotdot_beyond_root_stays_in_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = b"menuentry 'x' {\n linux /boot/../../../../../etc/passwd ro\n}\n";
    let img = ext4(
        tmp.path(),
        &[("boot/grub/grub.cfg", cfg), ("etc/passwd", b"GUEST-PASSWD")],
        8,
    );
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), b"GUEST-PASSWD");
    let cfg = b"menuentry 'x' {\n linux /../../etc/shadow ro\n}\n";
    let tmp2 = tempfile::tempdir().unwrap();
    let img = ext4(tmp2.path(), &[("boot/grub/grub.cfg", cfg)], 8);
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "/etc/shadow");
}

#[test]
fn sparse_64_gib_kernel_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    populate(&root, &[("boot/grub/grub.cfg", CFG), ("boot/initrd", b"I")]);
    let f = fs::File::create(root.join("boot/vmlinuz")).unwrap();
    f.set_len(64 << 30).unwrap();
    drop(f);
    let img = tmp.path().join("fs.img");
    mkfs_ext("ext4", &root, &img, 16, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "limit");
}

#[test]
fn max_file_size_env_lowers_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let img = ext4(
        tmp.path(),
        &[
            ("boot/grub/grub.cfg", CFG),
            ("boot/vmlinuz", &pseudo_random(3 << 20, 9)),
            ("boot/initrd", b"I"),
        ],
        16,
    );
    let r = run_libxl_env(&img, &["-q"], &[("PYGRUB_MAX_FILE_SIZE_MB", "2")]);
    assert_clean_failure(&r, "2 MiB limit");
}

#[test]
fn ten_megabyte_grub_cfg() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = CFG.to_vec();
    cfg.resize(10 << 20, b'#');
    let img = ext4(
        tmp.path(),
        &[("boot/grub/grub.cfg", &cfg), ("boot/vmlinuz", b"K")],
        32,
    );
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "/boot/grub/grub.cfg");
}

#[test]
fn separators_in_args_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // A guest trying to smuggle a second `kernel` item into libxl's output.
    let cfg = b"menuentry 'x' {\n linux /boot/vmlinuz \"ro\nkernel /etc/shadow\"\n}\n";
    let img = ext4(
        tmp.path(),
        &[("boot/grub/grub.cfg", cfg), ("boot/vmlinuz", b"K")],
        8,
    );
    let r = run_libxl(&img, &["-q"]);
    assert_clean_failure(&r, "control characters");
}

#[test]
fn empty_and_garbage_images() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("empty.img");
    fs::write(&p, b"").unwrap();
    assert_clean_failure(&run_libxl(&p, &["-q"]), "too small");
    let p = tmp.path().join("garbage.img");
    fs::write(&p, pseudo_random(1 << 20, 42)).unwrap();
    assert_clean_failure(&run_libxl(&p, &["-q"]), "no known filesystem");
}

/// XAPI (`--output-format=simple`) reads the line beginning `RuntimeError: `.
#[test]
fn xapi_sees_runtime_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("garbage.img");
    fs::write(&p, pseudo_random(1 << 20, 43)).unwrap();
    let o = rsgrub()
        .args(["-q", "--output-format=simple"])
        .arg(format!("--output-directory={}", tmp.path().display()))
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("RuntimeError: Unable to find partition containing kernel"),
        "{err}"
    );
    assert!(last.contains("whole disk: no known filesystem"), "{err}");
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "only the image is left"
    );
}
