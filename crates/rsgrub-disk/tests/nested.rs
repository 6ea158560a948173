//! Labels nested in MBR partitions: BSD disklabels (FreeBSD/NetBSD/OpenBSD conventions, and a
//! whole-disk "dedicated" label) and Solaris x86 VTOCs. The MBRs come from `sfdisk`, the
//! filesystems from `makefs -t ffs`; the labels are written by these tests, field by field
//! after <sys/disklabel.h> and <sys/dklabel.h> (no Linux tool writes either label).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_disk::{bsd, scan, vtoc, Scheme};
use rsgrub_io::{DynReader, ReadAt};

const MIB: u64 = 1 << 20;

fn ufs_image(tag: &str) -> TempFile {
    let dir = TempDir::new(tag);
    std::fs::create_dir_all(dir.join("boot")).unwrap();
    std::fs::write(dir.join("boot/loader.conf"), "kernel=\"kernel\"\n").unwrap();
    let img = TempFile::new(tag);
    run(
        "makefs",
        &[
            "-t",
            "ffs",
            "-s",
            "8m",
            "-o",
            "version=2",
            img.s(),
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    img
}

/// UFS1 or UFS2 superblock magic at 8 KiB.
fn is_ufs(r: &DynReader) -> bool {
    let mut b = [0u8; 4];
    r.read_at(8192 + 1372, &mut b).unwrap();
    matches!(u32::from_le_bytes(b), 0x0001_1954 | 0x1954_0119)
}

/// A disklabel (little-endian, 512-byte sectors) with `parts` = (index, offset, size, fstype).
fn bsd_label(npartitions: u16, parts: &[(usize, u32, u32, u8)], total: u32) -> [u8; 512] {
    let mut l = [0u8; 512];
    put32(&mut l, 0, bsd::MAGIC);
    put16(&mut l, 4, 4); // DTYPE_SCSI
    l[8..16].copy_from_slice(b"rsgrubte");
    put32(&mut l, 40, 512); // d_secsize
    put32(&mut l, 44, 63);
    put32(&mut l, 48, 255);
    put32(&mut l, 52, total / (63 * 255) + 1);
    put32(&mut l, 56, 63 * 255);
    put32(&mut l, 60, total);
    put16(&mut l, 72, 3600);
    put16(&mut l, 74, 1);
    put32(&mut l, 132, bsd::MAGIC);
    put16(&mut l, 138, npartitions);
    put32(&mut l, 140, 8192); // d_bbsize
    for &(i, off, size, fstype) in parts {
        let o = 148 + 16 * i;
        put32(&mut l, o, size);
        put32(&mut l, o + 4, off);
        put32(&mut l, o + 8, 2048); // p_fsize
        l[o + 12] = fstype;
        l[o + 13] = 8; // p_frag
    }
    let words = (148 + 16 * usize::from(npartitions).min(22)) / 2;
    let sum = (0..words).fold(0u16, |a, i| {
        a ^ u16::from_le_bytes([l[2 * i], l[2 * i + 1]])
    });
    put16(&mut l, 136, sum);
    l
}

fn write_at(img: &TempFile, off: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(img.path())
        .unwrap()
        .write_at(data, off)
        .unwrap();
}

const SLICE: u64 = 2048;
const SLICE_LEN: u64 = 40960; // 20 MiB

/// An MBR with one partition of type `kind` at [`SLICE`], UFS written at slice sector 16.
fn slice_disk(tag: &str, kind: &str) -> (TempFile, TempFile) {
    let img = TempFile::sized(tag, 32 * MIB);
    run(
        "sfdisk",
        &["-q", img.s()],
        Some(&format!(
            "label: dos\nstart={SLICE}, size={SLICE_LEN}, type={kind}, bootable\n"
        )),
    );
    let ufs = ufs_image(&format!("{tag}-ufs"));
    dd_into(&img, ufs.path(), (SLICE + 16) * 512);
    (img, ufs)
}

fn names(d: &rsgrub_disk::Disk) -> Vec<String> {
    d.volumes.iter().map(|v| v.name.clone()).collect()
}

#[test]
fn freebsd_label_absolute_and_relative_offsets() {
    for (tag, base) in [("fbsd-abs", SLICE as u32), ("fbsd-rel", 0u32)] {
        let (img, _ufs) = slice_disk(tag, "a5");
        let s = SLICE_LEN as u32;
        // a: UFS at +16, b: swap, c: the slice (the base), d: unused.
        let label = bsd_label(
            8,
            &[
                (0, base + 16, 16384, 7),
                (1, base + 16400, 8192, 1),
                (2, base, s, 0),
            ],
            s,
        );
        write_at(&img, (SLICE + 1) * 512, &label);
        let disk = scan(img.reader()).unwrap();
        assert!(disk.warnings.is_empty(), "{tag}: {:?}", disk.warnings);
        assert_eq!(
            names(&disk),
            ["msdos1", "msdos1,bsd1", "msdos1,bsd2"],
            "{tag}"
        );
        let a = &disk.volumes[1];
        assert_eq!(
            (a.scheme, a.start, a.size),
            (Scheme::Bsd, (SLICE + 16) * 512, 16384 * 512)
        );
        assert_eq!(a.part_type, "0x07");
        assert_eq!(a.parents, ["msdos1"]);
        assert!(a.active, "inherits the slice's boot flag");
        assert!(is_ufs(&a.reader), "{tag}");
        assert_eq!(a.grub_device(), "hd0,msdos1,bsd1");
        assert_eq!(a.describe(), "BSD partition a (msdos1,bsd1)");
        for dev in ["(hd0,msdos1,bsd1)", "hd0,1,a", "hd0,msdos1,a", "hd0,1,1"] {
            assert_eq!(disk.find_device(dev), Some(1), "{dev}");
        }
        assert_eq!(disk.find_device("hd0,msdos1"), Some(0));
        assert_eq!(disk.volumes[2].start, (SLICE + 16400) * 512);
        assert!(a.reader.physical_range(0, 4096).is_some());
    }
}

#[test]
fn netbsd_and_openbsd_labels_are_absolute_and_top_level() {
    for (tag, kind, prefix) in [("nbsd", "a9", "netbsd"), ("obsd", "a6", "openbsd")] {
        let (img, _ufs) = slice_disk(tag, kind);
        let s = SLICE as u32;
        let total = (32 * MIB / 512) as u32;
        // a: UFS, c: the MBR partition, d: the whole disk (NetBSD i386 RAW_PART).
        let label = bsd_label(
            16,
            &[
                (0, s + 16, 16384, 7),
                (2, s, SLICE_LEN as u32, 0),
                (3, 0, total, 0),
            ],
            total,
        );
        write_at(&img, (SLICE + 1) * 512, &label);
        let disk = scan(img.reader()).unwrap();
        assert!(disk.warnings.is_empty(), "{tag}: {:?}", disk.warnings);
        assert_eq!(
            names(&disk),
            [
                "msdos1".to_string(),
                format!("{prefix}1"),
                format!("{prefix}4")
            ]
        );
        let a = &disk.volumes[1];
        assert_eq!(a.start, (SLICE + 16) * 512);
        assert!(is_ufs(&a.reader));
        assert_eq!(a.grub_device(), format!("hd0,{prefix}1"));
        assert_eq!(disk.volumes[2].size, 32 * MIB);
    }
}

#[test]
fn dedicated_disk_label_at_sector_1() {
    let img = TempFile::sized("dedicated", 32 * MIB);
    let ufs = ufs_image("dedicated-ufs");
    dd_into(&img, ufs.path(), 64 * 512);
    let total = (32 * MIB / 512) as u32;
    write_at(
        &img,
        512,
        &bsd_label(8, &[(0, 64, 16384, 7), (2, 0, total, 0)], total),
    );
    let disk = scan(img.reader()).unwrap();
    assert_eq!(names(&disk), ["", "bsd1"]);
    assert!(is_ufs(&disk.volumes[1].reader));
    assert_eq!(disk.find_device("hd0,bsd1"), Some(1));
}

#[test]
fn hostile_bsd_labels() {
    let (img, _ufs) = slice_disk("bsd-hostile", "a5");
    let s = SLICE_LEN as u32;
    // 65535 partitions claimed: only those that fit in the sector are read.
    let mut label = bsd_label(8, &[(0, 16, 16384, 7), (2, 0, s, 0)], s);
    put16(&mut label, 138, 65535);
    write_at(&img, (SLICE + 1) * 512, &label);
    let disk = scan(img.reader()).unwrap();
    assert!(
        disk.warnings
            .iter()
            .any(|w| w.contains("65535") && w.contains("22")),
        "{:?}",
        disk.warnings
    );
    assert!(disk.volumes.len() <= 1 + bsd::MAX_PARTITIONS);
    assert!(disk.volumes.iter().any(|v| v.name == "msdos1,bsd1"));
    // Partitions past the slice, before the base, overflowing.
    let label = bsd_label(
        8,
        &[
            (0, 16, u32::MAX, 7),
            (1, u32::MAX, 100, 1),
            (2, 1000, s, 0),
            (3, 10, 10, 7),
        ],
        s,
    );
    write_at(&img, (SLICE + 1) * 512, &label);
    let disk = scan(img.reader()).unwrap();
    assert_eq!(names(&disk), ["msdos1"]);
    assert!(disk.warnings.len() >= 3, "{:?}", disk.warnings);
    // Random label bytes never panic.
    let base = img.reader();
    let mut rng = Rng::new(8);
    for _ in 0..2000 {
        let mut l = bsd_label(8, &[(0, 16, 16384, 7), (2, 0, s, 0)], s);
        for _ in 0..1 + rng.below(10) {
            l[4 + rng.below(508) as usize] = rng.next() as u8;
        }
        let r: DynReader = std::sync::Arc::new(Patched {
            base: base.clone(),
            patches: vec![((SLICE + 1) * 512, l.to_vec())],
        });
        let d = scan(r).unwrap();
        for v in &d.volumes {
            assert!(v.start + v.size <= 32 * MIB);
        }
    }
}

/// An x86 VTOC (sector 1 of the Solaris partition): `slices` = (index, tag, start, size).
fn vtoc_label(nparts: u16, slices: &[(usize, u16, u32, u32)]) -> [u8; 512] {
    let mut l = [0u8; 512];
    put32(&mut l, 12, vtoc::VTOC_SANE);
    put32(&mut l, 16, 1); // V_VERSION
    l[20..28].copy_from_slice(b"rsgrub  ");
    put16(&mut l, 28, 512);
    put16(&mut l, 30, nparts);
    for &(i, tag, start, size) in slices {
        let o = 72 + 12 * i;
        put16(&mut l, o, tag);
        put16(&mut l, o + 2, if tag == 5 { 1 } else { 0 });
        put32(&mut l, o + 4, start);
        put32(&mut l, o + 8, size);
    }
    l[328..340].copy_from_slice(b"DEFAULT cyl ");
    put32(&mut l, 456, 1000); // pcyl
    put32(&mut l, 460, 998); // ncyl
    put32(&mut l, 468, 64); // nhead
    put32(&mut l, 472, 32); // nsect
    put16(&mut l, 508, vtoc::DKL_MAGIC);
    let sum = (0..255).fold(0u16, |a, i| {
        a ^ u16::from_le_bytes([l[2 * i], l[2 * i + 1]])
    });
    put16(&mut l, 510, sum);
    l
}

#[test]
fn solaris_vtoc_root_slice_first() {
    let img = TempFile::sized("vtoc", 32 * MIB);
    run(
        "sfdisk",
        &["-q", img.s()],
        Some(&format!(
            "label: dos\nstart={SLICE}, size={SLICE_LEN}, type=bf, bootable\n"
        )),
    );
    let ufs = ufs_image("vtoc-ufs");
    // Slice 0: boot (tag 1), 1: swap (3), 2: backup (5, skipped), 3: root (2) with UFS.
    dd_into(&img, ufs.path(), (SLICE + 4096) * 512);
    let l = vtoc_label(
        16,
        &[
            (0, 1, 16, 2048),
            (1, 3, 20480, 8192),
            (2, 5, 0, SLICE_LEN as u32),
            (3, 2, 4096, 16384),
        ],
    );
    write_at(&img, (SLICE + 1) * 512, &l);
    let disk = scan(img.reader()).unwrap();
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    assert_eq!(
        names(&disk),
        ["msdos1,sunpc4", "msdos1,sunpc1", "msdos1,sunpc2", "msdos1"]
    );
    let root = &disk.volumes[0];
    assert_eq!(
        (root.scheme, root.start, root.part_type.as_str()),
        (Scheme::Vtoc, (SLICE + 4096) * 512, "0x0002")
    );
    assert!(is_ufs(&root.reader));
    assert_eq!(root.describe(), "Solaris slice 3 (msdos1,sunpc4)");
    assert_eq!(disk.boot_order()[0].name, "msdos1,sunpc4");
    assert_eq!(disk.find_device("(hd0,msdos1,sunpc4)"), Some(0));
    // 0x82 is Linux swap unless a VTOC is there.
    let img2 = TempFile::sized("swap82", 8 * MIB);
    run(
        "sfdisk",
        &["-q", img2.s()],
        Some("label: dos\nstart=2048, type=82\n"),
    );
    let d = scan(img2.reader()).unwrap();
    assert_eq!(names(&d), ["msdos1"]);
    assert!(d.warnings.is_empty());
}

#[test]
fn hostile_vtoc() {
    let img = TempFile::sized("vtoc-bad", 32 * MIB);
    run(
        "sfdisk",
        &["-q", img.s()],
        Some(&format!(
            "label: dos\nstart={SLICE}, size={SLICE_LEN}, type=bf\n"
        )),
    );
    // More slices than fit; a slice past the partition; a bad sanity word.
    let mut l = vtoc_label(
        1000,
        &[
            (3, 2, 4096, 16384),
            (4, 4, 30000, 30000),
            (5, 4, u32::MAX, u32::MAX),
        ],
    );
    put32(&mut l, 12, 0x1234_5678);
    write_at(&img, (SLICE + 1) * 512, &l);
    let disk = scan(img.reader()).unwrap();
    let w = disk.warnings.join("\n");
    assert!(w.contains("1000 slices") && w.contains("16"), "{w}");
    assert!(w.contains("v_sanity") && w.contains("checksum"), "{w}");
    assert_eq!(names(&disk), ["msdos1,sunpc4", "msdos1"]);
    let base = img.reader();
    let mut rng = Rng::new(4);
    for _ in 0..2000 {
        let mut l = vtoc_label(16, &[(3, 2, 4096, 16384)]);
        for _ in 0..1 + rng.below(10) {
            l[rng.below(508) as usize] = rng.next() as u8;
        }
        let r: DynReader = std::sync::Arc::new(Patched {
            base: base.clone(),
            patches: vec![((SLICE + 1) * 512, l.to_vec())],
        });
        let d = scan(r).unwrap();
        assert!(d.volumes.len() <= 1 + vtoc::NDKMAP);
    }
}
