//! qcow2 and VHD: images made by `qemu-img convert` from a raw GPT+ext4 disk must read back
//! byte for byte, scan to the same partitions, and map to the image file where the data is
//! stored plainly; hostile headers and tables give clear errors, never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity
)]

mod common;

use common::*;
use rsgrub_disk::image::{self, qcow2, vhd, Format};
use rsgrub_disk::{scan, DiskError};
use rsgrub_io::{DynReader, FileReader, ReadAt, Slice};
use std::sync::{Arc, OnceLock};

const DISK: u64 = 64 << 20;

/// The raw GPT disk (built once): partition 1 EFI (empty), partition 2 ext4 "rootfs" with
/// random (incompressible) and text (compressible) files, holes elsewhere.
struct Raw {
    img: TempFile,
    root_start: u64,
}

fn raw() -> &'static Raw {
    static RAW: OnceLock<Raw> = OnceLock::new();
    RAW.get_or_init(|| {
        let img = TempFile::sized("raw-gpt", DISK);
        run(
            "sgdisk",
            &[
                "-n",
                "1:2048:+8M",
                "-t",
                "1:ef00",
                "-c",
                "1:efi",
                "-n",
                "2:0:+40M",
                "-t",
                "2:8300",
                "-c",
                "2:root",
                img.s(),
            ],
            None,
        );
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i} of a compressible config file\n").into_bytes())
            .take(3 << 20)
            .collect();
        let fs = ext4_image(
            "rootfs",
            40 << 20,
            "rootfs",
            &[
                ("boot/vmlinuz", random_bytes(1, 5 << 20)),
                ("boot/initrd.img", random_bytes(2, 3 << 20)),
                ("etc/big.txt", text),
                ("boot/grub/grub.cfg", b"linux /boot/vmlinuz\n".to_vec()),
            ],
        );
        let root_start = (2048 + 8 * 2048) * 512;
        dd_into(&img, fs.path(), root_start);
        // A marker in the EFI partition and near the end, so no region is all zero.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(img.path())
            .unwrap();
        use std::os::unix::fs::FileExt;
        f.write_at(&random_bytes(3, 100_000), 2048 * 512 + 4096)
            .unwrap();
        f.write_at(b"end marker", DISK - 40 * 512).unwrap();
        Raw { img, root_start }
    })
}

fn raw_reader() -> DynReader {
    raw().img.reader()
}

fn convert(tag: &str, args: &[&str]) -> TempFile {
    let out = TempFile::new(tag);
    let mut a = vec!["convert", "-f", "raw"];
    a.extend_from_slice(args);
    a.push(raw().img.s());
    a.push(out.s());
    run("qemu-img", &a, None);
    out
}

/// The virtual size QEMU sees with the format given explicitly (QEMU's own probing takes a
/// fixed VHD, whose footer is only at the end, for raw).
fn virtual_size(img: &TempFile, format: &str) -> u64 {
    let out = run(
        "qemu-img",
        &["info", "-f", format, "--output=json", img.s()],
        None,
    );
    Json::parse(&out).get("virtual-size").num()
}

fn summary(r: DynReader) -> Vec<(String, u64, u64, Option<String>)> {
    scan(r)
        .unwrap()
        .volumes
        .iter()
        .map(|v| (v.name.clone(), v.start, v.size, v.part_uuid.clone()))
        .collect()
}

/// Everything a converted image must satisfy.
fn check_converted(tag: &str, args: &[&str], want: Format) -> (TempFile, DynReader) {
    let img = convert(tag, args);
    let file: DynReader =
        Arc::new(FileReader::new(std::fs::File::open(img.path()).unwrap()).unwrap());
    assert_eq!(image::detect(&file).unwrap(), want, "{tag}");
    let r = open_image(img.path()).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let qemu_format = if want == Format::Vhd { "vpc" } else { "qcow2" };
    assert_eq!(
        r.size(),
        virtual_size(&img, qemu_format),
        "{tag}: virtual size"
    );
    let raw_r = raw_reader();
    // VHD rounds the size up to a CHS geometry: the extra bytes are zeros.
    assert!(r.size() >= DISK, "{tag}");
    let head: DynReader = Arc::new(Slice::new(r.clone(), 0, DISK).unwrap());
    assert_same_bytes(&head, &raw_r, 300, 7);
    let mut tail = vec![0xFFu8; (r.size() - DISK) as usize];
    r.read_at(DISK, &mut tail).unwrap();
    assert!(tail.iter().all(|b| *b == 0), "{tag}: tail");
    assert!(r.read_at(r.size(), &mut [0u8; 1]).is_err());
    assert!(r.read_at(u64::MAX, &mut [0u8; 1]).is_err());
    // Same partitions (a VHD's extra tail moves only the backup GPT's expected place).
    let disk = scan(r.clone()).unwrap();
    assert_eq!(
        summary(r.clone()),
        summary(raw_r.clone()),
        "{tag}: {:?}",
        disk.warnings
    );
    let root = disk.volumes.iter().find(|v| v.name == "gpt2").unwrap();
    assert_eq!(root.start, raw().root_start);
    assert_eq!(
        ext4_magic_and_label(&root.reader),
        (0xEF53, "rootfs".to_string())
    );
    (img, r)
}

/// For random ranges of the root partition: a mapped range holds the same bytes in the
/// image file. Returns (mapped, should have mapped but did not): a range "should" map when
/// it lies within one `unit` (cluster or block) and none of its sectors is all zeros in the
/// raw disk (qemu-img allocates exactly the non-zero clusters).
fn check_physical(img: &TempFile, r: &DynReader, seed: u64, max_len: u64, unit: u64) -> (u32, u32) {
    let file = img.reader();
    let rawr = raw_reader();
    let disk = scan(r.clone()).unwrap();
    let root = disk.volumes.iter().find(|v| v.name == "gpt2").unwrap();
    let mut rng = Rng::new(seed);
    let (mut yes, mut missed) = (0, 0);
    for _ in 0..400 {
        let len = 1 + rng.below(max_len);
        let at = rng.below(root.size - len);
        let abs = root.start + at;
        let s0 = abs / 512 * 512;
        let s1 = (abs + len).div_ceil(512) * 512;
        let mut sectors = vec![0u8; (s1 - s0) as usize];
        rawr.read_at(s0, &mut sectors).unwrap();
        let dense = sectors.chunks(512).all(|s| s.iter().any(|b| *b != 0));
        let one_unit = abs / unit == (abs + len - 1) / unit;
        match root.reader.physical_range(at, len) {
            Some(p) => {
                let mut a = vec![0u8; len as usize];
                let mut b = vec![0u8; len as usize];
                root.reader.read_at(at, &mut a).unwrap();
                file.read_at(p, &mut b).unwrap();
                assert!(a == b, "mapped range {at}+{len} → {p} differs");
                yes += 1;
            }
            None if dense && one_unit => missed += 1,
            None => {}
        }
    }
    (yes, missed)
}

#[test]
fn qcow2_uncompressed_v3_and_v2() {
    let (img, r) = check_converted("q3", &["-O", "qcow2"], Format::Qcow2);
    let (yes, missed) = check_physical(&img, &r, 11, 60_000, 65536);
    assert!(
        yes > 60 && missed == 0,
        "uncompressed qcow2: {yes} mapped, {missed} missed"
    );
    // Ranges spanning clusters map when qemu-img laid the clusters out in order.
    let (yes, _) = check_physical(&img, &r, 12, 1 << 20, 65536);
    assert!(yes > 10, "multi-cluster ranges: {yes}");
    let (img, r) = check_converted("q2", &["-O", "qcow2", "-o", "compat=0.10"], Format::Qcow2);
    let (yes, missed) = check_physical(&img, &r, 13, 60_000, 65536);
    assert!(
        yes > 60 && missed == 0,
        "qcow2 v2: {yes} mapped, {missed} missed"
    );
}

#[test]
fn qcow2_small_and_large_clusters_and_extended_l2() {
    for (tag, opts, unit) in [
        ("q512", "cluster_size=512", 512),
        ("q2m", "cluster_size=2M", 2 << 20),
        ("qx", "extended_l2=on,cluster_size=64k", 2048),
        ("qx2m", "extended_l2=on,cluster_size=2M", 65536),
    ] {
        let (img, r) = check_converted(tag, &["-O", "qcow2", "-o", opts], Format::Qcow2);
        let (yes, missed) = check_physical(&img, &r, 14, 400, unit);
        assert!(
            yes > 60 && missed == 0,
            "{tag}: {yes} mapped, {missed} missed"
        );
    }
}

#[test]
fn qcow2_zlib_compressed() {
    let (img, r) = check_converted("qz", &["-O", "qcow2", "-c"], Format::Qcow2);
    let (_, missed) = check_physical(&img, &r, 15, 60_000, 65536);
    assert!(missed > 0, "compressed clusters never map");
    // The compressed image is smaller than the data it holds.
    assert!(std::fs::metadata(img.path()).unwrap().len() < 14 << 20);
}

#[test]
fn qcow2_zstd_compressed() {
    let (img, r) = check_converted(
        "qzs",
        &["-O", "qcow2", "-c", "-o", "compression_type=zstd"],
        Format::Qcow2,
    );
    let (_, missed) = check_physical(&img, &r, 16, 60_000, 65536);
    assert!(missed > 0, "compressed clusters never map");
    let info = image::info(&img.reader()).unwrap();
    assert!(info.details.contains("zstd"), "{info:?}");
    check_converted(
        "qzsx",
        &[
            "-O",
            "qcow2",
            "-c",
            "-o",
            "compression_type=zstd,extended_l2=on",
        ],
        Format::Qcow2,
    );
}

#[test]
fn vhd_dynamic_and_fixed() {
    let (img, r) = check_converted("vd", &["-O", "vpc"], Format::Vhd);
    let (yes, missed) = check_physical(&img, &r, 17, 60_000, 2 << 20);
    assert!(
        yes > 60 && missed == 0,
        "dynamic VHD: {yes} mapped, {missed} missed"
    );
    let info = image::info(&img.reader()).unwrap();
    assert_eq!(info.details, "vhd dynamic");
    let (img, r) = check_converted("vf", &["-O", "vpc", "-o", "subformat=fixed"], Format::Vhd);
    let (yes, _) = check_physical(&img, &r, 18, 4 << 20, 1);
    assert_eq!(yes, 400, "fixed VHD maps everything");
    // force_size keeps the exact size (creator "qem2": current_size is used).
    let (_, r) = check_converted("vfs", &["-O", "vpc", "-o", "force_size=on"], Format::Vhd);
    assert_eq!(r.size(), DISK);
}

#[test]
fn raw_stays_raw() {
    let file = raw_reader();
    assert_eq!(image::detect(&file).unwrap(), Format::Raw);
    let r = open_image(raw().img.path()).unwrap();
    assert_eq!(r.size(), DISK);
    assert_eq!(r.physical_range(4096, 512), Some(4096));
}

#[test]
fn qcow2_backing_file_is_refused_unless_given() {
    let dir = TempDir::new("backing");
    let base = dir.join("base.raw");
    std::fs::copy(raw().img.path(), &base).unwrap();
    let ov = dir.join("overlay.qcow2");
    let (b, o) = (base.to_str().unwrap(), ov.to_str().unwrap());
    run(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-b", b, "-F", "raw", o],
        None,
    );
    run(
        "qemu-io",
        &[
            "-c",
            "write -P 0xab 1M 64k",
            "-c",
            "write -z 2M 1M",
            "-c",
            "write -P 0x5a 63M 4k",
            o,
        ],
        None,
    );
    match open_image(&ov) {
        Err(DiskError::BackingFile { format, name }) => {
            assert_eq!(format, "qcow2");
            assert_eq!(name, b);
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened an image with a backing file"),
    }
    let ov_file: DynReader = Arc::new(FileReader::new(std::fs::File::open(&ov).unwrap()).unwrap());
    let info = image::info(&ov_file).unwrap();
    assert_eq!(info.backing_file.as_deref(), Some(b));
    // With the backing reader passed in: what QEMU sees.
    let flat = dir.join("flat.raw");
    run(
        "qemu-img",
        &["convert", "-O", "raw", o, flat.to_str().unwrap()],
        None,
    );
    let ovr = Arc::new(FileReader::new(std::fs::File::open(&ov).unwrap()).unwrap());
    let r = image::open(ovr, Some(raw_reader())).unwrap();
    let flat_r: DynReader = Arc::new(FileReader::new(std::fs::File::open(&flat).unwrap()).unwrap());
    assert_same_bytes(&r, &flat_r, 200, 21);
    let mut b = [0u8; 4];
    r.read_at((1 << 20) + 10, &mut b).unwrap();
    assert_eq!(b, [0xab; 4]);
}

#[test]
fn qcow2_backing_etc_shadow_is_named_and_not_opened() {
    let img = TempFile::new("shadow");
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-u",
            "-f",
            "qcow2",
            "-b",
            "/etc/shadow",
            "-F",
            "raw",
            img.s(),
            "64M",
        ],
        None,
    );
    let err = match open_image(img.path()) {
        Err(e) => e,
        Ok(_) => panic!("opened"),
    };
    let msg = err.to_string();
    assert!(
        msg.contains("/etc/shadow") && msg.contains("not opened"),
        "{msg}"
    );
    assert!(matches!(err, DiskError::BackingFile { .. }));
}

// ---------------------------------------------------------------------------------------------
// Hostile qcow2

fn be64(b: &[u8], o: usize) -> u64 {
    u64::from_be_bytes(b[o..o + 8].try_into().unwrap())
}

fn small_qcow2() -> &'static (TempFile, Vec<u8>) {
    static Q: OnceLock<(TempFile, Vec<u8>)> = OnceLock::new();
    Q.get_or_init(|| {
        let img = convert("qsmall", &["-O", "qcow2"]);
        let bytes = img.bytes();
        (img, bytes)
    })
}

fn open_patched(base: &TempFile, patches: Vec<(u64, Vec<u8>)>) -> rsgrub_disk::Result<DynReader> {
    image::open_reader(
        Arc::new(Patched {
            base: base.reader(),
            patches,
        }),
        None,
    )
}

fn image_err(r: rsgrub_disk::Result<DynReader>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("hostile image opened"),
    }
}

#[test]
fn qcow2_hostile_headers() {
    let (img, bytes) = small_qcow2();
    let size = bytes.len() as u64;
    let cases: Vec<(&str, Vec<(u64, Vec<u8>)>, &str)> = vec![
        (
            "L1 past the end",
            vec![(40, ((size + (1 << 20)) & !0xffff).to_be_bytes().to_vec())],
            "L1 table",
        ),
        (
            "L1 huge",
            vec![(36, u32::MAX.to_be_bytes().to_vec())],
            "L1 table of 4294967295",
        ),
        (
            "L1 too small",
            vec![(36, 0u32.to_be_bytes().to_vec())],
            "too small",
        ),
        (
            "L1 unaligned",
            vec![(40, (be64(bytes, 40) + 8).to_be_bytes().to_vec())],
            "aligned",
        ),
        (
            "cluster_bits 8",
            vec![(20, 8u32.to_be_bytes().to_vec())],
            "cluster_bits 8",
        ),
        (
            "cluster_bits 22",
            vec![(20, 22u32.to_be_bytes().to_vec())],
            "cluster_bits 22",
        ),
        (
            "cluster_bits huge",
            vec![(20, 200u32.to_be_bytes().to_vec())],
            "cluster_bits 200",
        ),
        (
            "encrypted",
            vec![(32, 1u32.to_be_bytes().to_vec())],
            "encrypted",
        ),
        ("LUKS", vec![(32, 2u32.to_be_bytes().to_vec())], "LUKS"),
        (
            "unknown feature",
            vec![(72, (1u64 << 40).to_be_bytes().to_vec())],
            "unknown incompatible",
        ),
        (
            "external data",
            vec![(72, 4u64.to_be_bytes().to_vec())],
            "external file",
        ),
        (
            "version 4",
            vec![(4, 4u32.to_be_bytes().to_vec())],
            "version 4",
        ),
        (
            "huge size",
            vec![(24, (u64::MAX / 2).to_be_bytes().to_vec())],
            "L1 table",
        ),
        (
            "compression 7",
            vec![(100, 112u32.to_be_bytes().to_vec()), (104, vec![7])],
            "compression type 7",
        ),
    ];
    for (what, patches, want) in cases {
        let msg = image_err(open_patched(img, patches));
        assert!(
            msg.contains(want) && msg.starts_with("qcow2"),
            "{what}: {msg}"
        );
    }
}

#[test]
fn qcow2_l2_entry_past_the_end_is_a_read_error() {
    let (img, bytes) = small_qcow2();
    let l1 = be64(bytes, 40) as usize;
    let l2 = (be64(bytes, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    // First allocated entry of the first L2 table.
    let (i, _) = (0..8192)
        .map(|i| (i, be64(bytes, l2 + 8 * i)))
        .find(|(_, e)| e & 0x00ff_ffff_ffff_fe00 != 0)
        .unwrap();
    let past = (bytes.len() as u64 + (10 << 20)) & !0xffff;
    let r = open_patched(
        img,
        vec![(
            (l2 + 8 * i) as u64,
            ((1u64 << 63) | past).to_be_bytes().to_vec(),
        )],
    )
    .unwrap();
    let mut b = [0u8; 16];
    let err = r.read_at(i as u64 * 65536, &mut b).unwrap_err();
    assert!(
        err.to_string().contains("past the end of the file"),
        "{err}"
    );
    assert_eq!(r.physical_range(i as u64 * 65536, 16), None);
    // The L1 entry itself pointing past the end.
    let r = open_patched(img, vec![(l1 as u64, past.to_be_bytes().to_vec())]).unwrap();
    let err = r.read_at(0, &mut b).unwrap_err();
    assert!(err.to_string().contains("L2 table"), "{err}");
    // scan() on such an image fails cleanly (sector 0 unreadable) or warns; never panics.
    let _ = scan(r);
}

/// A minimal qcow2 v2 written by hand: 64 KiB clusters, 1 MiB virtual, L1 at cluster 1,
/// L2 at cluster 2, one compressed cluster (guest cluster 0) at cluster 3 holding `deflate`,
/// one data cluster (guest cluster 1) at cluster 4 full of 0x11, refcounts at 5 and 6.
fn hand_qcow2(deflate: &[u8], nsectors_field: u64) -> Vec<u8> {
    let cs = 65536usize;
    let mut f = vec![0u8; 7 * cs];
    // Refcounts (QEMU wants them): table at cluster 5 → block at cluster 6, all 7 used.
    f[48..56].copy_from_slice(&((5 * cs) as u64).to_be_bytes());
    f[56..60].copy_from_slice(&1u32.to_be_bytes());
    f[5 * cs..5 * cs + 8].copy_from_slice(&((6 * cs) as u64).to_be_bytes());
    for c in 0..7 {
        f[6 * cs + 2 * c..6 * cs + 2 * c + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    f[0..4].copy_from_slice(b"QFI\xfb");
    f[4..8].copy_from_slice(&2u32.to_be_bytes());
    f[20..24].copy_from_slice(&16u32.to_be_bytes());
    f[24..32].copy_from_slice(&(1u64 << 20).to_be_bytes());
    f[36..40].copy_from_slice(&1u32.to_be_bytes());
    f[40..48].copy_from_slice(&(cs as u64).to_be_bytes());
    f[cs..cs + 8].copy_from_slice(&((2 * cs) as u64 | 1 << 63).to_be_bytes());
    let x = 62 - (16 - 8);
    let comp = (1u64 << 62) | (nsectors_field << x) | (3 * cs) as u64;
    f[2 * cs..2 * cs + 8].copy_from_slice(&comp.to_be_bytes());
    f[2 * cs + 8..2 * cs + 16].copy_from_slice(&((4 * cs) as u64 | 1 << 63).to_be_bytes());
    f[3 * cs..3 * cs + deflate.len()].copy_from_slice(deflate);
    f[4 * cs..5 * cs].fill(0x11);
    f
}

#[test]
fn qcow2_compressed_cluster_bounded() {
    let cs = 65536;
    // Valid: one cluster of a pattern. Checked against QEMU first.
    let pattern: Vec<u8> = (0..cs).map(|i| (i % 251) as u8).collect();
    let good = miniz_oxide::deflate::compress_to_vec(&pattern, 6);
    let sectors = (good.len().div_ceil(512) - 1) as u64;
    let f = TempFile::new("hand-good");
    std::fs::write(f.path(), hand_qcow2(&good, sectors)).unwrap();
    let flat = TempFile::new("hand-flat");
    run(
        "qemu-img",
        &["convert", "-f", "qcow2", "-O", "raw", f.s(), flat.s()],
        None,
    );
    let r = open_image(f.path()).unwrap();
    assert_same_bytes(&r, &flat.reader(), 50, 3);
    let mut b = vec![0u8; cs];
    r.read_at(0, &mut b).unwrap();
    assert_eq!(b, pattern);
    // A bomb: 64 clusters' worth of zeros in guest cluster 0.
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 64 * cs], 9);
    let sectors = (bomb.len().div_ceil(512) - 1) as u64;
    let f = TempFile::new("hand-bomb");
    std::fs::write(f.path(), hand_qcow2(&bomb, sectors)).unwrap();
    let r = open_image(f.path()).unwrap();
    let err = r.read_at(100, &mut [0u8; 10]).unwrap_err();
    assert!(
        err.to_string().contains("inflates beyond the cluster size"),
        "{err}"
    );
    // The uncompressed cluster next to it still reads.
    let mut b = [0u8; 10];
    r.read_at(cs as u64 + 5, &mut b).unwrap();
    assert_eq!(b, [0x11; 10]);
    // Short output and garbage are errors too.
    let short = miniz_oxide::deflate::compress_to_vec(&vec![7u8; 1000], 6);
    let f = TempFile::new("hand-short");
    std::fs::write(f.path(), hand_qcow2(&short, 0)).unwrap();
    let err = open_image(f.path())
        .unwrap()
        .read_at(0, &mut [0u8; 4])
        .unwrap_err();
    assert!(err.to_string().contains("instead of 65536"), "{err}");
    let f = TempFile::new("hand-garbage");
    std::fs::write(f.path(), hand_qcow2(&random_bytes(9, 3000), 5)).unwrap();
    assert!(open_image(f.path())
        .unwrap()
        .read_at(0, &mut [0u8; 4])
        .is_err());
    // zstd bomb and a window too large are refused the same way.
    assert!(
        qcow2::inflate_zstd(&[0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xF8], &mut [0u8; 512])
            .unwrap_err()
            .contains("window")
    );
}

#[test]
fn qcow2_random_header_and_table_corruption_never_panics() {
    let (img, bytes) = small_qcow2();
    let l1 = be64(bytes, 40);
    let l2 = be64(bytes, l1 as usize) & 0x00ff_ffff_ffff_fe00;
    let regions = [(0u64, 512u64), (l1, 64), (l2, 4096)];
    let mut rng = Rng::new(99);
    let mut opened = 0;
    for _ in 0..1500 {
        let mut patches = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let (at, len) = regions[rng.below(3) as usize];
            let off = at + rng.below(len);
            let v = match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                2 => bytes[off as usize] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
            patches.push((off, vec![v]));
        }
        let Ok(r) = open_patched(img, patches) else {
            continue;
        };
        opened += 1;
        let mut b = vec![0u8; 70_000];
        for _ in 0..4 {
            let at = rng.below(r.size().max(1));
            let n = (b.len() as u64).min(r.size() - at) as usize;
            let _ = r.read_at(at, &mut b[..n]);
            let _ = r.physical_range(at, n as u64);
        }
        if let Ok(d) = scan(r) {
            assert!(!d.volumes.is_empty());
        }
    }
    assert!(opened > 100, "{opened}");
}

// ---------------------------------------------------------------------------------------------
// Hostile VHD

fn small_vhd() -> &'static (TempFile, Vec<u8>) {
    static V: OnceLock<(TempFile, Vec<u8>)> = OnceLock::new();
    V.get_or_init(|| {
        let img = convert("vsmall", &["-O", "vpc"]);
        let bytes = img.bytes();
        (img, bytes)
    })
}

#[test]
fn vhd_hostile_tables() {
    let (img, bytes) = small_vhd();
    let size = bytes.len() as u64;
    let dyn_at = be64(bytes, 16);
    let bat_at = be64(bytes, dyn_at as usize + 16);
    let cases: Vec<(&str, Vec<(u64, Vec<u8>)>, &str)> = vec![
        (
            "BAT past the end",
            vec![(dyn_at + 16, (size + 4096).to_be_bytes().to_vec())],
            "past the end",
        ),
        (
            "huge max entries",
            vec![(dyn_at + 28, u32::MAX.to_be_bytes().to_vec())],
            "past the end",
        ),
        (
            "too few entries",
            vec![(dyn_at + 28, 1u32.to_be_bytes().to_vec())],
            "too small",
        ),
        (
            "block size 3000",
            vec![(dyn_at + 32, 3000u32.to_be_bytes().to_vec())],
            "power of two",
        ),
        (
            "block size 0",
            vec![(dyn_at + 32, 0u32.to_be_bytes().to_vec())],
            "power of two",
        ),
        (
            "no dynamic header",
            vec![(dyn_at, b"xxxxxxxx".to_vec())],
            "cxsparse",
        ),
        (
            "footer checksum",
            vec![(size - 512 + 48, vec![0xFF; 8]), (48, vec![0xFF; 8])],
            "checksum",
        ),
    ];
    for (what, patches, want) in cases {
        let msg = image_err(open_patched(img, patches));
        assert!(
            msg.contains(want) && msg.starts_with("VHD"),
            "{what}: {msg}"
        );
    }
    // A BAT entry pointing past the end: the read of that block fails, others work.
    let bat: Vec<u32> = (0..32)
        .map(|i| u32::from_be_bytes(bytes[bat_at as usize + 4 * i..][..4].try_into().unwrap()))
        .collect();
    let i = bat.iter().position(|e| *e != u32::MAX).unwrap();
    let r = open_patched(
        img,
        vec![(bat_at + 4 * i as u64, 0x7fff_0000u32.to_be_bytes().to_vec())],
    )
    .unwrap();
    let err = r.read_at(i as u64 * (2 << 20), &mut [0u8; 8]).unwrap_err();
    assert!(err.to_string().contains("past the end"), "{err}");
    assert_eq!(r.physical_range(i as u64 * (2 << 20), 8), None);
}

#[test]
fn vhd_random_corruption_never_panics() {
    let (img, bytes) = small_vhd();
    let size = bytes.len() as u64;
    let dyn_at = be64(bytes, 16);
    let bat_at = be64(bytes, dyn_at as usize + 16);
    let regions = [
        (0u64, 512u64),
        (size - 512, 512),
        (dyn_at, 1024),
        (bat_at, 128),
    ];
    let mut rng = Rng::new(5);
    let mut opened = 0;
    for _ in 0..1500 {
        let mut patches = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let (at, len) = regions[rng.below(4) as usize];
            let off = at + rng.below(len);
            patches.push((off, vec![rng.next() as u8]));
        }
        // Half the time fix the footer checksums so the mutation gets past them.
        if rng.below(2) == 0 {
            let p = Patched {
                base: img.reader(),
                patches: patches.clone(),
            };
            for at in [0, size - 512] {
                let mut f = [0u8; 512];
                p.read_at(at, &mut f).unwrap();
                patches.push((at + 64, vhd::checksum(&f, 64).to_be_bytes().to_vec()));
            }
        }
        let Ok(r) = open_patched(img, patches) else {
            continue;
        };
        opened += 1;
        let mut b = vec![0u8; 70_000];
        for _ in 0..4 {
            let at = rng.below(r.size().max(1));
            let n = (b.len() as u64).min(r.size() - at) as usize;
            let _ = r.read_at(at, &mut b[..n]);
            let _ = r.physical_range(at, n as u64);
        }
        let _ = scan(r);
    }
    assert!(opened > 100, "{opened}");
}
