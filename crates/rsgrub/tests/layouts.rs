//! End to end on the other disk layouts and image formats: logical partitions, qcow2 (plain,
//! zlib, zstd), VHD (dynamic, fixed), LVM2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const UUID: &str = "3e8d7c6b-5a49-4f38-9e27-16d5c4b3a291";

struct Disk {
    _tmp: tempfile::TempDir,
    raw: PathBuf,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

fn gpt_raw() -> Disk {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let kernel = pseudo_random(3 << 20, 31);
    let initrd = pseudo_random(2 << 20, 32);
    let cfg = debian_grub_cfg(UUID, "6.1", "/boot");
    populate(
        &root,
        &[
            ("boot/vmlinuz-6.1", &kernel),
            ("boot/initrd.img-6.1", &initrd),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    let img = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &img, 24, &["-U", UUID]);
    let raw = tmp.path().join("disk.raw");
    gpt_disk(&raw, 32, &[(1, None, "ef02"), (24, Some(&img), "8300")]);
    Disk {
        _tmp: tmp,
        raw,
        kernel,
        initrd,
    }
}

fn convert(raw: &Path, fmt: &str, opts: &[&str]) -> PathBuf {
    let out = raw.with_extension(format!("{fmt}{}", opts.join("").replace([',', '='], "_")));
    sh(Command::new(tool("qemu-img"))
        .args(["convert", "-f", "raw", "-O", fmt])
        .args(opts)
        .arg(raw)
        .arg(&out));
    out
}

fn boots(d: &Disk, image: &Path) {
    let r = run_libxl(image, &["-q"]);
    assert_eq!(r.status, 0, "{}: {}", image.display(), r.stderr);
    assert_eq!(
        sha256(&r.file("kernel")),
        sha256(&d.kernel),
        "{}",
        image.display()
    );
    assert_eq!(
        sha256(&r.file("ramdisk")),
        sha256(&d.initrd),
        "{}",
        image.display()
    );
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
}

#[test]
fn qcow2_and_vhd_images_boot() {
    let d = gpt_raw();
    boots(&d, &d.raw);
    boots(&d, &convert(&d.raw, "qcow2", &[]));
    boots(&d, &convert(&d.raw, "qcow2", &["-c"]));
    boots(
        &d,
        &convert(&d.raw, "qcow2", &["-c", "-o", "compression_type=zstd"]),
    );
    boots(&d, &convert(&d.raw, "qcow2", &["-o", "cluster_size=4096"]));
    boots(&d, &convert(&d.raw, "vpc", &[]));
    boots(&d, &convert(&d.raw, "vpc", &["-o", "subformat=fixed"]));
}

#[test]
fn qcow2_backing_file_is_never_opened() {
    let d = gpt_raw();
    let overlay = d.raw.with_extension("overlay.qcow2");
    sh(Command::new(tool("qemu-img"))
        .args(["create", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&d.raw)
        .arg(&overlay));
    let r = run_libxl(&overlay, &["-q"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains("backing"), "{}", r.stderr);
    assert!(r.left.is_empty());
}

/// /boot in a logical partition (msdos6), as PyGrub never could read it.
#[test]
fn boot_in_a_logical_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = tmp.path().join("boot");
    let kernel = pseudo_random(1 << 20, 41);
    populate(
        &boot,
        &[
            ("vmlinuz", &kernel),
            (
                "grub/grub.cfg",
                b"set default=0\nmenuentry 'logical' {\n linux /vmlinuz root=/dev/xvda7 ro\n}\n",
            ),
        ],
    );
    let bootimg = tmp.path().join("boot.img");
    mkfs_ext("ext2", &boot, &bootimg, 8, &[]);
    let disk = tmp.path().join("disk.img");
    // Primary 1 (empty), extended 2 with logicals 5 (empty), 6 (/boot), 7.
    let f = std::fs::File::create(&disk).unwrap();
    f.set_len(40 << 20).unwrap();
    drop(f);
    let script = "label: dos\nsize=4MiB, type=83\ntype=5\nsize=4MiB, type=83\nsize=10MiB, type=83\nsize=8MiB, type=83\n";
    let mut child = Command::new(tool("sfdisk"))
        .arg("-q")
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    // sfdisk --dump lists p1, p2 (extended), p5, p6, p7.
    let starts = partition_starts(&disk);
    assert_eq!(starts.len(), 5, "{starts:?}");
    sh(Command::new("dd")
        .arg(format!("if={}", bootimg.display()))
        .arg(format!("of={}", disk.display()))
        .arg(format!("seek={}", starts[3]))
        .args(["oflag=seek_bytes", "conv=notrunc", "status=none", "bs=1M"]));
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), kernel);
    assert_eq!(r.get("args"), Some("root=/dev/xvda7 ro"));
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&disk)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let boot_vol = j["boot_volume"].as_u64().unwrap() as usize;
    assert_eq!(j["volumes"][boot_vol]["name"], "msdos6");
}

/// `search --part-uuid` / `--part-label` pick the partition by its table fields: a GPT
/// partition GUID and name set by sgdisk, an MBR PARTUUID (`SIGNATURE-NN`, as blkid reports
/// it) from sfdisk's label-id. The config lives on partition 1, the kernel to boot on
/// partition 3, a decoy kernel of the same path on partition 2.
#[test]
fn search_by_partition_uuid_and_label() {
    let tmp = tempfile::tempdir().unwrap();
    let real = pseudo_random(1 << 20, 51);
    let decoy = pseudo_random(1 << 20, 52);
    let guid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let cases = [
        (
            "gpt-uuid",
            format!(
                "search --no-floppy --part-uuid --set=root {}",
                guid.to_uppercase()
            ),
        ),
        (
            "gpt-label",
            "search --part-label --set=root rsgrub-boot".to_string(),
        ),
        ("gpt-alias", format!("search.part_uuid {guid} root")),
        (
            "mbr-uuid",
            "search --part-uuid --set=root 5eed1e55-03".to_string(),
        ),
    ];
    for (name, search) in cases {
        let d = tmp.path().join(name);
        let cfg = format!(
            "set default=0\n{search}\nmenuentry 'by {name}' {{\n linux ($root)/vmlinuz ro\n}}\n"
        );
        let mk = |tag: &str, files: &[(&str, &[u8])]| {
            let root = d.join(tag);
            populate(&root, files);
            let img = d.join(format!("{tag}.img"));
            mkfs_ext("ext2", &root, &img, 4, &[]);
            img
        };
        let p1 = mk("p1", &[("boot/grub/grub.cfg", cfg.as_bytes())]);
        let p2 = mk("p2", &[("vmlinuz", &decoy)]);
        let p3 = mk("p3", &[("vmlinuz", &real)]);
        let disk = d.join("disk.img");
        if name.starts_with("gpt") {
            gpt_disk(
                &disk,
                20,
                &[
                    (4, Some(&p1), "8300"),
                    (4, Some(&p2), "8300"),
                    (4, Some(&p3), "8300"),
                ],
            );
            sh(Command::new(tool("sgdisk"))
                .arg(format!("--partition-guid=3:{guid}"))
                .arg("--change-name=3:rsgrub-boot")
                .arg("--change-name=2:decoy")
                .arg(&disk));
        } else {
            mbr_disk(
                &disk,
                20,
                &[
                    (4, Some(&p1), "83", true),
                    (4, Some(&p2), "83", false),
                    (4, Some(&p3), "83", false),
                ],
            );
            sh(Command::new(tool("sfdisk"))
                .args(["-q", "--disk-id"])
                .arg(&disk)
                .arg("0x5eed1e55"));
        }
        let r = run_libxl(&disk, &["-q"]);
        assert_eq!(r.status, 0, "{name}: {}", r.stderr);
        assert!(
            r.file("kernel") == real,
            "{name}: booted the wrong partition's kernel"
        );
    }
    // A part-uuid no partition has: the search fails, root stays the config's partition
    // (which has no kernel): a clear error, nothing left behind.
    let d = tmp.path().join("missing");
    let root = d.join("p1");
    populate(
        &root,
        &[(
            "boot/grub/grub.cfg",
            b"search --part-uuid --set=root 00000000-0000-0000-0000-000000000000\nmenuentry x {\n linux ($root)/vmlinuz\n}\n",
        )],
    );
    let img = d.join("p1.img");
    mkfs_ext("ext2", &root, &img, 4, &[]);
    let disk = d.join("disk.img");
    gpt_disk(&disk, 8, &[(4, Some(&img), "8300")]);
    let r = run_libxl(&disk, &["-q"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("vmlinuz"), "{}", r.stderr);
    assert!(r.left.is_empty(), "{:?}", r.left);
}
