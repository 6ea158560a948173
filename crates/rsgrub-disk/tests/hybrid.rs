//! Hybrid ISOs made by xorriso: the ISO 9660 filesystem at offset 0 is offered as the whole
//! disk (first in boot order) and the partitions (the EFI image) follow.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_disk::{scan, Scheme, TableKind};
use std::path::Path;

const ISOHDPFX: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";

/// An ISO of a small tree plus a FAT EFI image, with extra xorriso arguments.
fn iso(tag: &str, args: &[&str]) -> TempFile {
    let dir = TempDir::new(tag);
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("boot/grub")).unwrap();
    std::fs::write(
        root.join("boot/grub/grub.cfg"),
        "menuentry x { linux /vmlinuz }\n",
    )
    .unwrap();
    std::fs::write(root.join("vmlinuz"), random_bytes(1, 300_000)).unwrap();
    let efi = dir.join("efi.img");
    run(
        "mkfs.vfat",
        &["-C", "-n", "EFIBOOT", efi.to_str().unwrap(), "2048"],
        None,
    );
    let out = TempFile::new(tag);
    let mut a: Vec<String> = [
        "-as",
        "mkisofs",
        "-quiet",
        "-o",
        out.s(),
        "-J",
        "-R",
        "-V",
        "HYBRID",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for x in args {
        a.push(x.replace("EFI_IMG", efi.to_str().unwrap()));
    }
    a.push("-graft-points".into());
    a.push(root.to_str().unwrap().into());
    a.push(format!("efi.img={}", efi.to_str().unwrap()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    run("xorriso", &refs, None);
    out
}

fn is_fat(r: &rsgrub_io::DynReader) -> bool {
    let mut s = [0u8; 512];
    r.read_at(0, &mut s).unwrap();
    &s[0x36..0x39] == b"FAT" || &s[0x52..0x55] == b"FAT"
}

/// Common checks; returns the names of the volumes after the whole disk.
fn check(tag: &str, img: &TempFile, table: TableKind) -> Vec<String> {
    let disk = scan(img.reader()).unwrap();
    assert!(disk.hybrid_iso, "{tag}: {:?}", disk.warnings);
    assert_eq!(disk.table, table, "{tag}");
    let whole = &disk.volumes[0];
    assert_eq!(
        (whole.scheme, whole.name.as_str(), whole.start),
        (Scheme::Whole, "", 0)
    );
    assert_eq!(whole.size, img.reader().size());
    assert_eq!(whole.grub_device(), "hd0");
    let mut m = [0u8; 5];
    whole.reader.read_at(0x8001, &mut m).unwrap();
    assert_eq!(&m, b"CD001");
    assert_eq!(disk.boot_order()[0].name, "", "{tag}: whole disk first");
    assert_eq!(disk.find_device("(hd0)"), Some(0));
    check_disk_hybrid(&disk, img.reader().size());
    disk.volumes[1..].iter().map(|v| v.name.clone()).collect()
}

fn check_disk_hybrid(disk: &rsgrub_disk::Disk, size: u64) {
    for v in &disk.volumes {
        assert!(v.start + v.size <= size);
        assert_eq!(v.reader.size(), v.size);
    }
}

fn efi_volume(disk: &rsgrub_disk::Disk) -> &rsgrub_disk::Volume {
    disk.volumes
        .iter()
        .find(|v| v.part_type == "0xef" || v.part_type.starts_with("c12a7328"))
        .unwrap()
}

#[test]
fn xorriso_partition_offset_with_appended_efi_partition() {
    let img = iso(
        "iso-append",
        &[
            "-partition_offset",
            "16",
            "-append_partition",
            "2",
            "0xef",
            "EFI_IMG",
        ],
    );
    assert_eq!(check("append", &img, TableKind::Mbr), ["msdos1", "msdos2"]);
    let disk = scan(img.reader()).unwrap();
    assert!(is_fat(&efi_volume(&disk).reader));
    // The ISO partition at sector 64 holds a second ISO superblock set.
    let mut m = [0u8; 5];
    disk.volumes[1].reader.read_at(0x8001, &mut m).unwrap();
    assert_eq!(&m, b"CD001");
}

#[test]
fn xorriso_protective_msdos_label() {
    let img = iso("iso-prot", &["--protective-msdos-label"]);
    assert_eq!(check("protective", &img, TableKind::Mbr), ["msdos1"]);
}

#[test]
fn xorriso_appended_partition_as_gpt() {
    let img = iso(
        "iso-gpt",
        &[
            "-partition_offset",
            "16",
            "-appended_part_as_gpt",
            "-append_partition",
            "2",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "EFI_IMG",
        ],
    );
    let names = check("gpt", &img, TableKind::Gpt);
    assert!(
        names.starts_with(&["gpt1".to_string(), "gpt2".to_string()]),
        "{names:?}"
    );
    let disk = scan(img.reader()).unwrap();
    assert!(is_fat(&efi_volume(&disk).reader));
}

/// isolinux's isohybrid MBR (Debian's ISOs): entry 1 covers the ISO from sector 0, entry 2 is
/// the EFI image inside it. Needs Debian's `isolinux` package for isohdpfx.bin; without it the
/// same layout is written over an xorriso ISO by hand.
#[test]
fn isohybrid_mbr_entry_at_sector_0_and_efi_partition() {
    let img = if Path::new(ISOHDPFX).exists() {
        iso(
            "iso-isohybrid",
            &[
                "-isohybrid-mbr",
                ISOHDPFX,
                "-e",
                "efi.img",
                "-no-emul-boot",
                "-isohybrid-gpt-basdat",
            ],
        )
    } else {
        eprintln!("{ISOHDPFX} missing (package isolinux): writing the isohybrid MBR by hand");
        let img = iso("iso-hand", &["-e", "efi.img", "-no-emul-boot"]);
        let mut b = img.bytes();
        let sectors = (b.len() / 512) as u32;
        // The EFI image's extent: find its FAT boot sector after the ISO descriptors.
        let efi = (64..sectors as usize)
            .find(|s| &b[s * 512 + 0x36..s * 512 + 0x39] == b"FAT")
            .unwrap() as u32;
        put_mbr_entry(&mut b, 0, 0, 0x80, 0x00, 0, sectors);
        put_mbr_entry(&mut b, 0, 1, 0x00, 0xEF, efi, 4096);
        std::fs::write(img.path(), &b).unwrap();
        img
    };
    let entries = rsgrub_disk::mbr::entries(img.bytes()[..512].try_into().unwrap());
    assert_eq!((entries[0].lba, entries[1].kind), (0, 0xEF));
    assert_eq!(check("isohybrid", &img, TableKind::Mbr), ["msdos2"]);
    let disk = scan(img.reader()).unwrap();
    assert!(is_fat(&disk.volumes[1].reader));
    assert_eq!(disk.find_device("hd0,msdos2"), Some(1));
}

#[test]
fn plain_iso_is_the_whole_disk_only() {
    let img = iso("iso-plain", &[]);
    let disk = scan(img.reader()).unwrap();
    assert_eq!(disk.table, TableKind::None);
    assert!(!disk.hybrid_iso);
    assert_eq!(disk.volumes.len(), 1);
}

#[test]
fn hybrid_iso_with_a_broken_gpt_still_offers_the_iso() {
    let img = iso(
        "iso-badgpt",
        &[
            "-partition_offset",
            "16",
            "-appended_part_as_gpt",
            "-append_partition",
            "2",
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "EFI_IMG",
        ],
    );
    let mut b = img.bytes();
    let n = b.len();
    b[512..520].copy_from_slice(b"XXXXXXXX");
    b[n - 512..n - 504].copy_from_slice(b"XXXXXXXX");
    let disk = scan(mem(b)).unwrap();
    assert_eq!(disk.volumes.len(), 1, "{:?}", disk.volumes);
    assert_eq!(disk.volumes[0].scheme, Scheme::Whole);
    assert!(
        disk.warnings.iter().any(|w| w.contains("GPT")),
        "{:?}",
        disk.warnings
    );
}
