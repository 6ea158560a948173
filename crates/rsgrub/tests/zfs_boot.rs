//! ZFS root pools end to end, made by zfs-fuse (pool version 23) on a loop device (Debian's
//! PyGrub reads a pool only through a "disk" vdev): GRUB legacy's menu.lst in the pool's root
//! dataset, kernels in the `bootfs` dataset, `zfs-bootfs=` in the entry and in `--args`,
//! compared byte for byte with PyGrub; and a GRUB 2 config booting `/BOOT/debian@/vmlinuz`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// zfs-fuse is one daemon: one pool operation at a time.
static ZLOCK: Mutex<()> = Mutex::new(());

fn cmd(c: &str, args: &[&str]) -> String {
    let o = Command::new(c).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{c} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ensure_daemon() {
    let up = || {
        Command::new("zpool")
            .arg("list")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !up() {
        // Daemonizes by itself; a second one exits at once.
        let _ = Command::new("zfs-fuse").status();
    }
    let t = Instant::now();
    while !up() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "zfs-fuse did not come up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Exports the pool and detaches the loop device when dropped (also on failure).
struct Pool {
    name: String,
    loopdev: String,
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = Command::new("zpool")
            .args(["export", "-f", &self.name])
            .output();
        let _ = Command::new("losetup").args(["-d", &self.loopdev]).output();
    }
}

/// Files of a dataset: (path inside it, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// A pool on a loop device over `img`; `datasets` (relative names, parents first) get the
/// files of `trees` (relative dataset name → files; "" is the root dataset).
fn make_pool(
    img: &Path,
    mnt: &Path,
    name: &str,
    datasets: &[&str],
    trees: &[(&str, Files)],
    bootfs: &str,
) -> Vec<(String, u64)> {
    let _g = ZLOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_daemon();
    fs::File::create(img).unwrap().set_len(96 << 20).unwrap();
    let loopdev = cmd("losetup", &["-f", "--show", img.to_str().unwrap()])
        .trim()
        .to_string();
    let pool = Pool {
        name: name.to_string(),
        loopdev: loopdev.clone(),
    };
    fs::create_dir_all(mnt).unwrap();
    cmd(
        "zpool",
        &[
            "create",
            "-f",
            "-o",
            "version=23",
            "-m",
            mnt.to_str().unwrap(),
            name,
            &loopdev,
        ],
    );
    for d in datasets {
        cmd("zfs", &["create", &format!("{name}/{d}")]);
    }
    for (ds, files) in trees {
        let base = if ds.is_empty() {
            mnt.to_path_buf()
        } else {
            mnt.join(ds)
        };
        for (p, data) in files {
            let f = base.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, data).unwrap();
        }
    }
    cmd("zpool", &["set", &format!("bootfs={name}/{bootfs}"), name]);
    let ids = datasets
        .iter()
        .map(|d| {
            let v = cmd(
                "zfs",
                &[
                    "get",
                    "-H",
                    "-o",
                    "value",
                    "objsetid",
                    &format!("{name}/{d}"),
                ],
            );
            (d.to_string(), v.trim().parse().unwrap())
        })
        .collect();
    drop(pool);
    ids
}

fn files(list: &[(&str, &[u8])]) -> Files {
    list.iter()
        .map(|(p, d)| (p.to_string(), d.to_vec()))
        .collect()
}

struct Legacy {
    _tmp: tempfile::TempDir,
    img: PathBuf,
    pool: String,
    ids: Vec<(String, u64)>,
    k1: Vec<u8>,
    i1: Vec<u8>,
    k2: Vec<u8>,
}

impl Legacy {
    fn id(&self, ds: &str) -> u64 {
        self.ids.iter().find(|(d, _)| d == ds).unwrap().1
    }
}

fn legacy_pool() -> Legacy {
    let tmp = tempfile::tempdir().unwrap();
    let pool = format!("rsgz{}", std::process::id());
    let (k1, i1) = (pseudo_random(600_000, 61), pseudo_random(300_000, 62));
    let (k2, i2) = (pseudo_random(500_000, 63), pseudo_random(200_000, 64));
    let decoy = pseudo_random(400_000, 65);
    let menu = format!(
        "default 0\ntimeout 3\n\
         title Debian on ZFS\n kernel /boot/vmlinuz root=ZFS={pool}/ROOT/debian zfs-bootfs={pool}/ROOT/debian ro\n initrd /boot/initrd.img\n\
         title Debian, no bootfs argument\n kernel /boot/vmlinuz ro quiet\n initrd /boot/initrd.img\n"
    );
    let img = tmp.path().join("pool.img");
    let ids = make_pool(
        &img,
        &tmp.path().join("mnt"),
        &pool,
        &["ROOT", "ROOT/debian", "ROOT/other"],
        &[
            (
                "",
                files(&[
                    ("boot/grub/menu.lst", menu.as_bytes()),
                    // Never booted: PyGrub reads kernels from the boot dataset.
                    ("boot/vmlinuz", &decoy),
                ]),
            ),
            (
                "ROOT/debian",
                files(&[("boot/vmlinuz", &k1), ("boot/initrd.img", &i1)]),
            ),
            (
                "ROOT/other",
                files(&[("boot/vmlinuz", &k2), ("boot/initrd.img", &i2)]),
            ),
        ],
        "ROOT/debian",
    );
    Legacy {
        _tmp: tmp,
        img,
        pool,
        ids,
        k1,
        i1,
        k2,
    }
}

/// Xen 4.17's libfsimage puts the object number of the first dataset it opened a file in
/// (the root dataset's menu.lst: always 0) in its boot string; rsgrub reports the dataset the
/// kernel was read from, which is what the Solaris kernel looks up. Everything else matches.
fn as_pygrub(args: &str, pool: &str, id: u64) -> String {
    args.replace(
        &format!("zfs-bootfs={pool}/{id},"),
        &format!("zfs-bootfs={pool}/0,"),
    )
}

#[test]
fn zfs_root_pool_with_grub_legacy_matches_pygrub() {
    let p = legacy_pool();
    let (pool, id1, id2) = (p.pool.as_str(), p.id("ROOT/debian"), p.id("ROOT/other"));
    let boot = |id: u64| format!("zfs-bootfs={pool}/{id},bootpath=");

    // Default entry: menu.lst from the root dataset, kernel from bootfs, zfs-bootfs= replaced.
    let (k, i, args) = rsgrub_boot(&p.img, &[]);
    assert!(
        k == p.k1 && i == p.i1,
        "kernel/initrd from the bootfs dataset"
    );
    assert!(
        args.starts_with(&format!("root=ZFS={pool}/ROOT/debian {}", boot(id1)))
            && args.ends_with(" ro"),
        "{args}"
    );
    let (pk, pi, pargs) = pygrub_boot(&p.img, &[]);
    assert!(pk == k && pi == i);
    assert_eq!(as_pygrub(&args, pool, id1), pargs);

    // No zfs-bootfs= in the entry: ` -B <boot string>` appended.
    let (_, _, args) = rsgrub_boot(&p.img, &["--entry=1"]);
    assert!(
        args.starts_with(&format!("ro quiet -B {}", boot(id1))),
        "{args}"
    );
    let (_, _, pargs) = pygrub_boot(&p.img, &["--entry=1"]);
    assert_eq!(as_pygrub(&args, pool, id1), pargs);

    // --args=zfs-bootfs=POOL/ROOT/other: the kernel comes from that dataset, and every
    // zfs-bootfs= (the entry's and the appended one) names it.
    let other = format!("--args=zfs-bootfs={pool}/ROOT/other");
    let (k, _, args) = rsgrub_boot(&p.img, &[&other]);
    assert!(k == p.k2, "kernel from ROOT/other");
    assert_eq!(args.matches(&boot(id2)).count(), 2, "{args}");
    let (pk, _, pargs) = pygrub_boot(&p.img, &[&other]);
    assert!(pk == k);
    assert_eq!(as_pygrub(&args, pool, id2), pargs);

    // A dataset that does not exist: PyGrub (and rsgrub) fall back to bootfs.
    let nope = format!("--args=zfs-bootfs={pool}/ROOT/nope");
    let (k, _, _) = rsgrub_boot(&p.img, &[&nope]);
    assert!(k == p.k1);
}

#[test]
fn zfs_grub2_paths_across_datasets() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = format!("rsgy{}", std::process::id());
    let (k, i) = (pseudo_random(700_000, 71), pseudo_random(100_000, 72));
    let decoy = pseudo_random(700_000, 73);
    // Ubuntu's root-on-ZFS layout: kernels in BOOT/debian, the grub.cfg of the root fs
    // reaching them with GRUB's `/<dataset>@/<path>`; a decoy at the same path in bootfs.
    let cfg = "set default=0\nmenuentry 'Debian (ZFS)' {\n linux /BOOT/debian@/vmlinuz root=ZFS=rpool/ROOT/debian ro\n initrd /BOOT/debian@/initrd.img\n}\n";
    let img = tmp.path().join("pool.img");
    make_pool(
        &img,
        &tmp.path().join("mnt"),
        &pool,
        &["ROOT", "ROOT/debian", "BOOT", "BOOT/debian"],
        &[
            (
                "ROOT/debian",
                files(&[("boot/grub/grub.cfg", cfg.as_bytes()), ("vmlinuz", &decoy)]),
            ),
            ("BOOT/debian", files(&[("vmlinuz", &k), ("initrd.img", &i)])),
        ],
        "ROOT/debian",
    );
    let (gk, gi, args) = rsgrub_boot(&img, &[]);
    assert!(gk == k && gi == i, "read through /BOOT/debian@/");
    // A boot string is added as PyGrub adds it for any ZFS guest.
    assert!(
        args.starts_with("root=ZFS=rpool/ROOT/debian ro -B zfs-bootfs="),
        "{args}"
    );
    let o = rsgrub()
        .args(["ls"])
        .arg(&img)
        .arg("/BOOT/debian@/")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && listing.contains("initrd.img"),
        "{listing}"
    );
}
