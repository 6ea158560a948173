//! A RHEL/CentOS-style disk: /boot is an LVM2 logical volume (made by pvcreate/vgcreate/
//! lvcreate on a loop device), grub.cfg names it as `(lvm/VG-boot)`.
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

struct Loop(String, tempfile::TempDir);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new(tool("losetup")).args(["-d", &self.0]).status();
    }
}

fn lvm(conf: &Path, args: &[&str]) -> String {
    let o = Command::new(tool("lvm"))
        .args(args)
        .env("LVM_SYSTEM_DIR", conf)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "lvm {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn num(s: &str) -> u64 {
    s.trim().trim_end_matches('B').parse().unwrap()
}

#[test]
fn boot_logical_volume() {
    assert!(
        Path::new("/dev/loop-control").exists(),
        "loop devices are needed (run as root on a machine with loop support)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let vg = format!("rsgrubvg{}", std::process::id());
    let kernel = pseudo_random(1 << 20, 51);
    let initrd = pseudo_random(1 << 19, 52);
    let boot = tmp.path().join("boot");
    let cfg = format!(
        "set default=0\nmenuentry 'CentOS Linux' {{\n  set root='lvm/{vg}-boot'\n  linux ($root)/vmlinuz root=/dev/mapper/{vg}-root ro\n  initrd ($root)/initramfs.img\n}}\n"
    );
    populate(
        &boot,
        &[
            ("vmlinuz", &kernel),
            ("initramfs.img", &initrd),
            ("grub2/grub.cfg", cfg.as_bytes()),
        ],
    );
    let fsimg = tmp.path().join("boot.img");
    mkfs_ext("ext4", &boot, &fsimg, 16, &[]);

    let disk = tmp.path().join("disk.img");
    mbr_disk(&disk, 64, &[(48, None, "8e", true)]);
    let start = partition_starts(&disk)[0];
    let dev = sh(Command::new(tool("losetup"))
        .args(["-f", "--show", "-o", &start.to_string(), "--sizelimit"])
        .arg((48u64 << 20).to_string())
        .arg(&disk))
    .stdout;
    let conf = tempfile::tempdir().unwrap();
    let lo = Loop(String::from_utf8(dev).unwrap().trim().to_string(), conf);
    let conf = lo.1.path();
    std::fs::write(
        conf.join("lvm.conf"),
        format!(
            "devices {{ use_devicesfile = 0 obtain_device_list_from_udev = 0 filter = [ \"a|^{}$|\", \"r|.*|\" ] }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 }}\nbackup {{ backup = 0 archive = 0 }}\n\
             global {{ use_lvmpolld = 0 activation = 0 }}\n",
            lo.0
        ),
    )
    .unwrap();
    lvm(conf, &["pvcreate", "-q", &lo.0]);
    lvm(conf, &["vgcreate", "-q", &vg, &lo.0]);
    lvm(
        conf,
        &[
            "lvcreate", "-q", "-an", "-Zn", "-L", "8M", "-n", "root", &vg,
        ],
    );
    lvm(
        conf,
        &[
            "lvcreate", "-q", "-an", "-Zn", "-L", "16M", "-n", "boot", &vg,
        ],
    );
    let pe_start = num(&lvm(
        conf,
        &[
            "pvs",
            "--noheadings",
            "--units",
            "b",
            "-o",
            "pe_start",
            &lo.0,
        ],
    ));
    let extent = num(&lvm(
        conf,
        &[
            "vgs",
            "--noheadings",
            "--units",
            "b",
            "-o",
            "vg_extent_size",
            &vg,
        ],
    ));
    let ranges = lvm(
        conf,
        &[
            "lvs",
            "--noheadings",
            "-o",
            "seg_pe_ranges",
            &format!("{vg}/boot"),
        ],
    );
    // "/dev/loopN:FIRST-LAST"
    let first: u64 = ranges
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let lv_offset = start + pe_start + first * extent;
    sh(Command::new("dd")
        .arg(format!("if={}", fsimg.display()))
        .arg(format!("of={}", disk.display()))
        .arg(format!("seek={lv_offset}"))
        .args(["oflag=seek_bytes", "conv=notrunc", "status=none", "bs=1M"]));

    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), kernel);
    assert_eq!(r.file("ramdisk"), initrd);
    assert_eq!(
        r.get("args"),
        Some(format!("root=/dev/mapper/{vg}-root ro").as_str())
    );
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&disk)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = j["boot_volume"].as_u64().unwrap() as usize;
    assert_eq!(j["volumes"][b]["scheme"], "lvm");
    let names = j["volumes"][b]["device_names"].to_string();
    assert!(names.contains(&format!("lvm/{vg}-boot")), "{names}");
}
