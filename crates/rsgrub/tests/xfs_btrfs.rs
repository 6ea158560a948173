//! Today's default filesystems end to end: a RHEL-style XFS v5 /boot (grub2 + BLS), an XFS v4
//! image compared with Debian's PyGrub (whose libfsimage reads v4 without ftype), and a btrfs
//! root made by `mkfs.btrfs --rootdir`.
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

fn proto(dir: &Path, out: &mut String, depth: usize) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let ind = " ".repeat(depth);
        let name = n.to_str().unwrap();
        if p.is_dir() {
            out.push_str(&format!("{ind}{name} d--755 0 0\n"));
            proto(&p, out, depth + 1);
            out.push_str(&format!("{ind}$\n"));
        } else {
            out.push_str(&format!("{ind}{name} ---644 0 0 {}\n", p.display()));
        }
    }
}

/// `mkfs.xfs -p protofile` from a directory tree.
fn mkfs_xfs(tmp: &Path, src: &Path, opts: &[&str]) -> std::path::PathBuf {
    let mut p = String::from("/dev/null\n0 0\nd--755 0 0\n");
    proto(src, &mut p, 1);
    p.push_str("$\n");
    let pf = tmp.join("proto");
    std::fs::write(&pf, p).unwrap();
    let img = tmp.join("xfs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    // mkfs.xfs 6.1 refuses filesystems under 300 MB unless run as in xfstests; these variables
    // only lift that limit.
    sh(Command::new(tool("mkfs.xfs"))
        .env("TEST_DIR", tmp)
        .env("TEST_DEV", "/dev/null")
        .env("QA_CHECK_FS", "1")
        .args(["-q", "-f"])
        .args(opts)
        .arg("-p")
        .arg(&pf)
        .arg(&img));
    img
}

#[test]
fn rhel_style_xfs_boot_with_bls() {
    let tmp = tempfile::tempdir().unwrap();
    let k = pseudo_random(3 << 20, 181);
    let i = pseudo_random(1 << 20, 182);
    let boot = tmp.path().join("boot");
    let ver = "5.14.0-427.el9.x86_64";
    let machine = "0123456789abcdef0123456789abcdef";
    populate(
        &boot,
        &[
            (
                "grub2/grub.cfg",
                b"set default=\"${saved_entry}\"\nif [ -s $prefix/grubenv ]; then\n  load_env\nfi\nset default=\"${saved_entry}\"\nblscfg\n",
            ),
            (&format!("vmlinuz-{ver}"), &k),
            (&format!("initramfs-{ver}.img"), &i),
            (
                &format!("loader/entries/{machine}-{ver}.conf"),
                format!("title Rocky Linux ({ver}) 9.4\nversion {ver}\nlinux /vmlinuz-{ver}\ninitrd /initramfs-{ver}.img\noptions root=/dev/mapper/rl-root ro crashkernel=auto\n").as_bytes(),
            ),
        ],
    );
    let img = mkfs_xfs(tmp.path(), &boot, &[]);
    let disk = tmp.path().join("disk.img");
    mbr_disk(&disk, 72, &[(64, Some(&img), "83", true)]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
    assert_eq!(sha256(&r.file("ramdisk")), sha256(&i));
    assert_eq!(
        r.get("args"),
        Some("root=/dev/mapper/rl-root ro crashkernel=auto")
    );
}

#[test]
fn xfs_v4_matches_pygrub() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let k = pseudo_random(1 << 20, 183);
    populate(
        &root,
        &[
            ("boot/vmlinuz", &k),
            ("boot/initrd", b"XFSINITRD"),
            (
                "boot/grub/menu.lst",
                b"default 0\ntimeout 1\ntitle X\n root (hd0,0)\n kernel /boot/vmlinuz ro root=/dev/xvda1\n initrd /boot/initrd\n",
            ),
        ],
    );
    let img = mkfs_xfs(tmp.path(), &root, &["-m", "crc=0", "-n", "ftype=0"]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
    let t2 = tempfile::tempdir().unwrap();
    let out = t2.path().join("result");
    std::fs::write(&out, b"").unwrap();
    let o = Command::new("/usr/lib/xen-4.17/bin/pygrub")
        .arg("-q")
        .arg(format!("--output={}", out.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", t2.path().display()))
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let items = parse_simple(&std::fs::read(&out).unwrap(), 0);
    let get = |key: &str| items.iter().find(|(a, _)| a == key).unwrap().1.clone();
    assert_eq!(sha256(&std::fs::read(get("kernel")).unwrap()), sha256(&k));
    assert_eq!(std::fs::read(get("ramdisk")).unwrap(), b"XFSINITRD");
    assert_eq!(
        get("args").split_whitespace().collect::<Vec<_>>().join(" "),
        r.get("args").unwrap()
    );
}

#[test]
fn btrfs_root_made_by_mkfs_rootdir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let k = pseudo_random(4 << 20, 184);
    let cfg = debian_grub_cfg("11111111-2222-4333-8444-555555555555", "6.1", "/boot");
    populate(
        &root,
        &[
            ("boot/vmlinuz-6.1", &k),
            ("boot/initrd.img-6.1", b"BTRFSINITRD"),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    let img = tmp.path().join("btrfs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(160 << 20)
        .unwrap();
    sh(Command::new(tool("mkfs.btrfs"))
        .args(["-q", "-f", "--rootdir"])
        .arg(&root)
        .arg(&img));
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
    assert_eq!(r.file("ramdisk"), b"BTRFSINITRD");
    assert_eq!(
        r.get("args"),
        Some("root=UUID=11111111-2222-4333-8444-555555555555 ro quiet")
    );
}
