//! FAT12/16/32 driver tests against images built by the real dosfstools and mtools
//! (`mkfs.vfat -F 12/16/32 -C`, `mcopy -s`, `mdel`), compared with the source tree they were
//! built from, plus hostile images (patched real ones) and a deterministic byte-flip loop.
//!
//! The fuzz seeds in `fuzz/corpus/fs_fat/` were made with the same tools, e.g.
//! `mkfs.vfat -F 12 -n ESP -C fat12.fat 256; mcopy -s -i fat12.fat EFI loader ::/`
//! (FAT16 needs ≥ 4085 clusters, so its seed is a real 4 MiB image cut to 256 KiB; a FAT32
//! image under 256 KiB has too few clusters for mtools, so that seed is mkfs.vfat's alone).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::{tool, Prng};
use rsgrub_fs::{fat, path, walk, Extent, FileType, Filesystem, FsError, NodeId};
use rsgrub_io::{DynReader, FileReader, ReadAt, Slice};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64*: deterministic bytes without a dependency.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .env("MTOOLS_SKIP_CHECK", "1")
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

/// `mkfs.vfat -F bits ARGS -C img kib`.
fn mkfs(img: &Path, bits: u32, kib: u64, args: &[&str]) {
    let _ = fs::remove_file(img);
    run(Command::new(tool("mkfs.vfat"))
        .arg("-F")
        .arg(bits.to_string())
        .args(args)
        .arg("-C")
        .arg(img)
        .arg(kib.to_string()));
}

/// `mcopy -s -i img SRC/* ::/`.
fn mcopy_tree(img: &Path, src: &Path) {
    let mut cmd = Command::new(tool("mcopy"));
    cmd.arg("-s").arg("-i").arg(img);
    let mut entries: Vec<PathBuf> = fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    cmd.args(&entries).arg("::/");
    run(&mut cmd);
}

fn mcopy_file(img: &Path, file: &Path, dest: &str) {
    run(Command::new(tool("mcopy"))
        .arg("-i")
        .arg(img)
        .arg(file)
        .arg(format!("::{dest}")));
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
    assert!(fat::probe(&*r), "{img:?}: probe");
    let fs = rsgrub_fs::open(r).unwrap();
    assert_eq!(fs.name(), "fat");
    fs
}

fn open_bytes(img: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let r: DynReader = Arc::new(img);
    fat::open(r)
}

fn node(fs: &dyn Filesystem, p: &str) -> NodeId {
    path::resolve(fs, p.as_bytes(), true).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn read(fs: &dyn Filesystem, p: &str) -> Vec<u8> {
    path::read_file(fs, p.as_bytes(), 1 << 30).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Check `extents()` of a file against the image bytes; returns how many there are.
fn check_extents(fs: &dyn Filesystem, img: &File, n: NodeId, want: &[u8], what: &str) -> usize {
    let exts = fs
        .extents(n, 0, want.len() as u64)
        .unwrap()
        .expect("FAT files are plainly mapped");
    let mut pos = 0u64;
    for e in &exts {
        let Extent::Mapped {
            file_offset,
            volume_offset,
            len,
        } = *e
        else {
            panic!("{what}: FAT has no holes: {e:?}");
        };
        assert_eq!(file_offset, pos, "{what}: gap before {e:?}");
        let (l, f) = (len as usize, file_offset as usize);
        let mut got = vec![0u8; l];
        img.read_exact_at(&mut got, volume_offset).unwrap();
        assert!(got == want[f..f + l], "{what}: bytes at {e:?} differ");
        pos += len;
    }
    assert_eq!(pos, want.len() as u64, "{what}: extents cover {pos} bytes");
    for w in exts.windows(2) {
        if let (
            Extent::Mapped {
                volume_offset: a,
                len,
                ..
            },
            Extent::Mapped {
                volume_offset: b, ..
            },
        ) = (w[0], w[1])
        {
            assert_ne!(a + len, b, "{what}: unmerged extents {w:?}");
        }
    }
    exts.len()
}

/// Compare directory `node` with `dir` recursively: same names, same kinds, same bytes, and
/// extents that map to the same bytes in the image. Returns the files compared.
fn compare_tree(fs: &dyn Filesystem, img: &File, node: NodeId, dir: &Path) -> usize {
    let mut want: BTreeMap<Vec<u8>, PathBuf> = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
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
        if src.is_dir() {
            assert_eq!(meta.kind, FileType::Directory, "{src:?}");
            assert_eq!(e.kind, Some(FileType::Directory));
            files += compare_tree(fs, img, e.node, src);
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
            check_extents(fs, img, e.node, &data, &src.to_string_lossy());
            files += 1;
        }
    }
    files
}

// ---------------------------------------------------------------------------------------------
// The test tree: an ESP with GRUB, systemd-boot and extlinux files, long and Unicode names,
// deep directories, a directory spanning several clusters.

const GRUB_STUB: &str = "search --no-floppy --fs-uuid --set=dev 1234-ABCD\n\
                         set prefix=($dev)/boot/grub\nconfigfile $prefix/grub.cfg\n";
const LOADER_CONF: &str = "default arch.conf\ntimeout 3\n";
const ARCH_CONF: &str = "title Arch Linux\nlinux /vmlinuz-linux\ninitrd /initramfs-linux.img\n\
                         options root=/dev/xvda2 rw\n";
const EXTLINUX: &str = "DEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND root=/dev/xvda1\n";

struct Tree {
    _dir: TempDir,
    src: PathBuf,
    work: PathBuf,
}

fn build_tree(big: usize, many: usize) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let work = dir.path().to_path_buf();
    let mut rng = Prng::new(11);
    let w = |p: &str, data: &[u8]| {
        let p = src.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    };
    w("EFI/BOOT/grub.cfg", GRUB_STUB.as_bytes());
    w("EFI/BOOT/BOOTX64.EFI", &rng.bytes(70_000));
    w("EFI/debian/grub.cfg", GRUB_STUB.as_bytes());
    w("loader/loader.conf", LOADER_CONF.as_bytes());
    w("loader/entries/arch.conf", ARCH_CONF.as_bytes());
    w(
        "loader/entries/Fedora Linux 39 (rescue).conf",
        b"title rescue\n",
    );
    w("boot/extlinux/extlinux.conf", EXTLINUX.as_bytes());
    w("vmlinuz-linux", &rng.bytes(big));
    w("initramfs-linux.img", &rng.bytes(big / 3 + 777));
    w("README", b"upper-case 8.3 name\n");
    w("lower.txt", b"lower-case 8.3 name\n");
    w("Mixed Case Long File Name.Text", b"mixed\n");
    w("ünïcödé файл.txt", "unicode ✓\n".as_bytes());
    w("empty", b"");
    let deep = "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12";
    w(&format!("{deep}/deep.txt"), b"deep\n");
    fs::create_dir_all(src.join("emptydir")).unwrap();
    for i in 0..many {
        w(
            &format!("many/entry number {i:04}.txt"),
            format!("{i}\n").as_bytes(),
        );
    }
    Tree {
        _dir: dir,
        src,
        work,
    }
}

fn check_esp(fs: &dyn Filesystem, img: &File, tree: &Tree) {
    let n = compare_tree(fs, img, fs.root(), &tree.src);
    assert!(n > 15, "compared {n} files");
    // Case-insensitive lookups, as GRUB does on FAT.
    assert_eq!(read(fs, "/efi/boot/GRUB.CFG"), GRUB_STUB.as_bytes());
    assert_eq!(read(fs, "/Loader/Entries/ARCH.CONF"), ARCH_CONF.as_bytes());
    assert_eq!(
        read(fs, "/BOOT/EXTLINUX/extlinux.conf"),
        EXTLINUX.as_bytes()
    );
    assert_eq!(read(fs, "/readme"), b"upper-case 8.3 name\n");
    assert_eq!(read(fs, "/LOWER.TXT"), b"lower-case 8.3 name\n");
    assert_eq!(read(fs, "/mixed case long file name.text"), b"mixed\n");
    assert_eq!(read(fs, "/ÜNÏCÖDÉ ФАЙЛ.TXT"), "unicode ✓\n".as_bytes());
    assert_eq!(
        read(fs, "/D1/d2/D3/d4/d5/d6/d7/d8/d9/d10/d11/D12/DEEP.TXT"),
        b"deep\n"
    );
    assert_eq!(read(fs, "/empty"), b"");
    // `..` clamps at the root; misses are misses.
    assert_eq!(
        read(fs, "/../../EFI/BOOT/../BOOT/grub.cfg"),
        GRUB_STUB.as_bytes()
    );
    assert!(matches!(
        path::resolve(fs, b"/EFI/BOOT/grub.cfgx", true),
        Err(FsError::NotFound(_))
    ));
    assert!(matches!(
        path::resolve(fs, b"/README/x", true),
        Err(FsError::NotADirectory(_))
    ));
    assert!(fs.read_link(node(fs, "/README")).is_err());
    assert!(fs.read_dir(node(fs, "/emptydir")).unwrap().is_empty());
    let root = fs.metadata(fs.root()).unwrap();
    assert_eq!(root.kind, FileType::Directory);
    // Chunked odd-sized reads agree with the whole file.
    let k = node(fs, "/vmlinuz-linux");
    let whole = read(fs, "/vmlinuz-linux");
    let mut buf = vec![0u8; 40_001];
    let mut pos = 0usize;
    while pos < whole.len() {
        let n = fs.read_at(k, pos as u64, &mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n] == whole[pos..pos + n], "chunk at {pos}");
        pos += n;
    }
    assert_eq!(fs.read_at(k, whole.len() as u64, &mut buf).unwrap(), 0);
    assert_eq!(fs.read_at(k, u64::MAX, &mut buf).unwrap(), 0);
    // A sub-range of the extents starts and ends where asked.
    let sub = fs.extents(k, 1234, 5000).unwrap().unwrap();
    let total: u64 = sub
        .iter()
        .map(|e| match *e {
            Extent::Mapped { len, .. } | Extent::Hole { len, .. } => len,
        })
        .sum();
    assert!(matches!(
        sub[0],
        Extent::Mapped {
            file_offset: 1234,
            ..
        }
    ));
    assert_eq!(total, 5000);
    let st = walk::exercise(fs, 100_000, 1 << 30);
    assert_eq!(st.errors, 0, "{st:?}");
}

// ---------------------------------------------------------------------------------------------
// Real images

#[test]
fn fat12_fat16_fat32_images_match_their_source_tree() {
    for (bits, kib, big, many, serial, label) in [
        (12u32, 4096u64, 600_000usize, 150usize, "1234ABCD", "ESP12"),
        (16, 24 * 1024, 3 << 20, 400, "00C0FFEE", "ESP 16"),
        (32, 48 * 1024, 5 << 20, 700, "DEADBEEF", "EFI SYSTEM"),
    ] {
        let tree = build_tree(big, many);
        let img = tree.work.join(format!("fat{bits}.img"));
        mkfs(&img, bits, kib, &["-n", label, "-i", serial]);
        mcopy_tree(&img, &tree.src);
        let fs = open_file(&img);
        check_esp(fs.as_ref(), &File::open(&img).unwrap(), &tree);
        // UUID and label as blkid (and GRUB) print them.
        let uuid = blkid(&img, "UUID");
        assert_eq!(uuid, format!("{}-{}", &serial[..4], &serial[4..]));
        assert_eq!(fs.uuid().as_deref(), Some(uuid.as_str()), "FAT{bits}");
        assert_eq!(fs.label().as_deref(), Some(blkid(&img, "LABEL").as_str()));
        assert_eq!(fs.label().as_deref(), Some(label));
        assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
        let version = blkid(&img, "VERSION");
        assert_eq!(version, format!("FAT{bits}"));
    }
}

#[test]
fn big_sectors_and_clusters() {
    // 4096-byte sectors; 64 KiB clusters (a sparse 330 MiB image). No label: GRUB reports
    // none.
    let tree = build_tree(300_000, 20);
    for (args, bits) in [
        (&["-S", "4096", "-i", "0badF00d"][..], 12u32),
        (&["-s", "128", "-i", "0badF00d"][..], 16),
    ] {
        let img = tree.work.join("big.img");
        let kib = if bits == 16 { 330 * 1024 } else { 32 * 1024 };
        mkfs(&img, bits, kib, args);
        mcopy_tree(&img, &tree.src);
        let fs = open_file(&img);
        check_esp(fs.as_ref(), &File::open(&img).unwrap(), &tree);
        assert_eq!(fs.uuid().as_deref(), Some("0BAD-F00D"));
        assert_eq!(fs.label(), None);
    }
}

#[test]
fn fragmented_file_reads_back_and_maps_to_several_runs() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("frag.img");
    mkfs(&img, 16, 8 * 1024, &["-s", "1"]);
    let mut rng = Prng::new(3);
    let a = rng.bytes(64 << 10);
    let b = rng.bytes(64 << 10);
    let c = rng.bytes(64 << 10);
    let d = rng.bytes(300 << 10);
    for (name, data) in [("a.bin", &a), ("b.bin", &b), ("c.bin", &c)] {
        let p = dir.path().join(name);
        fs::write(&p, data).unwrap();
        mcopy_file(&img, &p, &format!("/{name}"));
    }
    run(Command::new(tool("mdel"))
        .arg("-i")
        .arg(&img)
        .arg("::/b.bin"));
    let p = dir.path().join("d.bin");
    fs::write(&p, &d).unwrap();
    mcopy_file(&img, &p, "/d.bin");

    let bytes = File::open(&img).unwrap();
    let fs = open_file(&img);
    assert_eq!(read(fs.as_ref(), "/a.bin"), a);
    assert_eq!(read(fs.as_ref(), "/c.bin"), c);
    assert!(read(fs.as_ref(), "/D.BIN") == d);
    assert!(path::resolve(fs.as_ref(), b"/b.bin", true).is_err());
    let n = node(fs.as_ref(), "/d.bin");
    let pieces = check_extents(fs.as_ref(), &bytes, n, &d, "d.bin");
    assert!(
        pieces >= 2,
        "d.bin should be fragmented, got {pieces} extent(s)"
    );
    let n = node(fs.as_ref(), "/a.bin");
    assert_eq!(check_extents(fs.as_ref(), &bytes, n, &a, "a.bin"), 1);
    // A read across the fragment boundary is right too.
    let mut buf = vec![0u8; 100 << 10];
    let n = node(fs.as_ref(), "/d.bin");
    assert_eq!(fs.read_at(n, 10_000, &mut buf).unwrap(), buf.len());
    assert!(buf[..] == d[10_000..10_000 + buf.len()]);
}

#[test]
fn probe_needs_a_fat_boot_sector_at_offset_0() {
    let dir = tempfile::tempdir().unwrap();
    // A FAT partition inside an MBR-partitioned disk: the disk is not FAT, the partition is.
    let part = dir.path().join("part.img");
    mkfs(&part, 16, 8 * 1024, &["-s", "1", "-n", "INNER"]);
    let disk = dir.path().join("disk.img");
    let f = File::create(&disk).unwrap();
    f.set_len(10 << 20).unwrap();
    drop(f);
    let out = Command::new(tool("sfdisk"))
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"label: dos\nstart=2048, size=16384, type=ef\n")?;
            c.wait()
        })
        .unwrap();
    assert!(out.success());
    let pbytes = fs::read(&part).unwrap();
    File::options()
        .write(true)
        .open(&disk)
        .unwrap()
        .write_all_at(&pbytes, 2048 * 512)
        .unwrap();
    let r: DynReader = Arc::new(FileReader::new(File::open(&disk).unwrap()).unwrap());
    assert!(!fat::probe(&*r), "an MBR is not a FAT boot sector");
    let vol: DynReader = Arc::new(Slice::new(r.clone(), 2048 * 512, 16384 * 512).unwrap());
    assert!(fat::probe(&*vol));
    let fs = rsgrub_fs::open(vol).unwrap();
    assert_eq!(fs.label().as_deref(), Some("INNER"));

    // GRUB's boot.img shape: short jump, zeroed BPB area, 0x55AA.
    let mut mbr = vec![0u8; 1 << 20];
    mbr[..3].copy_from_slice(&[0xEB, 0x63, 0x90]);
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    assert!(!fat::probe(&mbr));
    assert!(open_bytes(mbr).is_err());
    // Too small to hold a boot sector.
    assert!(!fat::probe(&vec![0xEBu8; 100]));
    assert!(open_bytes(vec![0xEB; 100]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Hostile images: real images with one structure broken.

/// A small real FAT16 image with a multi-cluster file and nested directories.
struct Small {
    _dir: TempDir,
    bytes: Vec<u8>,
    bps: usize,
    fat_off: usize,
    data_off: usize,
    cluster: usize,
    fat32: bool,
}

fn small_image(bits: u32) -> Small {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("a dir/sub/subsub")).unwrap();
    fs::write(src.join("a dir/sub/subsub/file.txt"), b"nested\n").unwrap();
    fs::write(src.join("a dir/sub/grub.cfg"), GRUB_STUB).unwrap();
    fs::write(src.join("kernel"), Prng::new(5).bytes(20_000)).unwrap();
    let img = dir.path().join("s.img");
    // mtools reads FAT32 only with at least 65525 clusters; FAT16 needs 4085.
    let kib = match bits {
        12 => 1024,
        16 => 4096,
        _ => 34 * 1024,
    };
    mkfs(&img, bits, kib, &["-s", "1", "-n", "SMALL"]);
    mcopy_tree(&img, &src);
    let bytes = fs::read(&img).unwrap();
    let u16le = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u32le = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let bps = u16le(11);
    let spc = bytes[13] as usize;
    let reserved = u16le(14);
    let nfats = bytes[16] as usize;
    let root_entries = u16le(17);
    let fat32 = u16le(22) == 0;
    let fatsz = if fat32 { u32le(36) } else { u16le(22) };
    let fat_off = reserved * bps;
    let data_off = fat_off + nfats * fatsz * bps + (root_entries * 32).div_ceil(bps) * bps;
    Small {
        _dir: dir,
        bytes,
        bps,
        fat_off,
        data_off,
        cluster: spc * bps,
        fat32,
    }
}

impl Small {
    fn entry_cluster(&self, entry: usize) -> usize {
        let lo = u16::from_le_bytes([self.bytes[entry + 26], self.bytes[entry + 27]]) as usize;
        let hi = if self.fat32 {
            u16::from_le_bytes([self.bytes[entry + 20], self.bytes[entry + 21]]) as usize
        } else {
            0
        };
        (hi << 16) | lo
    }
    fn set_entry_cluster(b: &mut [u8], entry: usize, c: usize, fat32: bool) {
        b[entry + 26..entry + 28].copy_from_slice(&(c as u16).to_le_bytes());
        if fat32 {
            b[entry + 20..entry + 22].copy_from_slice(&((c >> 16) as u16).to_le_bytes());
        }
    }
    /// Set FAT entry `c` (both copies are not needed: the driver reads the first).
    fn set_fat(&self, b: &mut [u8], c: usize, v: u32) {
        if self.fat32 {
            let o = self.fat_off + 4 * c;
            b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        } else {
            let o = self.fat_off + 2 * c;
            b[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes());
        }
    }
    fn node_of(&self, p: &str) -> NodeId {
        let fs = open_bytes(self.bytes.clone()).unwrap();
        node(fs.as_ref(), p)
    }
}

/// The outcome must be an error or a bounded walk; no panic, no hang.
fn survives(img: Vec<u8>) -> Option<walk::WalkStats> {
    let fs = open_bytes(img).ok()?;
    Some(walk::exercise(fs.as_ref(), 5_000, 64 << 20))
}

/// A shared image with a few bytes changed (cheaper than copying a 34 MiB image).
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

fn survives_patched(base: &Arc<Vec<u8>>, patch: Vec<(u64, u8)>) -> Option<walk::WalkStats> {
    let dev: DynReader = Arc::new(Patched {
        base: base.clone(),
        patch,
    });
    let fs = fat::open(dev).ok()?;
    Some(walk::exercise(fs.as_ref(), 5_000, 64 << 20))
}

#[test]
fn chain_loops_and_clusters_past_the_end_are_errors() {
    for bits in [16, 32] {
        let s = small_image(bits);
        let k = s.node_of("/kernel") as usize;
        let first = s.entry_cluster(k);
        assert!(first >= 2);
        let fs = open_bytes(s.bytes.clone()).unwrap();
        assert_eq!(read(fs.as_ref(), "/kernel").len(), 20_000);
        let eoc = if s.fat32 { 0x0FFF_FFFF } else { 0xFFFF };
        let count = (s.bytes.len() - s.data_off) / s.cluster;
        for (what, at, val) in [
            ("self loop", first, first as u32),
            ("loop back to the start", first + 3, first as u32),
            ("cluster past the end", first + 1, (count + 2) as u32),
            ("cluster 1", first + 1, 1),
            ("free cluster in the chain", first, 0),
            (
                "bad cluster",
                first,
                if s.fat32 { 0x0FFF_FFF7 } else { 0xFFF7 },
            ),
            ("chain ends early", first + 2, eoc),
        ] {
            let mut b = s.bytes.clone();
            s.set_fat(&mut b, at, val);
            let fs = open_bytes(b.clone()).unwrap();
            let r = path::read_file(fs.as_ref(), b"/kernel", 1 << 20);
            assert!(
                matches!(r, Err(FsError::Corrupt { .. })),
                "FAT{bits} {what}: {r:?}"
            );
            let n = node(fs.as_ref(), "/kernel");
            assert!(fs.extents(n, 0, 20_000).is_err(), "FAT{bits} {what}");
            assert!(survives(b).is_some());
        }
        // First cluster past the end, or 0 for a non-empty file.
        for c in [count + 2, 0xFFFF, 0] {
            let mut b = s.bytes.clone();
            Small::set_entry_cluster(&mut b, k, c, s.fat32);
            let fs = open_bytes(b.clone()).unwrap();
            let r = path::read_file(fs.as_ref(), b"/kernel", 1 << 20);
            assert!(matches!(r, Err(FsError::Corrupt { .. })), "{c}: {r:?}");
        }
        // A size far past the chain.
        let mut b = s.bytes.clone();
        b[k + 28..k + 32].copy_from_slice(&u32::MAX.to_le_bytes());
        let fs = open_bytes(b).unwrap();
        let n = node(fs.as_ref(), "/kernel");
        let mut buf = vec![0u8; 4096];
        assert!(fs.read_at(n, 0, &mut buf).is_err());
        assert!(fs.read_at(n, 1 << 31, &mut buf).is_err());
    }
}

#[test]
fn directory_containing_itself_is_bounded() {
    for bits in [16, 32] {
        let s = small_image(bits);
        let adir = s.node_of("/a dir") as usize;
        let sub = s.node_of("/a dir/sub") as usize;
        let adir_cluster = s.entry_cluster(adir);
        let mut b = s.bytes.clone();
        // "sub" now starts where "a dir" does: a dir containing itself.
        Small::set_entry_cluster(&mut b, sub, adir_cluster, s.fat32);
        let fs = open_bytes(b.clone()).unwrap();
        let st = walk::exercise(fs.as_ref(), 100_000, 1 << 30);
        assert!(st.dirs < 100, "{st:?}");
        let inner = node(fs.as_ref(), "/a dir/sub/sub/SUB/sub");
        let names: Vec<Vec<u8>> = fs
            .read_dir(inner)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"sub".to_vec()]);
        let long = format!("/a dir{}", "/sub".repeat(1000));
        assert!(path::resolve(fs.as_ref(), long.as_bytes(), true).is_ok());
        let longer = format!("/a dir{}", "/sub".repeat(2000));
        assert!(matches!(
            path::resolve(fs.as_ref(), longer.as_bytes(), true),
            Err(FsError::Limit(_))
        ));
        // Root pointing at itself: a subdirectory with cluster 0 is the root (as GRUB).
        let mut b = s.bytes.clone();
        Small::set_entry_cluster(&mut b, adir, 0, s.fat32);
        let fs = open_bytes(b).unwrap();
        assert_eq!(read(fs.as_ref(), "/a dir/a dir/kernel").len(), 20_000);
        // A directory chain that loops on itself.
        let mut b = s.bytes.clone();
        s.set_fat(&mut b, adir_cluster, adir_cluster as u32);
        let fs = open_bytes(b).unwrap();
        let r = fs.read_dir(node(fs.as_ref(), "/a dir"));
        assert!(matches!(r, Err(FsError::Corrupt { .. })), "{r:?}");
        // FAT32 root chain loop: opening reads the root, and fails.
        if s.fat32 {
            let mut b = s.bytes.clone();
            let root = u32::from_le_bytes(b[44..48].try_into().unwrap()) as usize;
            s.set_fat(&mut b, root, root as u32);
            assert!(open_bytes(b).is_err());
        }
    }
}

#[test]
fn bogus_bpb_fields_are_rejected_or_bounded() {
    for bits in [12, 16, 32] {
        let s = small_image(bits);
        // (offset, width) of every BPB field.
        let fields: &[(usize, usize)] = &[
            (11, 2),
            (13, 1),
            (14, 2),
            (16, 1),
            (17, 2),
            (19, 2),
            (21, 1),
            (22, 2),
            (24, 2),
            (26, 2),
            (28, 4),
            (32, 4),
            (36, 4),
            (40, 2),
            (42, 2),
            (44, 4),
            (48, 2),
        ];
        let base = Arc::new(s.bytes.clone());
        let mut rejected = 0;
        for &(off, width) in fields {
            for v in [0u8, 0xFF, 0x80, 0x01] {
                let patch = (off..off + width)
                    .map(|o| {
                        let b = if v == 0xFF {
                            0xFF
                        } else if o == off + width - 1 {
                            v
                        } else {
                            0
                        };
                        (o as u64, b)
                    })
                    .collect();
                if survives_patched(&base, patch).is_none() {
                    rejected += 1;
                }
            }
        }
        assert!(
            rejected > 10,
            "FAT{bits}: only {rejected} bogus BPBs refused"
        );
        let _ = s.bps;
    }
}

#[test]
fn random_byte_flips_never_panic_or_hang() {
    let mut rng = Prng::new(0x5EED);
    let mut opened = 0u32;
    let mut total = 0u32;
    for bits in [12, 16, 32] {
        let s = small_image(bits);
        // The metadata: boot sector, FATs, root directory, first directory clusters.
        let meta_end = (s.data_off + 16 * s.cluster).min(s.bytes.len());
        let base = Arc::new(s.bytes.clone());
        for _ in 0..700 {
            let flips = 1 + rng.below(8);
            let mut patch = Vec::new();
            for _ in 0..flips {
                let at = if rng.below(4) == 0 {
                    rng.below(512)
                } else {
                    rng.below(meta_end as u64)
                };
                let old = base[at as usize];
                let new = if rng.below(8) == 0 {
                    [0, 0xFF, 0x7F, 0x80][rng.below(4) as usize]
                } else {
                    old ^ (1 << rng.below(8))
                };
                patch.push((at, new));
            }
            total += 1;
            if survives_patched(&base, patch).is_some() {
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
    // Seeds are `*.fat` (`*.img` is git-ignored); crashers added later are replayed by
    // tests/corpus.rs.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_fat");
    let (mut n, mut files) = (0, 0);
    for f in fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_none_or(|e| e != "fat") {
            continue;
        }
        let data = fs::read(&f).unwrap();
        assert!(data.len() <= 256 << 10, "{f:?} is too big for a seed");
        let r: DynReader = Arc::new(data);
        assert!(fat::probe(&*r), "{f:?}");
        let fs = fat::open(r).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        let st = walk::exercise(fs.as_ref(), 2_000, 8 << 20);
        assert!(st.dirs > 0, "{f:?}: {st:?}");
        assert_eq!(st.errors, 0, "{f:?}: {st:?}");
        files += st.files;
        n += 1;
    }
    assert!(n >= 3 && files >= 10, "{n} FAT seeds with {files} files");
}
