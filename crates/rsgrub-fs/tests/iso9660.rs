//! ISO 9660 driver tests against images built by the real xorriso (`xorriso -as mkisofs`:
//! Rock Ridge + Joliet, Joliet only, plain, deep-directory relocation, a hybrid system area
//! with El Torito), compared with the source tree they were built from; hostile images
//! (patched real ones, XSA-497's list among them) and a deterministic byte-flip loop.
//!
//! Multi-extent files: xorriso splits a file only past 4 GiB - 2 KiB per extent (libisofs's
//! fixed extent size; `-file_size_limit` only refuses bigger files), too big for a test. The
//! multi-extent tests therefore split a file of a real xorriso image into several directory
//! records, the way mkisofs/xorriso write a > 4 GiB file.
//!
//! The fuzz seeds in `fuzz/corpus/fs_iso9660/` were made with the same commands plus
//! `-no-pad` (e.g. `xorriso -as mkisofs -R -J -no-pad -V SEED -o rr-joliet.iso tree`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::{tool, Prng};
use rsgrub_fs::{iso9660, path, walk, Extent, FileType, Filesystem, FsError, NodeId};
use rsgrub_io::{DynReader, FileReader, ReadAt};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, FileExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64*: deterministic bytes without a dependency.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `xorriso -as mkisofs ARGS -o img src`.
fn mkisofs(img: &Path, src: &Path, args: &[&str]) {
    let _ = fs::remove_file(img);
    run(Command::new(tool("xorriso"))
        .args(["-as", "mkisofs", "-quiet"])
        .args(args)
        .arg("-o")
        .arg(img)
        .arg(src));
}

fn blkid(img: &Path, tag: &str) -> String {
    run(Command::new(tool("blkid"))
        .args(["-p", "-o", "value", "-s", tag])
        .arg(img))
    .trim()
    .to_string()
}

fn open_file(img: &Path) -> Box<dyn Filesystem> {
    let r: DynReader = Arc::new(FileReader::new(File::open(img).unwrap()).unwrap());
    assert!(iso9660::probe(&*r), "{img:?}: probe");
    let fs = rsgrub_fs::open(r).unwrap();
    assert_eq!(fs.name(), "iso9660");
    fs
}

fn open_bytes(img: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let r: DynReader = Arc::new(img);
    iso9660::open(r)
}

fn node(fs: &dyn Filesystem, p: &str) -> NodeId {
    path::resolve(fs, p.as_bytes(), true).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn read(fs: &dyn Filesystem, p: &str) -> Vec<u8> {
    path::read_file(fs, p.as_bytes(), 1 << 30).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn names(fs: &dyn Filesystem, p: &str) -> Vec<String> {
    let mut v: Vec<String> = fs
        .read_dir(node(fs, p))
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect();
    v.sort();
    v
}

/// Check `extents()` of a file against the image; returns how many there are.
fn check_extents(fs: &dyn Filesystem, img: &File, n: NodeId, want: &[u8], what: &str) -> usize {
    let exts = fs
        .extents(n, 0, want.len() as u64)
        .unwrap()
        .expect("ISO files are plainly mapped");
    let mut pos = 0u64;
    for e in &exts {
        let Extent::Mapped {
            file_offset,
            volume_offset,
            len,
        } = *e
        else {
            panic!("{what}: unexpected {e:?}");
        };
        assert_eq!(file_offset, pos, "{what}: gap before {e:?}");
        let mut got = vec![0u8; len as usize];
        img.read_exact_at(&mut got, volume_offset).unwrap();
        let f = file_offset as usize;
        assert!(
            got == want[f..f + len as usize],
            "{what}: bytes at {e:?} differ"
        );
        pos += len;
    }
    assert_eq!(pos, want.len() as u64, "{what}: extents cover {pos} bytes");
    exts.len()
}

/// Compare directory `node` with `dir` recursively (symlinks too, unless `links` is false:
/// then the source's symlinks are expected to be absent). Returns the files compared.
fn compare_tree(fs: &dyn Filesystem, img: &File, node: NodeId, dir: &Path, links: bool) -> usize {
    let mut want: BTreeMap<Vec<u8>, PathBuf> = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if !links && e.file_type().unwrap().is_symlink() {
            continue;
        }
        want.insert(e.file_name().as_bytes().to_vec(), e.path());
    }
    let mut got: BTreeMap<Vec<u8>, rsgrub_fs::DirEntry> = BTreeMap::new();
    for e in fs.read_dir(node).unwrap() {
        assert!(got.insert(e.name.clone(), e).is_none(), "duplicate name");
    }
    let show = |k: Vec<&Vec<u8>>| {
        k.into_iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        show(got.keys().collect()),
        show(want.keys().collect()),
        "listing of {dir:?}"
    );
    let mut files = 0;
    for (name, src) in &want {
        let e = &got[name];
        let meta = fs.metadata(e.node).unwrap();
        let ft = fs::symlink_metadata(src).unwrap().file_type();
        if ft.is_symlink() {
            assert_eq!(meta.kind, FileType::Symlink, "{src:?}");
            let target = fs::read_link(src).unwrap();
            assert_eq!(
                fs.read_link(e.node).unwrap(),
                target.as_os_str().as_bytes(),
                "{src:?}"
            );
            assert_eq!(meta.size, target.as_os_str().len() as u64);
        } else if ft.is_dir() {
            assert_eq!(meta.kind, FileType::Directory, "{src:?}");
            files += compare_tree(fs, img, e.node, src, links);
        } else {
            assert_eq!(meta.kind, FileType::Regular, "{src:?}");
            let data = fs::read(src).unwrap();
            assert_eq!(meta.size, data.len() as u64, "{src:?} size");
            let mut buf = vec![0u8; data.len()];
            let mut done = 0;
            while done < buf.len() {
                let n = fs.read_at(e.node, done as u64, &mut buf[done..]).unwrap();
                assert!(n > 0, "{src:?}: short read at {done}");
                done += n;
            }
            assert!(buf == data, "{src:?}: content differs");
            let pieces = check_extents(fs, img, e.node, &data, &src.to_string_lossy());
            assert_eq!(pieces, usize::from(!data.is_empty()), "{src:?}");
            files += 1;
        }
    }
    files
}

// ---------------------------------------------------------------------------------------------
// The test trees

const GRUB_CFG: &str = "set default=0\nmenuentry 'Live' {\n  linux /live/vmlinuz boot=live\n  \
                        initrd /live/initrd.img\n}\n";
const ISOLINUX: &str =
    "DEFAULT live\nLABEL live\n  KERNEL /live/vmlinuz\n  APPEND initrd=/live/initrd.img\n";

struct Tree {
    dir: TempDir,
    src: PathBuf,
}

/// A live-CD-like tree with long, mixed-case and Unicode names, deep directories and
/// symlinks (relative, absolute, looping, and one long enough to need a CE area).
fn build_tree(big: usize) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut rng = Prng::new(21);
    let w = |p: &str, data: &[u8]| {
        let p = src.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    };
    w("boot/grub/grub.cfg", GRUB_CFG.as_bytes());
    w("isolinux/isolinux.cfg", ISOLINUX.as_bytes());
    w("live/vmlinuz", &rng.bytes(big));
    w("live/initrd.img", &rng.bytes(big / 2 + 1234));
    w("README.TXT", b"upper\n");
    w("Mixed Case Name.Conf", b"mixed\n");
    w("ünïcödé файл.txt", "unicode ✓\n".as_bytes());
    w(
        "a file name that is quite a bit longer than thirty-one chars.txt",
        b"long\n",
    );
    w("empty", b"");
    w("d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt", b"deep\n");
    fs::create_dir_all(src.join("emptydir")).unwrap();
    for i in 0..300 {
        w(
            &format!("many/entry number {i:04}.txt"),
            format!("{i}\n").as_bytes(),
        );
    }
    symlink("../boot/grub/grub.cfg", src.join("isolinux/rel-link")).unwrap();
    symlink("/boot/grub/grub.cfg", src.join("abs-link")).unwrap();
    symlink("live", src.join("dir-link")).unwrap();
    symlink("loop-b", src.join("loop-a")).unwrap();
    symlink("loop-a", src.join("loop-b")).unwrap();
    let long: Vec<String> = (0..25).map(|i| format!("component{i:03}")).collect();
    symlink(long.join("/"), src.join("long-link")).unwrap();
    Tree { dir, src }
}

// ---------------------------------------------------------------------------------------------
// Real images

#[test]
fn rock_ridge_image_matches_its_source_tree() {
    let tree = build_tree(2 << 20);
    let img = tree.dir.path().join("rr.iso");
    mkisofs(&img, &tree.src, &["-R", "-J", "-V", "Live Label 1"]);
    let fs = open_file(&img);
    let n = compare_tree(
        fs.as_ref(),
        &File::open(&img).unwrap(),
        fs.root(),
        &tree.src,
        true,
    );
    assert!(n > 300, "{n}");
    let fs = fs.as_ref();
    // Symlinks through Rock Ridge SL: relative, absolute, to a directory, looping.
    assert_eq!(read(fs, "/isolinux/rel-link"), GRUB_CFG.as_bytes());
    assert_eq!(read(fs, "/abs-link"), GRUB_CFG.as_bytes());
    assert_eq!(read(fs, "/dir-link/vmlinuz"), read(fs, "/live/vmlinuz"));
    assert!(matches!(
        path::resolve(fs, b"/loop-a", true),
        Err(FsError::SymlinkLoop(_))
    ));
    assert!(path::resolve(fs, b"/loop-a", false).is_ok());
    assert!(fs.read_link(node(fs, "/README.TXT")).is_err());
    // Rock Ridge names are exact, as on GRUB.
    assert!(matches!(
        path::resolve(fs, b"/readme.txt", true),
        Err(FsError::NotFound(_))
    ));
    assert_eq!(
        read(fs, "/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt"),
        b"deep\n"
    );
    assert_eq!(
        read(fs, "/../boot/../boot/grub/grub.cfg"),
        GRUB_CFG.as_bytes()
    );
    // Modes come from PX.
    assert_eq!(fs.metadata(node(fs, "/boot")).unwrap().mode, Some(0o40755));
    // UUID and label as GRUB and blkid print them.
    let uuid = blkid(&img, "UUID");
    assert_eq!(uuid.len(), 22, "{uuid}");
    assert_eq!(fs.uuid().as_deref(), Some(uuid.as_str()));
    assert_eq!(fs.label().as_deref(), Some("Live Label 1"));
    assert_eq!(fs.label().as_deref(), Some(blkid(&img, "LABEL").as_str()));
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
    check_chunked(fs, "/live/vmlinuz");
    let st = walk::exercise(fs, 100_000, 1 << 30);
    assert_eq!(st.errors, 0, "{st:?}");
}

fn check_chunked(fs: &dyn Filesystem, p: &str) {
    let k = node(fs, p);
    let whole = read(fs, p);
    let mut buf = vec![0u8; 33_333];
    let mut pos = 0usize;
    while pos < whole.len() {
        let n = fs.read_at(k, pos as u64, &mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n] == whole[pos..pos + n], "chunk at {pos}");
        pos += n;
    }
    assert_eq!(fs.read_at(k, u64::MAX, &mut buf).unwrap(), 0);
    let sub = fs.extents(k, 1234, 5000).unwrap().unwrap();
    assert_eq!(
        sub,
        vec![match fs.extents(k, 0, 1).unwrap().unwrap()[0] {
            Extent::Mapped { volume_offset, .. } => Extent::Mapped {
                file_offset: 1234,
                volume_offset: volume_offset + 1234,
                len: 5000,
            },
            e => panic!("{e:?}"),
        }]
    );
}

#[test]
fn joliet_only_image_matches_its_source_tree() {
    let tree = build_tree(300_000);
    let img = tree.dir.path().join("joliet.iso");
    mkisofs(
        &img,
        &tree.src,
        &["-J", "-joliet-long", "--norock", "-V", "JOLIET VOL"],
    );
    let fs = open_file(&img);
    // Without Rock Ridge there are no symlinks.
    let n = compare_tree(
        fs.as_ref(),
        &File::open(&img).unwrap(),
        fs.root(),
        &tree.src,
        false,
    );
    assert!(n > 300, "{n}");
    let fs = fs.as_ref();
    assert_eq!(read(fs, "/Mixed Case Name.Conf"), b"mixed\n");
    assert_eq!(read(fs, "/ünïcödé файл.txt"), "unicode ✓\n".as_bytes());
    // Joliet names are exact, as on GRUB.
    assert!(path::resolve(fs, b"/mixed case name.conf", true).is_err());
    assert_eq!(fs.metadata(node(fs, "/boot")).unwrap().mode, None);
    assert_eq!(fs.uuid().as_deref(), Some(blkid(&img, "UUID").as_str()));
    assert_eq!(fs.label().as_deref(), Some("JOLIET VOL"));
    assert_eq!(fs.label().as_deref(), Some(blkid(&img, "LABEL").as_str()));
    check_chunked(fs, "/live/vmlinuz");
}

#[test]
fn plain_image_names_are_case_insensitive_without_versions() {
    // Only 8.3 lower-case names, which plain ISO 9660 (level 1) keeps as upper-case `NAME.EXT;1`.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let mut rng = Prng::new(4);
    for (p, data) in [
        ("boot/grub/grub.cfg", GRUB_CFG.as_bytes().to_vec()),
        ("isolinux/isolinux.cfg", ISOLINUX.as_bytes().to_vec()),
        ("live/vmlinuz", rng.bytes(400_000)),
        ("live/initrd.img", rng.bytes(99_999)),
        ("readme.txt", b"plain\n".to_vec()),
        ("noext", b"no extension\n".to_vec()),
    ] {
        let p = src.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let img = dir.path().join("plain.iso");
    mkisofs(
        &img,
        &src,
        &["--norock", "-iso-level", "1", "-V", "PLAIN_VOL"],
    );
    let fs = open_file(&img);
    let n = compare_tree(
        fs.as_ref(),
        &File::open(&img).unwrap(),
        fs.root(),
        &src,
        true,
    );
    assert_eq!(n, 6);
    let fs = fs.as_ref();
    assert_eq!(read(fs, "/BOOT/GRUB/GRUB.CFG"), GRUB_CFG.as_bytes());
    assert_eq!(read(fs, "/Live/VmLinuz").len(), 400_000);
    assert_eq!(read(fs, "/NOEXT"), b"no extension\n");
    assert!(path::resolve(fs, b"/noext.", true).is_err());
    assert!(path::resolve(fs, b"/readme.txt;1", true).is_err());
    assert_eq!(fs.label().as_deref(), Some("PLAIN_VOL"));
    assert_eq!(fs.uuid().as_deref(), Some(blkid(&img, "UUID").as_str()));
}

#[test]
fn relocated_deep_directories_appear_in_place() {
    let tree = build_tree(10_000);
    let img = tree.dir.path().join("reloc.iso");
    mkisofs(&img, &tree.src, &["-R", "-rr_reloc_dir", "RR_MOVED"]);
    let fs = open_file(&img);
    // RR_MOVED and the relocated directories (RE) are hidden; CL entries lead to them.
    let n = compare_tree(
        fs.as_ref(),
        &File::open(&img).unwrap(),
        fs.root(),
        &tree.src,
        true,
    );
    assert!(n > 300, "{n}");
    assert_eq!(
        read(fs.as_ref(), "/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt"),
        b"deep\n"
    );
    assert!(!names(fs.as_ref(), "/").contains(&"RR_MOVED".to_string()));
}

#[test]
fn hybrid_image_with_a_fat_system_area_and_el_torito_reads_as_iso() {
    let tree = build_tree(50_000);
    let work = tree.dir.path();
    // An EFI boot image (a real FAT image) in the tree, and a FAT boot sector + MBR
    // signature in the system area: the FAT probe matches at offset 0, yet the volume is an
    // ISO, which the probe order picks.
    let efi = tree.src.join("efiboot.img");
    run(Command::new(tool("mkfs.vfat"))
        .args(["-F", "12", "-n", "EFIBOOT", "-C"])
        .arg(&efi)
        .arg("1440"));
    let mut sys = fs::read(&efi).unwrap();
    sys.truncate(32 << 10);
    let sysarea = work.join("sysarea.bin");
    fs::write(&sysarea, &sys).unwrap();
    let img = work.join("hybrid.iso");
    mkisofs(
        &img,
        &tree.src,
        &[
            "-R",
            "-J",
            "-V",
            "HYBRID",
            "-c",
            "boot.cat",
            "-hide",
            "boot.cat",
            "-G",
            sysarea.to_str().unwrap(),
            "-e",
            "efiboot.img",
            "-no-emul-boot",
        ],
    );
    let r: DynReader = Arc::new(FileReader::new(File::open(&img).unwrap()).unwrap());
    assert!(rsgrub_fs::fat::probe(&*r), "the system area looks like FAT");
    assert!(iso9660::probe(&*r));
    let fs = rsgrub_fs::open(r).unwrap();
    assert_eq!(fs.name(), "iso9660");
    let n = compare_tree(
        fs.as_ref(),
        &File::open(&img).unwrap(),
        fs.root(),
        &tree.src,
        true,
    );
    assert!(n > 300);
    assert_eq!(fs.label().as_deref(), Some("HYBRID"));
    // El Torito added a boot record (type 0) before the terminator.
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
}

// ---------------------------------------------------------------------------------------------
// Multi-extent files (split records of a real image)

/// The records of the directory sector at `sector`: (offset in sector, bytes).
fn records(img: &[u8], sector: usize) -> Vec<Vec<u8>> {
    let base = sector * 2048;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < 2048 && img[base + pos] != 0 {
        let len = img[base + pos] as usize;
        out.push(img[base + pos..base + pos + len].to_vec());
        pos += len;
    }
    out
}

fn set_records(img: &mut [u8], sector: usize, recs: &[Vec<u8>]) {
    let all: Vec<u8> = recs.concat();
    assert!(all.len() <= 2048, "records do not fit one sector");
    let base = sector * 2048;
    img[base..base + 2048].fill(0);
    img[base..base + all.len()].copy_from_slice(&all);
}

fn rec_u32(r: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(r[off..off + 4].try_into().unwrap())
}

fn set_both(r: &mut [u8], off: usize, v: u32) {
    r[off..off + 4].copy_from_slice(&v.to_le_bytes());
    r[off + 4..off + 8].copy_from_slice(&v.to_be_bytes());
}

fn rec_name(r: &[u8]) -> &[u8] {
    &r[33..33 + r[32] as usize]
}

#[test]
fn multi_extent_files_are_concatenated_and_coalesced() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("multi")).unwrap();
    let mut rng = Prng::new(9);
    let a = rng.bytes(5000);
    let b = rng.bytes(3000);
    // b.bin sits between a.bin and c.bin on the volume.
    fs::write(src.join("multi/a.bin"), &a).unwrap();
    fs::write(src.join("multi/b.bin"), rng.bytes(10_000)).unwrap();
    fs::write(src.join("multi/c.bin"), &b).unwrap();
    let img = dir.path().join("m.iso");
    for rock in [true, false] {
        let args: &[&str] = if rock { &["-R"] } else { &["--norock"] };
        mkisofs(&img, &src, args);
        let mut bytes = fs::read(&img).unwrap();
        let fs = open_bytes(bytes.clone()).unwrap();
        let dir_sector = {
            let d = node(fs.as_ref(), "/multi") as usize;
            rec_u32(&bytes[d..], 2) as usize
        };
        let recs = records(&bytes, dir_sector);
        let ia = recs
            .iter()
            .position(|r| rec_name(r).starts_with(b"A.BIN"))
            .unwrap();
        let ib = recs
            .iter()
            .position(|r| rec_name(r).starts_with(b"C.BIN"))
            .unwrap();
        let (ea, eb) = (rec_u32(&recs[ia], 2), rec_u32(&recs[ib], 2));
        assert_ne!(ea + 3, eb, "a and b must not be adjacent for this test");

        // 1. a.bin = a[..4096] ++ c.bin (two records, two places on the volume).
        let mut first = recs[ia].clone();
        first[25] |= 0x80;
        set_both(&mut first, 10, 4096);
        let mut second = recs[ia].clone();
        set_both(&mut second, 2, eb);
        set_both(&mut second, 10, 3000);
        let mut r1 = recs.clone();
        r1[ia] = first;
        r1.insert(ia + 1, second);
        let mut m = bytes.clone();
        set_records(&mut m, dir_sector, &r1);
        let fs = open_bytes(m.clone()).unwrap();
        let want: Vec<u8> = [&a[..4096], &b[..]].concat();
        let got = read(fs.as_ref(), "/multi/a.bin");
        assert!(got == want, "rock={rock}: concatenation differs");
        let n = node(fs.as_ref(), "/multi/a.bin");
        assert_eq!(fs.metadata(n).unwrap().size, 7096);
        let ex = fs.extents(n, 0, 7096).unwrap().unwrap();
        assert_eq!(
            ex,
            vec![
                Extent::Mapped {
                    file_offset: 0,
                    volume_offset: u64::from(ea) * 2048,
                    len: 4096
                },
                Extent::Mapped {
                    file_offset: 4096,
                    volume_offset: u64::from(eb) * 2048,
                    len: 3000
                },
            ]
        );
        // Listed once; the sibling records are untouched.
        let listed = names(fs.as_ref(), "/multi");
        assert_eq!(
            listed.iter().filter(|n| n.starts_with('a')).count(),
            1,
            "{listed:?}"
        );
        assert_eq!(read(fs.as_ref(), "/multi/c.bin"), b);
        let mut buf = vec![0u8; 1000];
        assert_eq!(fs.read_at(n, 3500, &mut buf).unwrap(), 1000);
        assert!(buf[..] == want[3500..4500]);

        // 2. a.bin in three contiguous sections: one extent, one read.
        let mut parts = Vec::new();
        for (i, (blk, size)) in [(ea, 2048u32), (ea + 1, 2048), (ea + 2, 904)]
            .iter()
            .enumerate()
        {
            let mut r = recs[ia].clone();
            set_both(&mut r, 2, *blk);
            set_both(&mut r, 10, *size);
            if i < 2 {
                r[25] |= 0x80;
            }
            parts.push(r);
        }
        let mut r2 = recs.clone();
        r2.splice(ia..=ia, parts);
        set_records(&mut bytes, dir_sector, &r2);
        let fs = open_bytes(bytes.clone()).unwrap();
        assert_eq!(read(fs.as_ref(), "/multi/a.bin"), a);
        let n = node(fs.as_ref(), "/multi/a.bin");
        assert_eq!(
            fs.extents(n, 0, 5000).unwrap().unwrap(),
            vec![Extent::Mapped {
                file_offset: 0,
                volume_offset: u64::from(ea) * 2048,
                len: 5000
            }]
        );

        // 3. A "more extents" flag on the last record: an error, not a wander.
        let mut r3 = recs.clone();
        let last = r3.len() - 1;
        r3[last][25] |= 0x80;
        let mut m = fs::read(&img).unwrap();
        set_records(&mut m, dir_sector, &r3);
        let fs = open_bytes(m).unwrap();
        let st = walk::exercise(fs.as_ref(), 1000, 1 << 20);
        assert!(st.errors > 0, "{st:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile images: a real Rock Ridge image with one structure broken.

struct Base {
    _tree: Tree,
    bytes: Vec<u8>,
}

fn base_image() -> Base {
    let tree = build_tree(20_000);
    let img = tree.dir.path().join("base.iso");
    mkisofs(&img, &tree.src, &["-R", "-J", "-no-pad"]);
    let bytes = fs::read(&img).unwrap();
    Base { _tree: tree, bytes }
}

impl Base {
    fn fs(&self) -> Box<dyn Filesystem> {
        open_bytes(self.bytes.clone()).unwrap()
    }
    /// The record offset of `p` (a symlink itself, not its target).
    fn node(&self, p: &str) -> usize {
        path::resolve(self.fs().as_ref(), p.as_bytes(), false).unwrap() as usize
    }
}

/// Offset (in the image) of the first SUSP entry `sig` in the System Use area of the record
/// at `rec` (not following CE).
fn susp_entry(img: &[u8], rec: usize, sig: &[u8; 2]) -> usize {
    let len = img[rec] as usize;
    let nl = img[rec + 32] as usize;
    let mut pos = rec + 33 + nl + usize::from(nl.is_multiple_of(2));
    while pos + 4 <= rec + len {
        if &img[pos..pos + 2] == sig {
            return pos;
        }
        let l = img[pos + 2] as usize;
        assert!(l >= 4);
        pos += l;
    }
    panic!("no {sig:?} entry in the record at {rec}");
}

/// Error or bounded walk; returns whether the image opened.
fn survives(img: Vec<u8>) -> bool {
    match open_bytes(img) {
        Ok(fs) => {
            walk::exercise(fs.as_ref(), 5_000, 64 << 20);
            true
        }
        Err(_) => false,
    }
}

#[test]
fn xsa_497_rock_ridge_lengths() {
    let base = base_image();
    let readme = base.node("/README.TXT");
    let nm = susp_entry(&base.bytes, readme, b"NM");
    // SUSP entry of length 0, 3, 4 (NM without flags), past the area: the NM is not used, the
    // plain name stands (lower-cased, matched ignoring case); nothing loops.
    for len in [0u8, 1, 3, 4, 255] {
        let mut b = base.bytes.clone();
        b[nm + 2] = len;
        let fs = open_bytes(b.clone()).unwrap();
        let listed = names(fs.as_ref(), "/");
        assert!(
            listed.contains(&"readme.txt".to_string()),
            "len {len}: {listed:?}"
        );
        assert_eq!(read(fs.as_ref(), "/README.TXT"), b"upper\n");
        assert!(survives(b));
    }
    // System Use length underflow: the record ends inside its identifier's pad byte.
    let mut b = base.bytes.clone();
    let nl = b[readme + 32] as usize;
    b[readme] = (33 + nl) as u8;
    assert!(survives(b));
    // CE pointing to itself: followed at most 32 times.
    let ll = base.node("/long-link");
    let ce = susp_entry(&base.bytes, ll, b"CE");
    let sua_at = readme_sua_start(&base.bytes, ll);
    let sua_len = ll + base.bytes[ll] as usize - sua_at;
    let mut b = base.bytes.clone();
    set_both(&mut b[ce..], 4, (sua_at / 2048) as u32);
    set_both(&mut b[ce..], 12, (sua_at % 2048) as u32);
    set_both(&mut b[ce..], 20, sua_len as u32);
    let fs = open_bytes(b.clone()).unwrap();
    let t = std::time::Instant::now();
    let _ = fs.metadata(ll as u64);
    let _ = fs.read_link(ll as u64);
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(read(fs.as_ref(), "/README.TXT"), b"upper\n");
    assert!(survives(b));
    // CE outside its block, past the volume, of length 0 or huge: not followed.
    for (blk, off, len) in [
        (20u32, 2000u32, 100u32),
        (u32::MAX, 0, 100),
        (20, 0, 0),
        (20, 0, u32::MAX),
        ((base.bytes.len() / 2048) as u32, 0, 100),
    ] {
        let mut b = base.bytes.clone();
        set_both(&mut b[ce..], 4, blk);
        set_both(&mut b[ce..], 12, off);
        set_both(&mut b[ce..], 20, len);
        let fs = open_bytes(b.clone()).unwrap();
        let m = fs.metadata(ll as u64).unwrap();
        assert_eq!(m.kind, FileType::Symlink);
        assert!(survives(b));
    }
    // An SL component longer than its entry; an SL of 4 bytes.
    let loop_a = base.node("/loop-a");
    let sl = susp_entry(&base.bytes, loop_a, b"SL");
    for (at, v) in [(sl + 6, 200u8), (sl + 2, 4), (sl + 2, 5)] {
        let mut b = base.bytes.clone();
        b[at] = v;
        let fs = open_bytes(b.clone()).unwrap();
        let _ = fs.read_link(loop_a as u64);
        assert!(survives(b));
    }
}

fn readme_sua_start(img: &[u8], rec: usize) -> usize {
    let nl = img[rec + 32] as usize;
    rec + 33 + nl + usize::from(nl.is_multiple_of(2))
}

#[test]
fn hostile_directory_records() {
    let base = base_image();
    let fs = base.fs();
    let boot = base.node("/boot");
    let boot_sector = rec_u32(&base.bytes[boot..], 2) as usize;
    let root_sector = {
        let pvd_root = 16 * 2048 + 156;
        rec_u32(&base.bytes[pvd_root..], 2) as usize
    };
    drop(fs);

    // Record length 0 at the start of a directory: the sector is skipped, nothing listed.
    let mut b = base.bytes.clone();
    b[boot_sector * 2048] = 0;
    let fs = open_bytes(b.clone()).unwrap();
    assert!(fs.read_dir(node(fs.as_ref(), "/boot")).unwrap().is_empty());
    assert!(survives(b));

    // Too short (< 34), identifier longer than the record, record past the directory.
    let recs = records(&base.bytes, boot_sector);
    let last_at: usize = recs[..recs.len() - 1].iter().map(Vec::len).sum();
    for (at, v) in [
        (boot_sector * 2048 + recs[0].len(), 20u8),
        (boot_sector * 2048 + recs[0].len() + 32, 250),
        (boot_sector * 2048 + last_at, 255),
    ] {
        let mut b = base.bytes.clone();
        b[at] = v;
        let size = rec_u32(&b[boot..], 10) as usize;
        if v == 255 {
            // Make the directory end right after the record's start.
            set_both(&mut b[boot..], 10, (last_at + 100).min(size) as u32);
        }
        let fs = open_bytes(b.clone()).unwrap();
        let r = fs.read_dir(node(fs.as_ref(), "/boot"));
        assert!(matches!(r, Err(FsError::Corrupt { .. })), "{at}={v}: {r:?}");
        assert!(survives(b));
    }

    // Path tables are never read: garbage there changes nothing.
    let mut b = base.bytes.clone();
    let pvd = 16 * 2048;
    let l_table = rec_u32(&b[pvd..], 140) as usize;
    let size = rec_u32(&b[pvd..], 132) as usize;
    b[l_table * 2048..l_table * 2048 + size].fill(0xFF);
    b[pvd + 140..pvd + 152].fill(0xFF);
    let fs = open_bytes(b).unwrap();
    let orig = base.fs();
    assert_eq!(names(fs.as_ref(), "/"), names(orig.as_ref(), "/"));
    assert_eq!(
        read(fs.as_ref(), "/boot/grub/grub.cfg"),
        GRUB_CFG.as_bytes()
    );

    // Directory extent loops: a subdirectory whose extent is the root's, and one whose
    // extent is its own directory's.
    let d1 = base.node("/d1");
    let d2 = base.node("/d1/d2");
    let d1_sector = rec_u32(&base.bytes[d1..], 2);
    for (rec, target) in [(d1, root_sector as u32), (d2, d1_sector)] {
        let mut b = base.bytes.clone();
        set_both(&mut b[rec..], 2, target);
        let fs = open_bytes(b.clone()).unwrap();
        let st = walk::exercise(fs.as_ref(), 1_000_000, 1 << 30);
        assert!(st.dirs < 10_000, "{st:?}");
        assert!(survives(b));
    }
    let mut b = base.bytes.clone();
    set_both(&mut b[d1..], 2, root_sector as u32);
    let root_size = rec_u32(&b[16 * 2048 + 156..], 10);
    set_both(&mut b[d1..], 10, root_size);
    let fs = open_bytes(b).unwrap();
    assert_eq!(read(fs.as_ref(), "/d1/d1/d1/d1/README.TXT"), b"upper\n");

    // A file whose extent or size points past the volume; a huge directory.
    let k = base.node("/live/vmlinuz");
    for (off, v) in [(2usize, 0xFFFF_FFF0u32), (10, u32::MAX)] {
        let mut b = base.bytes.clone();
        set_both(&mut b[k..], off, v);
        let fs = open_bytes(b).unwrap();
        let n = node(fs.as_ref(), "/live/vmlinuz");
        let mut buf = vec![0u8; 4096];
        let at = if off == 2 { 0 } else { 0xFFFF_0000 };
        assert!(fs.read_at(n, at, &mut buf).is_err());
        assert!(fs.extents(n, 0, u64::MAX).is_err());
    }
    let mut b = base.bytes.clone();
    set_both(&mut b[16 * 2048 + 156..], 10, u32::MAX);
    assert!(matches!(open_bytes(b), Err(FsError::Limit(_))));
}

#[test]
fn hostile_volume_descriptors() {
    let base = base_image();
    let pvd = 16 * 2048;
    // No CD001 at sector 16: not an ISO.
    let mut b = base.bytes.clone();
    b[pvd + 1] = b'X';
    assert!(!iso9660::probe(&b));
    assert!(open_bytes(b).is_err());
    // A logical block size other than 2048.
    for lbs in [0u16, 512, 0xFFFF] {
        let mut b = base.bytes.clone();
        b[pvd + 128..pvd + 130].copy_from_slice(&lbs.to_le_bytes());
        assert!(open_bytes(b).is_err(), "{lbs}");
    }
    // No terminator (it became a non-Joliet supplementary descriptor): warned, still read.
    let mut b = base.bytes.clone();
    let term = (17..40).find(|s| b[s * 2048] == 255).unwrap() * 2048;
    b[term] = 2;
    let fs = open_bytes(b).unwrap();
    assert!(!fs.warnings().is_empty());
    assert_eq!(read(fs.as_ref(), "/README.TXT"), b"upper\n");
    // The PVD missing: the Joliet tree alone is not enough (as GRUB).
    let mut b = base.bytes.clone();
    b[pvd] = 3;
    assert!(open_bytes(b).is_err());
    // Too small for sector 16.
    assert!(open_bytes(vec![0u8; 20_000]).is_err());
    assert!(!iso9660::probe(&vec![0u8; 20_000]));
}

/// Lowest volume offset of any non-empty file's data under `dir`.
fn min_data_offset(fs: &dyn Filesystem, dir: NodeId, depth: u32) -> u64 {
    let mut min = u64::MAX;
    for e in fs.read_dir(dir).unwrap() {
        let m = fs.metadata(e.node).unwrap();
        match m.kind {
            FileType::Directory if depth < 20 => {
                min = min.min(min_data_offset(fs, e.node, depth + 1));
            }
            FileType::Regular if m.size > 0 => {
                if let Some(Extent::Mapped { volume_offset, .. }) =
                    fs.extents(e.node, 0, 1).unwrap().unwrap().first()
                {
                    min = min.min(*volume_offset);
                }
            }
            _ => {}
        }
    }
    min
}

/// A shared image with a few bytes changed.
struct Patched {
    base: Arc<Vec<u8>>,
    patch: Vec<(u64, u8)>,
}

impl ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.base.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for &(p, v) in &self.patch {
            if p >= offset && p < end {
                buf[(p - offset) as usize] = v;
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.base.size()
    }
}

#[test]
fn random_byte_flips_never_panic_or_hang() {
    let tree = build_tree(5_000);
    let mut rng = Prng::new(0x150);
    let (mut opened, mut total) = (0u32, 0u32);
    for args in [
        &["-R", "-J", "-no-pad"][..],
        &["-J", "--norock", "-no-pad"],
        &["--norock", "-no-pad"],
        &["-R", "-rr_reloc_dir", "RR_MOVED", "-no-pad"],
    ] {
        let img = tree.dir.path().join("flip.iso");
        mkisofs(&img, &tree.src, args);
        let base = Arc::new(fs::read(&img).unwrap());
        // Descriptors and directories come before the file data.
        let fs = open_bytes(base.to_vec()).unwrap();
        let first_data = min_data_offset(fs.as_ref(), fs.root(), 0);
        let meta = 16 * 2048..first_data.max(17 * 2048 + 1);
        for _ in 0..600 {
            let mut patch = Vec::new();
            for _ in 0..1 + rng.below(8) {
                let at = meta.start + rng.below(meta.end - meta.start);
                let old = base[at as usize];
                let new = if rng.below(8) == 0 {
                    [0, 0xFF, 0x7F, 0x80, 4, 5][rng.below(6) as usize]
                } else {
                    old ^ (1 << rng.below(8))
                };
                patch.push((at, new));
            }
            total += 1;
            let dev: DynReader = Arc::new(Patched {
                base: base.clone(),
                patch,
            });
            if let Ok(fs) = iso9660::open(dev) {
                walk::exercise(fs.as_ref(), 5_000, 64 << 20);
                opened += 1;
            }
        }
    }
    assert!(
        opened > total / 4,
        "only {opened} of {total} mutated images opened"
    );
}

#[test]
fn fuzz_seed_corpus_opens() {
    // Seeds are `*.iso`; crashers added later are replayed by tests/corpus.rs.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_iso9660");
    let (mut n, mut files) = (0, 0);
    for f in fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_none_or(|e| e != "iso") {
            continue;
        }
        let data = fs::read(&f).unwrap();
        assert!(data.len() <= 256 << 10, "{f:?} is too big for a seed");
        let r: DynReader = Arc::new(data);
        assert!(iso9660::probe(&*r), "{f:?}");
        let fs = iso9660::open(r).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        let st = walk::exercise(fs.as_ref(), 2_000, 8 << 20);
        assert!(st.dirs > 0, "{f:?}: {st:?}");
        files += st.files;
        n += 1;
    }
    assert!(n >= 3 && files >= 10, "{n} ISO seeds with {files} files");
}
