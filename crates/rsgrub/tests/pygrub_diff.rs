//! Differential tests against Debian's PyGrub (xen-utils-4.17). Where PyGrub is right, rsgrub's
//! files and args match it; where PyGrub is wrong, rsgrub follows GRUB and the test says why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::path::PathBuf;

const UUID: &str = "5b1e8f3a-9c2d-4e7f-8a6b-1c2d3e4f5a6b";
const KVER: &str = "6.1.0-13-amd64";

/// PyGrub keeps the config's whitespace in args; GRUB passes words joined by one space.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Img {
    _tmp: tempfile::TempDir,
    disk: PathBuf,
}

fn gpt_guest(cfg: &str, extra_files: &[(&str, &[u8])]) -> Img {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            (&format!("boot/vmlinuz-{KVER}"), &pseudo_random(2 << 20, 11)),
            (
                &format!("boot/initrd.img-{KVER}"),
                &pseudo_random(3 << 20, 12),
            ),
            ("boot/vmlinuz-old", &pseudo_random(1 << 20, 13)),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    populate(&root, extra_files);
    let img = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &img, 24, &["-U", UUID]);
    let disk = tmp.path().join("disk.img");
    gpt_disk(&disk, 32, &[(1, None, "ef02"), (24, Some(&img), "8300")]);
    Img { _tmp: tmp, disk }
}

#[test]
fn debian_grub_mkconfig_matches_pygrub() {
    let g = gpt_guest(&debian_grub_cfg(UUID, KVER, "/boot"), &[]);
    let (pk, pr, pa) = pygrub_boot(&g.disk, &[]);
    let (k, r, a) = rsgrub_boot(&g.disk, &[]);
    assert_eq!(sha256(&k), sha256(&pk));
    assert_eq!(sha256(&r), sha256(&pr));
    assert_eq!(a, words(&pa));
    // --entry by number and --args, as libxl passes bootloader_args.
    let (pk, _, pa) = pygrub_boot(&g.disk, &["--entry=2", "--args=console=hvc0"]);
    let (k, _, a) = rsgrub_boot(&g.disk, &["--entry=1>1", "--args=console=hvc0"]);
    // PyGrub numbers the flattened list (0, submenu entries 1 and 2); GRUB numbers the tree.
    assert_eq!(sha256(&k), sha256(&pk));
    assert_eq!(a, words(&pa));
    assert!(a.ends_with("single console=hvc0"), "{a}");
}

#[test]
fn legacy_and_extlinux_match_pygrub() {
    for (name, cfg_path, cfg) in [
        (
            "menu.lst",
            "boot/grub/menu.lst",
            "default 1\ntimeout 5\ntitle A\n root (hd0,0)\n kernel /boot/vmlinuz-old ro root=/dev/xvda1\ntitle B\n root (hd0,0)\n kernel /boot/vmlinuz-6.1.0-13-amd64 ro root=/dev/xvda1 console=hvc0\n initrd /boot/initrd.img-6.1.0-13-amd64\n",
        ),
        (
            "extlinux",
            "boot/extlinux/extlinux.conf",
            "default b\ntimeout 50\nlabel a\n kernel /boot/vmlinuz-old\n append root=/dev/xvda1 ro\nlabel b\n kernel /boot/vmlinuz-6.1.0-13-amd64\n append initrd=/boot/initrd.img-6.1.0-13-amd64 root=/dev/xvda1 ro quiet\n",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        populate(
            &root,
            &[
                (&format!("boot/vmlinuz-{KVER}"), &pseudo_random(1 << 20, 21)),
                (&format!("boot/initrd.img-{KVER}"), &pseudo_random(1 << 20, 22)),
                ("boot/vmlinuz-old", &pseudo_random(1 << 19, 23)),
                (cfg_path, cfg.as_bytes()),
            ],
        );
        let img = tmp.path().join("fs.img");
        mkfs_ext("ext3", &root, &img, 16, &[]);
        let disk = tmp.path().join("disk.img");
        mbr_disk(&disk, 20, &[(16, Some(&img), "83", true)]);
        let (pk, pr, pa) = pygrub_boot(&disk, &[]);
        let (k, r, a) = rsgrub_boot(&disk, &[]);
        assert_eq!(sha256(&k), sha256(&pk), "{name}");
        assert_eq!(sha256(&r), sha256(&pr), "{name}");
        assert_eq!(words(&a), words(&pa), "{name}");
    }
}

/// `set default='Advanced options…>…'` names an entry inside a submenu: GRUB boots it.
/// PyGrub's GRUB 2 parser forces `default` to a number, so it boots entry 0 — a PyGrub bug.
#[test]
fn default_by_submenu_path_follows_grub_not_pygrub() {
    let cfg = debian_grub_cfg(UUID, KVER, "/boot").replace(
        "   set default=\"0\"",
        &format!("   set default='Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux {KVER} (recovery mode)'"),
    );
    let g = gpt_guest(&cfg, &[]);
    let (_, _, pa) = pygrub_boot(&g.disk, &[]);
    let (_, _, a) = rsgrub_boot(&g.disk, &[]);
    assert!(
        words(&pa).ends_with("ro quiet"),
        "PyGrub booted the first entry: {pa}"
    );
    assert!(
        a.ends_with("ro single"),
        "rsgrub boots the recovery entry: {a}"
    );
}
