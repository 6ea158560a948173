//! MBR: images made by `sfdisk` (expected values parsed from `sfdisk --json`), FAT/NTFS boot
//! sectors made by `mkfs.vfat` or by hand, and hostile tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_disk::mbr::{self, Sector0};
use rsgrub_disk::{scan, DiskError, TableKind};
use std::os::unix::fs::FileExt;

const MIB16: u64 = 16 << 20;

/// Two primaries (the second active), an extended partition with three logicals.
const LAYOUT: &str = "label: dos
start=2048, size=4096, type=83
start=6144, size=4096, type=82, bootable
start=10240, type=5
start=12288, size=2048, type=83
start=16384, size=2048, type=7
start=20480, size=2048, type=c
";

fn sfdisk_image(tag: &str, size: u64, layout: &str) -> TempFile {
    let img = TempFile::sized(tag, size);
    run("sfdisk", &["-q", img.s()], Some(layout));
    img
}

/// Walk the EBR chain the way the spec describes, returning the EBR LBAs.
fn ebr_lbas(bytes: &[u8]) -> Vec<u64> {
    let e = mbr::entries(bytes[0..512].try_into().unwrap());
    let ext = e.iter().find(|e| e.is_extended()).unwrap();
    let ext_start = u64::from(ext.lba);
    let mut out = vec![ext_start];
    loop {
        let at = *out.last().unwrap() as usize * 512;
        let ebr = mbr::entries(bytes[at..at + 512].try_into().unwrap());
        if ebr[1].kind == 0 {
            return out;
        }
        out.push(ext_start + u64::from(ebr[1].lba));
    }
}

#[test]
fn sfdisk_primaries_extended_and_logicals() {
    let img = sfdisk_image("layout", MIB16, LAYOUT);
    let parts = sfdisk_parts(&img);
    // Mark each data partition's first bytes so we can see the volume readers point there.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(img.path())
        .unwrap();
    for p in parts.iter().filter(|p| !mbr::is_extended(p.kind)) {
        f.write_at(format!("part {}", p.number).as_bytes(), p.start * 512)
            .unwrap();
    }
    drop(f);

    let disk = scan(img.reader()).unwrap();
    let disk_id = run("sfdisk", &["--disk-id", img.s()], None);
    let disk_id = format!("0x{:0>8}", disk_id.trim().trim_start_matches("0x"));
    assert_eq!(disk.table, TableKind::Mbr);
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    let expected: Vec<&SfPart> = parts.iter().filter(|p| !mbr::is_extended(p.kind)).collect();
    assert_eq!(expected.len(), 5, "{parts:?}");
    assert_eq!(disk.volumes.len(), expected.len());
    for (v, p) in disk.volumes.iter().zip(&expected) {
        assert_eq!(v.name, format!("msdos{}", p.number));
        assert_eq!(v.number, p.number);
        assert_eq!(v.start, p.start * 512);
        assert_eq!(v.size, p.size * 512);
        assert_eq!(v.part_type, format!("0x{:02x}", p.kind));
        assert_eq!(v.active, p.bootable, "{}", v.name);
        // blkid's PARTUUID for MBR: the disk id sfdisk chose, then the partition number.
        assert_eq!(
            v.part_uuid.as_deref(),
            Some(format!("{}-{:02x}", disk_id.trim_start_matches("0x"), p.number).as_str())
        );
        assert_eq!(v.part_label, None);
        assert_eq!(v.grub_device(), format!("hd0,msdos{}", p.number));
        assert_eq!(
            v.describe(),
            format!("partition {} (msdos{})", p.number, p.number)
        );
        let mut buf = [0u8; 6];
        v.reader.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, format!("part {}", p.number).as_bytes());
        assert!(v.reader.read_at(v.size, &mut [0u8; 1]).is_err());
    }
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos2", "msdos5", "msdos6", "msdos7"]);
    // Active first, then table order.
    let order: Vec<&str> = disk.boot_order().iter().map(|v| v.name.as_str()).collect();
    assert_eq!(order, ["msdos2", "msdos1", "msdos5", "msdos6", "msdos7"]);
}

#[test]
fn sfdisk_logicals_numbered_from_5_with_one_primary() {
    let img = sfdisk_image(
        "onepri",
        MIB16,
        "label: dos\nstart=2048, type=f\nstart=4096, size=2048, type=83\nstart=8192, size=2048, type=83\n",
    );
    let parts = sfdisk_parts(&img);
    let disk = scan(img.reader()).unwrap();
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    let got: Vec<(String, u64, u64)> = disk
        .volumes
        .iter()
        .map(|v| (v.name.clone(), v.start, v.size))
        .collect();
    let want: Vec<(String, u64, u64)> = parts
        .iter()
        .filter(|p| !mbr::is_extended(p.kind))
        .map(|p| (format!("msdos{}", p.number), p.start * 512, p.size * 512))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[0].0, "msdos5");
    assert!(disk.boot_order().iter().all(|v| !v.active));
}

#[test]
fn empty_extended_partition_is_fine() {
    let img = sfdisk_image(
        "emptyext",
        MIB16,
        "label: dos\nstart=2048, size=4096, type=83\nstart=10240, type=5\n",
    );
    let disk = scan(img.reader()).unwrap();
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    assert_eq!(disk.volumes.len(), 1);
    assert_eq!(disk.volumes[0].name, "msdos1");
}

#[test]
fn fat_boot_sector_made_by_mkfs_vfat_is_not_an_mbr() {
    if !have("mkfs.vfat") {
        eprintln!("SKIP: mkfs.vfat (dosfstools) is not installed");
        return;
    }
    for (fat, size) in [("12", 4u64 << 20), ("16", 32 << 20), ("32", 64 << 20)] {
        let img = TempFile::sized(&format!("fat{fat}"), size);
        run("mkfs.vfat", &["-F", fat, "-n", "RSGRUB", img.s()], None);
        let bytes = img.bytes();
        assert_eq!(&bytes[510..512], &[0x55, 0xAA]);
        let s0: &[u8; 512] = bytes[0..512].try_into().unwrap();
        assert!(
            matches!(mbr::classify(s0), Sector0::BootSector("FAT")),
            "FAT{fat}: {:?}",
            mbr::classify(s0)
        );
        assert!(mbr::parse_sector(s0).is_none());
        let disk = scan(img.reader()).unwrap();
        assert_eq!(disk.table, TableKind::None, "FAT{fat}");
        assert_eq!(disk.volumes.len(), 1);
        assert_eq!(disk.volumes[0].name, "");
        assert_eq!(disk.volumes[0].size, size);
        assert_eq!(disk.volumes[0].grub_device(), "hd0");
        assert_eq!(disk.volumes[0].describe(), "whole disk");
        assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    }
}

#[test]
fn fat_boot_sector_with_plausible_entries_is_still_fat() {
    if !have("mkfs.vfat") {
        eprintln!("SKIP: mkfs.vfat (dosfstools) is not installed");
        return;
    }
    // Boot code that happens to look like a valid table does not make it one.
    let img = TempFile::sized("fatent", 32 << 20);
    run("mkfs.vfat", &["-F", "16", img.s()], None);
    let mut bytes = img.bytes();
    put_mbr_entry(&mut bytes, 0, 0, 0x80, 0x83, 2048, 4096);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::None);
}

#[test]
fn ntfs_and_exfat_boot_sectors_are_not_mbrs() {
    for oem in [&b"NTFS    "[..], &b"EXFAT   "[..]] {
        let mut bytes = vec![0u8; 1 << 20];
        bytes[0..3].copy_from_slice(&[0xEB, 0x52, 0x90]);
        bytes[3..11].copy_from_slice(oem);
        put_mbr_entry(&mut bytes, 0, 0, 0x00, 0x07, 63, 1000);
        let disk = scan(mem(bytes)).unwrap();
        assert_eq!(disk.table, TableKind::None);
        assert!(disk.warnings.is_empty());
    }
}

#[test]
fn grub_style_mbr_with_jump_is_still_an_mbr() {
    // GRUB's boot.img starts with a short jump; an empty BPB area must not look like FAT.
    let mut bytes = vec![0u8; 4 << 20];
    bytes[0..3].copy_from_slice(&[0xEB, 0x63, 0x90]);
    put_mbr_entry(&mut bytes, 0, 0, 0x80, 0x83, 2048, 4096);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::Mbr);
    assert_eq!(disk.volumes[0].name, "msdos1");
    assert!(disk.volumes[0].active);
}

#[test]
fn not_a_table_falls_back_to_whole_disk() {
    // Bad boot flag.
    let mut bytes = vec![0u8; 1 << 20];
    put_mbr_entry(&mut bytes, 0, 0, 0x12, 0x83, 2048, 10);
    let disk = scan(mem(bytes.clone())).unwrap();
    assert_eq!(disk.table, TableKind::None);
    assert!(
        disk.warnings[0].contains("boot flag 0x12"),
        "{:?}",
        disk.warnings
    );
    // No entries at all.
    bytes[446..510].fill(0);
    let disk = scan(mem(bytes.clone())).unwrap();
    assert_eq!(disk.table, TableKind::None);
    // No signature.
    bytes[510] = 0;
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::None);
    assert!(disk.warnings.is_empty());
}

#[test]
fn isohybrid_style_entry_at_sector_0_means_whole_disk() {
    // Like an isohybrid ISO: entry 1 covers the image from sector 0, entry 2 is an EFI image.
    let mut bytes = vec![0u8; 4 << 20];
    put_mbr_entry(&mut bytes, 0, 0, 0x80, 0x00, 0, 8192);
    put_mbr_entry(&mut bytes, 0, 1, 0x00, 0xEF, 100, 50);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::None);
    assert!(
        disk.warnings[0].contains("entry 1") && disk.warnings[0].contains("sector 0"),
        "{:?}",
        disk.warnings
    );
}

#[test]
fn too_small_images() {
    for n in [0usize, 1, 100, 511] {
        match scan(mem(vec![0u8; n])) {
            Err(DiskError::TooSmall(s)) => assert_eq!(s, n as u64),
            other => panic!("{n}: {other:?}", other = other.map(|d| d.volumes)),
        }
    }
    let disk = scan(mem(vec![0u8; 512])).unwrap();
    assert_eq!(disk.table, TableKind::None);
}

#[test]
fn partition_past_the_end_is_skipped_with_a_warning() {
    let img = sfdisk_image(
        "pastend",
        MIB16,
        "label: dos\nstart=2048, size=4096, type=83\nstart=8192, size=20480, type=83\n",
    );
    let parts = sfdisk_parts(&img);
    let mut bytes = img.bytes();
    // Cut the image in the middle of partition 2.
    bytes.truncate(((parts[1].start + 100) * 512) as usize);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::Mbr);
    assert_eq!(disk.volumes.len(), 1);
    assert_eq!(disk.volumes[0].name, "msdos1");
    assert_eq!(disk.volumes[0].start, parts[0].start * 512);
    assert_eq!(disk.warnings.len(), 1);
    assert!(
        disk.warnings[0].contains("partition 2 (msdos2)") && disk.warnings[0].contains("past"),
        "{:?}",
        disk.warnings
    );
}

#[test]
fn no_usable_partition_falls_back_to_whole_disk() {
    let mut bytes = vec![0u8; 1 << 20];
    put_mbr_entry(&mut bytes, 0, 0, 0x80, 0x83, 2048, 1 << 30);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.table, TableKind::None);
    assert_eq!(disk.volumes.len(), 1);
    assert_eq!(disk.volumes[0].size, 1 << 20);
    assert!(disk.warnings.iter().any(|w| w.contains("msdos1")));
    assert!(disk.warnings.iter().any(|w| w.contains("whole disk")));
}

#[test]
fn overlapping_partitions_later_one_skipped() {
    let img = sfdisk_image(
        "overlap",
        MIB16,
        "label: dos\nstart=2048, size=4096, type=83\nstart=8192, size=4096, type=83\nstart=14336, size=2048, type=83\n",
    );
    let mut bytes = img.bytes();
    // Move partition 2 into partition 1.
    put32(&mut bytes, 446 + 16 + 8, 4000);
    let disk = scan(mem(bytes.clone())).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos3"]);
    assert_eq!(disk.warnings.len(), 1, "{:?}", disk.warnings);
    assert!(disk.warnings[0].contains("msdos2") && disk.warnings[0].contains("overlaps msdos1"));

    // A logical that overlaps an earlier logical is skipped; the chain goes on.
    let img = sfdisk_image("overlap-log", MIB16, LAYOUT);
    let mut bytes = img.bytes();
    let ebrs = ebr_lbas(&bytes);
    let e1 = ebrs[0] as usize * 512;
    // Logical 5 (12288, 2048 sectors) grows over logical 6 (16384).
    put32(&mut bytes, e1 + 446 + 12, 6000);
    let disk = scan(mem(bytes)).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["msdos1", "msdos2", "msdos5", "msdos7"],
        "{:?}",
        disk.warnings
    );
    assert_eq!(disk.warnings.len(), 1, "{:?}", disk.warnings);
    assert!(disk.warnings[0].contains("msdos6") && disk.warnings[0].contains("overlaps msdos5"));

    // A primary overlapping the extended container: the later one in table order goes.
    let img = sfdisk_image("overlap-ext", MIB16, LAYOUT);
    let mut bytes = img.bytes();
    put_mbr_entry(&mut bytes, 0, 3, 0, 0x83, 11000, 100);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.volumes.len(), 5);
    assert!(disk
        .warnings
        .iter()
        .any(|w| w.contains("msdos4") && w.contains("overlaps msdos3")));
}

#[test]
fn ebr_chain_that_loops_terminates_with_a_warning() {
    let img = sfdisk_image("loop", MIB16, LAYOUT);
    let good = img.bytes();
    let ebrs = ebr_lbas(&good);
    assert_eq!(ebrs.len(), 3);
    let ext_start = ebrs[0];

    // Last EBR links back to the first one.
    let mut bytes = good.clone();
    let last = *ebrs.last().unwrap() as usize * 512;
    put_mbr_entry(&mut bytes, last, 1, 0, 0x05, 0, 100);
    let disk = scan(mem(bytes)).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos2", "msdos5", "msdos6", "msdos7"]);
    assert_eq!(disk.warnings.len(), 1, "{:?}", disk.warnings);
    assert!(disk.warnings[0].contains("loops"), "{:?}", disk.warnings);

    // Second EBR links to itself.
    let mut bytes = good.clone();
    let second = ebrs[1] as usize * 512;
    put_mbr_entry(
        &mut bytes,
        second,
        1,
        0,
        0x05,
        (ebrs[1] - ext_start) as u32,
        100,
    );
    let disk = scan(mem(bytes)).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos2", "msdos5", "msdos6"]);
    assert!(disk.warnings.iter().any(|w| w.contains("loops")));

    // A link outside the extended partition stops the chain.
    let mut bytes = good;
    put_mbr_entry(&mut bytes, second, 1, 0, 0x05, 0xFFFF_FFFF, 1);
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.volumes.len(), 4);
    assert!(disk.warnings.iter().any(|w| w.contains("outside")));
}

#[test]
fn ebr_chain_length_is_bounded() {
    // 300 EBRs, each followed by a one-sector logical, each linking to the next.
    let n = 300u32;
    let ext_start = 64u32;
    let sectors = ext_start + 2 * n + 16;
    let mut bytes = vec![0u8; sectors as usize * 512];
    put_mbr_entry(&mut bytes, 0, 0, 0, 0x0F, ext_start, sectors - ext_start);
    for k in 0..n {
        let ebr = (ext_start + 2 * k) as usize * 512;
        put_mbr_entry(&mut bytes, ebr, 0, 0, 0x83, 1, 1);
        put_mbr_entry(&mut bytes, ebr, 1, 0, 0x05, 2 * (k + 1), 2);
    }
    let disk = scan(mem(bytes)).unwrap();
    assert_eq!(disk.volumes.len(), mbr::MAX_EBRS);
    assert_eq!(disk.volumes[0].name, "msdos5");
    assert_eq!(
        disk.volumes.last().unwrap().name,
        format!("msdos{}", 4 + mbr::MAX_EBRS)
    );
    assert!(disk.warnings.iter().any(|w| w.contains("longer than 128")));
}

#[test]
fn logical_outside_extended_and_huge_offsets() {
    let mut bytes = vec![0u8; 8 << 20];
    put_mbr_entry(&mut bytes, 0, 0, 0, 0x83, 2048, 2048);
    put_mbr_entry(&mut bytes, 0, 1, 0, 0x05, 8192, 4096);
    let ebr = 8192 * 512;
    // Entry 1: outside the container; entry 3: huge start (u32 max) — no overflow.
    put_mbr_entry(&mut bytes, ebr, 0, 0, 0x83, 5000, 10);
    put_mbr_entry(&mut bytes, ebr, 2, 0, 0x83, 0xFFFF_FFFF, 0xFFFF_FFFF);
    put_mbr_entry(&mut bytes, ebr, 3, 0, 0x83, 10, 10);
    let disk = scan(mem(bytes)).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    // GRUB numbering counts every used data entry: 5 (bad), 6 (bad), 7 (good).
    assert_eq!(names, ["msdos1", "msdos7"], "{:?}", disk.warnings);
    assert_eq!(disk.volumes[1].start, (8192 + 10) * 512);
    assert!(disk.warnings.iter().any(|w| w.contains("msdos5")));
    assert!(disk.warnings.iter().any(|w| w.contains("msdos6")));
}

#[test]
fn ebr_without_signature_stops_the_chain() {
    let img = sfdisk_image("nosig", MIB16, LAYOUT);
    let mut bytes = img.bytes();
    let ebrs = ebr_lbas(&bytes);
    bytes[ebrs[1] as usize * 512 + 510] = 0;
    let disk = scan(mem(bytes)).unwrap();
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos2", "msdos5"]);
    assert!(disk.warnings.iter().any(|w| w.contains("0x55AA")));
}

#[test]
fn random_corruption_of_mbr_and_ebrs_never_panics() {
    let img = sfdisk_image("fuzz", MIB16, LAYOUT);
    let good = img.bytes();
    let ebrs = ebr_lbas(&good);
    let base = mem(good.clone());
    let mut rng = Rng::new(0x5eed_0001);
    // Sector 0 and the EBR sectors, mutated in a small copy each round.
    let hot: Vec<usize> = std::iter::once(0usize)
        .chain(ebrs.iter().map(|e| *e as usize))
        .collect();
    let head_len = (*hot.iter().max().unwrap() + 1) * 512;
    for round in 0..3000 {
        let mut head = good[..head_len].to_vec();
        let flips = 1 + rng.below(12);
        for _ in 0..flips {
            let sector = hot[rng.below(hot.len() as u64) as usize];
            // Mostly the table area, sometimes anywhere in the sector.
            let off = if rng.below(4) == 0 {
                rng.below(512) as usize
            } else {
                446 + rng.below(66) as usize
            };
            let v = match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                _ => rng.next() as u8,
            };
            head[sector * 512 + off] = v;
        }
        let r: rsgrub_io::DynReader = std::sync::Arc::new(Overlay {
            head,
            base: base.clone(),
        });
        match scan(r) {
            Ok(disk) => check_disk(&disk, good.len() as u64),
            // A flipped type byte can turn an entry into 0xEE: then there is no GPT.
            Err(DiskError::BadTable { table: "GPT", .. }) => {}
            Err(e) => panic!("round {round}: MBR scan errored: {e}"),
        }
    }
}

#[test]
fn sfdisk_logicals_with_ext4_boot_in_msdos6() {
    let img = sfdisk_image(
        "ext4-msdos6",
        64 << 20,
        "label: dos\nstart=2048, size=8192, type=83\nstart=10240, type=5\n\
         start=12288, size=8192, type=82\nstart=22528, size=40960, type=83\n\
         start=65536, size=8192, type=83\n",
    );
    let fs = ext4_image(
        "boot-ext4",
        20 << 20,
        "boot",
        &[(
            "grub/grub.cfg",
            b"menuentry x { linux /vmlinuz }\n".to_vec(),
        )],
    );
    let parts = sfdisk_parts(&img);
    let p6 = parts.iter().find(|p| p.number == 6).unwrap();
    dd_into(&img, fs.path(), p6.start * 512);
    let disk = scan(img.reader()).unwrap();
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["msdos1", "msdos5", "msdos6", "msdos7"]);
    let v = &disk.volumes[2];
    assert_eq!((v.start, v.size), (p6.start * 512, p6.size * 512));
    assert_eq!(v.device_names(), ["hd0,msdos6"]);
    assert_eq!(v.scheme, rsgrub_disk::Scheme::Msdos);
    assert_eq!(
        ext4_magic_and_label(&v.reader),
        (0xEF53, "boot".to_string())
    );
    assert_eq!(disk.find_device("(hd0,6)"), Some(2));
    assert_eq!(disk.find_device("xvda,msdos6"), Some(2));
    assert_eq!(disk.find_device("hd1,msdos6"), None);
    assert_eq!(
        v.reader.physical_range(1024, 1024),
        Some(p6.start * 512 + 1024)
    );
}
