//! XFS driver tests against images built by the real xfsprogs (`mkfs.xfs -p protofile`).
//!
//! mkfs.xfs (6.1) refuses filesystems under 300 MB unless it thinks it runs under fstests,
//! so every call sets `TEST_DIR`, `TEST_DEV` and `QA_CHECK_FS` (which only lift that limit).
//! The proto-file copy does not keep holes and puts each file in one extent, so multi-extent
//! and btree-format files are made by rewriting a real image's inode fork (see `edited_*`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::{check_extents, read_all, tool, Prng};
use rsgrub_fs::{xfs, Extent, FileType, Filesystem, FsError, NodeId};
use rsgrub_io::{DynReader, FileReader};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

fn long_target() -> String {
    let mut s = String::from("/very");
    while s.len() < 500 {
        s.push_str("/long-symlink-target-component");
    }
    s
}

/// The source tree: every directory form, symlinks local and remote, a few MiB of data.
fn make_tree(root: &Path, big_dir: bool, seed: u64) {
    let mut r = Prng::new(seed);
    fs::create_dir_all(root.join("boot/grub")).unwrap();
    fs::write(
        root.join("boot/grub/grub.cfg"),
        b"menuentry 'x' { linux /vmlinuz }\n",
    )
    .unwrap();
    fs::write(root.join("boot/vmlinuz-6.1"), r.bytes(3 << 20)).unwrap();
    fs::write(root.join("boot/initrd.img-6.1"), r.bytes(700_001)).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("tiny"), b"x").unwrap();
    std::os::unix::fs::symlink("boot/vmlinuz-6.1", root.join("vmlinuz")).unwrap();
    std::os::unix::fs::symlink(long_target(), root.join("longlink")).unwrap();
    fs::create_dir(root.join("dir5")).unwrap();
    for i in 0..5 {
        fs::write(root.join(format!("dir5/f{i}")), r.bytes(i * 1000)).unwrap();
    }
    fs::create_dir(root.join("dir50")).unwrap();
    for i in 0..50 {
        fs::write(
            root.join(format!("dir50/file-number-{i:03}")),
            r.bytes(i * 37),
        )
        .unwrap();
    }
    fs::create_dir_all(root.join("a/b/c/d")).unwrap();
    fs::write(root.join("a/b/c/d/deep"), b"deep file\n").unwrap();
    if big_dir {
        fs::create_dir(root.join("dir5000")).unwrap();
        for i in 0..5000 {
            let name = format!("entry-with-a-longish-name-{i:05}");
            fs::write(root.join("dir5000").join(name), format!("{i}\n")).unwrap();
        }
    }
}

fn proto_for(dir: &Path, out: &mut String, depth: usize) {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let name = n.to_str().unwrap();
        let md = fs::symlink_metadata(&p).unwrap();
        let ind = " ".repeat(depth);
        if md.file_type().is_symlink() {
            let t = fs::read_link(&p).unwrap();
            out.push_str(&format!("{ind}{name} l--777 0 0 {}\n", t.display()));
        } else if md.is_dir() {
            out.push_str(&format!("{ind}{name} d--755 0 0\n"));
            proto_for(&p, out, depth + 1);
            out.push_str(&format!("{ind}$\n"));
        } else {
            out.push_str(&format!("{ind}{name} ---644 0 0 {}\n", p.display()));
        }
    }
}

/// Build an image of `size` bytes from `src` with extra mkfs options.
fn mkfs(tmp: &Path, src: &Path, size: u64, opts: &[&str], tag: &str) -> PathBuf {
    let mut proto = String::from("/dev/null\n0 0\nd--755 0 0\n");
    proto_for(src, &mut proto, 1);
    proto.push_str("$\n");
    let pf = tmp.join(format!("{tag}.proto"));
    fs::write(&pf, proto).unwrap();
    let img = tmp.join(format!("{tag}.img"));
    let f = File::create(&img).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    let out = Command::new(tool("mkfs.xfs"))
        .env("TEST_DIR", tmp)
        .env("TEST_DEV", "/dev/null")
        .env("QA_CHECK_FS", "1")
        .args(["-q", "-f", "-L", "rsgrub-test"])
        .args(opts)
        .arg("-p")
        .arg(&pf)
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkfs.xfs {opts:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

fn open_img(img: &Path) -> Box<dyn Filesystem> {
    let dev: DynReader = Arc::new(FileReader::new(File::open(img).unwrap()).unwrap());
    assert!(xfs::probe(&*dev));
    xfs::open(dev).unwrap()
}

fn open_bytes(b: &[u8]) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let dev: DynReader = Arc::new(b.to_vec());
    xfs::open(dev)
}

fn xfs_db(img: &Path, cmds: &[&str]) -> String {
    let mut c = Command::new(tool("xfs_db"));
    c.arg("-r");
    for x in cmds {
        c.args(["-c", x]);
    }
    let out = c.arg(img).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `core.format` of inode `ino` as xfs_db reports it (1 local, 2 extents, 3 btree).
fn db_format(img: &Path, ino: NodeId) -> u32 {
    let s = xfs_db(img, &[&format!("inode {ino}"), "print core.format"]);
    s.split('=')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[derive(Default)]
struct Counts {
    dirs: usize,
    files: usize,
    links: usize,
    bytes: u64,
}

/// Compare the fs under `node` with host directory `host`, recursively.
fn compare(fs: &dyn Filesystem, img: &File, node: NodeId, host: &Path, c: &mut Counts) {
    c.dirs += 1;
    let entries = fs.read_dir(node).unwrap();
    let got: BTreeSet<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(
        got.len(),
        entries.len(),
        "duplicate names in {}",
        host.display()
    );
    let want: BTreeSet<Vec<u8>> = fs::read_dir(host)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_encoded_bytes())
        .collect();
    assert_eq!(got, want, "listing of {}", host.display());
    for (i, e) in entries.iter().enumerate() {
        if i < 50 {
            assert_eq!(fs.lookup(node, &e.name).unwrap(), Some(e.node));
        }
        let hp = host.join(std::str::from_utf8(&e.name).unwrap());
        let md = fs::symlink_metadata(&hp).unwrap();
        let meta = fs.metadata(e.node).unwrap();
        if let Some(k) = e.kind {
            assert_eq!(k, meta.kind, "{}", hp.display());
        }
        if md.file_type().is_symlink() {
            assert_eq!(meta.kind, FileType::Symlink);
            let t = fs::read_link(&hp)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes();
            assert_eq!(fs.read_link(e.node).unwrap(), t, "{}", hp.display());
            c.links += 1;
        } else if md.is_dir() {
            assert_eq!(meta.kind, FileType::Directory);
            compare(fs, img, e.node, &hp, c);
        } else {
            assert_eq!(meta.kind, FileType::Regular);
            let data = fs::read(&hp).unwrap();
            assert_eq!(meta.size, data.len() as u64, "{}", hp.display());
            assert!(read_all(fs, e.node, meta.size) == data, "{}", hp.display());
            assert!(check_extents(fs, img, e.node, &data), "{}", hp.display());
            c.files += 1;
            c.bytes += meta.size;
        }
    }
    assert_eq!(fs.lookup(node, b"no-such-name").unwrap(), None);
}

fn check_ids(fs: &dyn Filesystem, img: &Path) {
    let out = xfs_db(img, &["uuid", "label"]);
    let uuid = out
        .lines()
        .find_map(|l| l.strip_prefix("UUID = "))
        .unwrap()
        .trim();
    assert_eq!(fs.uuid().as_deref(), Some(uuid));
    assert!(out.contains("label = \"rsgrub-test\""), "{out}");
    assert_eq!(fs.label().as_deref(), Some("rsgrub-test"));
}

fn lookup_path(fs: &dyn Filesystem, p: &str) -> NodeId {
    let mut n = fs.root();
    for c in p.split('/').filter(|c| !c.is_empty()) {
        n = fs.lookup(n, c.as_bytes()).unwrap().unwrap();
    }
    n
}

/// Build, open and compare one configuration; returns the image path.
fn roundtrip(tmp: &TempDir, tag: &str, size: u64, opts: &[&str], big_dir: bool) -> PathBuf {
    let src = tmp.path().join(format!("{tag}-src"));
    make_tree(&src, big_dir, tag.len() as u64);
    let img = mkfs(tmp.path(), &src, size, opts, tag);
    let fs = open_img(&img);
    assert_eq!(fs.name(), "xfs");
    assert!(fs.warnings().is_empty(), "{tag}: {:?}", fs.warnings());
    let f = File::open(&img).unwrap();
    let mut c = Counts::default();
    compare(fs.as_ref(), &f, fs.root(), &src, &mut c);
    assert!(c.files >= 60 && c.links == 2 && c.bytes > 3 << 20, "{tag}");
    check_ids(fs.as_ref(), &img);
    // Directory and symlink forms as xfs_db sees them.
    assert_eq!(
        db_format(&img, lookup_path(fs.as_ref(), "dir5")),
        1,
        "{tag}"
    );
    assert_eq!(
        db_format(&img, lookup_path(fs.as_ref(), "vmlinuz")),
        1,
        "{tag}"
    );
    if !opts.contains(&"size=2048") {
        // (2 KiB inodes hold the long target and 50 short entries inline.)
        assert_eq!(
            db_format(&img, lookup_path(fs.as_ref(), "longlink")),
            2,
            "{tag}"
        );
        assert_ne!(
            db_format(&img, lookup_path(fs.as_ref(), "dir50")),
            1,
            "{tag}"
        );
    }
    // Whole-path resolution, through the shared resolver.
    let n = rsgrub_fs::path::resolve(fs.as_ref(), b"/vmlinuz", true).unwrap();
    assert_eq!(n, lookup_path(fs.as_ref(), "boot/vmlinuz-6.1"));
    // The generic probe table finds it too.
    let dev: DynReader = Arc::new(FileReader::new(File::open(&img).unwrap()).unwrap());
    assert_eq!(rsgrub_fs::open(dev).unwrap().name(), "xfs");
    img
}

const MIB: u64 = 1 << 20;

#[test]
fn v5_default_with_big_directory() {
    let tmp = TempDir::new().unwrap();
    let img = roundtrip(&tmp, "v5", 64 * MIB, &[], true);
    let fs = open_img(&img);
    let sb = xfs_db(&img, &["sb 0", "print versionnum features_incompat"]);
    assert!(sb.contains("0xb"), "{sb}"); // v5 versionnum ends in 5: 0xb4a5 etc.
    let big = lookup_path(fs.as_ref(), "dir5000");
    // 5,000 entries do not fit one directory block: leaf or node form, extents/btree fork.
    // 5,000 entries: node form (leaf and node blocks above 32 GiB), and so many directory
    // blocks that mkfs gave the fork btree format (real bmbt from the real tool).
    assert_eq!(db_format(&img, big), 3);
    assert_eq!(fs.read_dir(big).unwrap().len(), 5000);
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());

    // Random bytes in the real bmbt (root in the inode, and its first child block): errors
    // or wrong listings, never a panic or hang.
    let bytes = fs::read(&img).unwrap();
    let g = Geo::read(&bytes);
    let io = g.inode_off(big);
    let forkoff = usize::from(bytes[io + 82]) * 8;
    let fork_len = if forkoff == 0 {
        g.isize as usize - g.core()
    } else {
        forkoff
    };
    let fork = io + g.core();
    let maxrecs = (fork_len - 4) / 16;
    let child = g.fsb_off(be64(&bytes, fork + 4 + maxrecs * 8));
    assert!(&bytes[child..child + 4] == b"BMA3");
    let dev = Arc::new(Patched {
        base: Arc::new(bytes),
        patch: std::sync::Mutex::new(Vec::new()),
    });
    let mut r = Prng::new(11);
    for i in 0..300 {
        let at = if i % 2 == 0 {
            fork + r.below(fork_len as u64) as usize
        } else {
            child + r.below(g.bs) as usize
        };
        *dev.patch.lock().unwrap() = vec![(at, r.next() as u8), (at + 1, r.next() as u8)];
        let fs = xfs::open(dev.clone()).unwrap();
        let _ = fs.read_dir(big);
        let _ = fs.lookup(big, b"entry-with-a-longish-name-04999");
    }
}

#[test]
fn v4_without_ftype() {
    let tmp = TempDir::new().unwrap();
    let img = roundtrip(
        &tmp,
        "v4",
        256 * MIB,
        &["-m", "crc=0", "-n", "ftype=0"],
        true,
    );
    let fs = open_img(&img);
    let root = fs.read_dir(fs.root()).unwrap();
    assert!(root.iter().all(|e| e.kind.is_none()));
}

#[test]
fn v5_ftype_kinds_recorded() {
    let tmp = TempDir::new().unwrap();
    let img = roundtrip(&tmp, "v5ft", 32 * MIB, &["-b", "size=1024"], false);
    let fs = open_img(&img);
    let root = fs.read_dir(fs.root()).unwrap();
    assert!(root.iter().all(|e| e.kind.is_some()));
}

#[test]
fn v4_512_byte_blocks() {
    let tmp = TempDir::new().unwrap();
    roundtrip(
        &tmp,
        "v4b512",
        256 * MIB,
        &["-m", "crc=0", "-b", "size=512"],
        true,
    );
}

#[test]
fn v5_64k_blocks() {
    let tmp = TempDir::new().unwrap();
    roundtrip(&tmp, "v5b64k", 256 * MIB, &["-b", "size=65536"], false);
}

#[test]
fn v5_sparse_inodes_many_ags_nrext64_big_dir_blocks() {
    let tmp = TempDir::new().unwrap();
    roundtrip(&tmp, "sparse", 64 * MIB, &["-i", "sparse=1"], false);
    let img = roundtrip(&tmp, "agcount8", 160 * MIB, &["-d", "agcount=8"], false);
    let out = xfs_db(&img, &["sb 0", "print agcount"]);
    assert!(out.contains("agcount = 8"), "{out}");
    roundtrip(
        &tmp,
        "nrext64",
        64 * MIB,
        &["-m", "bigtime=1", "-i", "nrext64=1"],
        false,
    );
    let img = roundtrip(
        &tmp,
        "v4ftype",
        64 * MIB,
        &["-m", "crc=0", "-n", "ftype=1"],
        false,
    );
    let fs = open_img(&img);
    assert!(fs
        .read_dir(fs.root())
        .unwrap()
        .iter()
        .all(|e| e.kind.is_some()));
    roundtrip(&tmp, "dirblk16k", 256 * MIB, &["-n", "size=16384"], true);
    roundtrip(&tmp, "isize2k", 64 * MIB, &["-i", "size=2048"], false);
    // 4 KiB sectors: the v5 superblock CRC covers the whole sector.
    roundtrip(&tmp, "sect4k", 64 * MIB, &["-s", "size=4096"], false);
}

// ---------------------------------------------------------------------------------------------
// Edited images: multi-extent and btree forks, and hostile fields.

/// Geometry read back from the superblock (big-endian).
struct Geo {
    v5: bool,
    bs: u64,
    agblocks: u64,
    agblklog: u32,
    inopblog: u32,
    isize: u64,
}

fn be16(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_be_bytes(b[o..o + 2].try_into().unwrap()))
}
fn be32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_be_bytes(b[o..o + 4].try_into().unwrap()))
}
fn be64(b: &[u8], o: usize) -> u64 {
    u64::from_be_bytes(b[o..o + 8].try_into().unwrap())
}

impl Geo {
    fn read(img: &[u8]) -> Geo {
        Geo {
            v5: be16(img, 100) & 0xf == 5,
            bs: be32(img, 4),
            agblocks: be32(img, 84),
            agblklog: u32::from(img[124]),
            inopblog: u32::from(img[123]),
            isize: be16(img, 104),
        }
    }
    fn inode_off(&self, ino: u64) -> usize {
        let sh = self.agblklog + self.inopblog;
        let agno = ino >> sh;
        let agbno = (ino & ((1 << sh) - 1)) >> self.inopblog;
        let idx = ino & ((1 << self.inopblog) - 1);
        ((agno * self.agblocks + agbno) * self.bs + idx * self.isize) as usize
    }
    fn fsb_off(&self, fsb: u64) -> usize {
        let agno = fsb >> self.agblklog;
        let agbno = fsb & ((1 << self.agblklog) - 1);
        ((agno * self.agblocks + agbno) * self.bs) as usize
    }
    fn core(&self) -> usize {
        if self.v5 {
            176
        } else {
            100
        }
    }
}

fn rec(flag: bool, off: u64, start: u64, count: u64) -> [u8; 16] {
    let l0 = (u64::from(flag) << 63) | (off << 9) | (start >> 43);
    let l1 = (start << 21) | count;
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&l0.to_be_bytes());
    r[8..].copy_from_slice(&l1.to_be_bytes());
    r
}

/// (file offset, start fsbno, count) of the first extent of an extents-format inode.
fn first_extent(img: &[u8], g: &Geo, ino: u64) -> (u64, u64, u64) {
    let o = g.inode_off(ino) + g.core();
    let l0 = be64(img, o);
    let l1 = be64(img, o + 8);
    (
        (l0 & ((1 << 63) - 1)) >> 9,
        ((l0 & 0x1ff) << 43) | (l1 >> 21),
        l1 & ((1 << 21) - 1),
    )
}

fn fix_sb_crc(img: &mut [u8]) {
    if be16(img, 100) & 0xf != 5 {
        return;
    }
    let ss = be16(img, 102) as usize;
    img[224..228].fill(0);
    let c = !crc32c(!0, &img[..ss]);
    img[224..228].copy_from_slice(&c.to_le_bytes());
}

fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    crc
}

struct Small {
    _tmp: TempDir,
    src: PathBuf,
    bytes: Vec<u8>,
    kernel: NodeId,
    scratch: NodeId,
    dir50: NodeId,
}

fn small(opts: &[&str], tag: &str) -> Small {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, false, 7);
    let img = mkfs(tmp.path(), &src, 32 * MIB, opts, tag);
    let fs = open_img(&img);
    let kernel = lookup_path(fs.as_ref(), "boot/vmlinuz-6.1");
    let scratch = lookup_path(fs.as_ref(), "boot/initrd.img-6.1");
    let dir50 = lookup_path(fs.as_ref(), "dir50");
    let bytes = fs::read(&img).unwrap();
    Small {
        _tmp: tmp,
        src,
        bytes,
        kernel,
        scratch,
        dir50,
    }
}

#[test]
fn edited_multi_extent_holes_and_unwritten() {
    for (opts, tag) in [(&[][..], "v5"), (&["-m", "crc=0"][..], "v4")] {
        let mut s = small(opts, tag);
        let g = Geo::read(&s.bytes);
        let (off, start, count) = first_extent(&s.bytes, &g, s.kernel);
        assert_eq!(off, 0);
        let want_full = fs::read(s.src.join("boot/vmlinuz-6.1")).unwrap();
        assert!(count * g.bs >= want_full.len() as u64);
        // Eight pieces; odd ones left out (holes), piece 2 unwritten.
        let m = count / 8;
        let io = g.inode_off(s.kernel) + g.core();
        let mut n = 0u64;
        let mut want = want_full.clone();
        for j in 0..8u64 {
            let (fo, len) = (j * m, if j == 7 { count - 7 * m } else { m });
            let zero = j % 2 == 1 || j == 2;
            if j % 2 == 1 {
            } else {
                let r = rec(j == 2, fo, start + fo, len);
                s.bytes[io + 16 * n as usize..io + 16 * n as usize + 16].copy_from_slice(&r);
                n += 1;
            }
            if zero {
                let a = ((fo * g.bs) as usize).min(want.len());
                let b = (((fo + len) * g.bs) as usize).min(want.len());
                want[a..b].fill(0);
            }
        }
        let ino = g.inode_off(s.kernel);
        s.bytes[ino + 76..ino + 80].copy_from_slice(&(n as u32).to_be_bytes());
        let fs = open_bytes(&s.bytes).unwrap();
        let got = read_all(fs.as_ref(), s.kernel, want.len() as u64);
        assert!(got == want, "{tag}");
        let ext = fs.extents(s.kernel, 0, want.len() as u64).unwrap().unwrap();
        let holes = ext
            .iter()
            .filter(|e| matches!(e, Extent::Hole { .. }))
            .count();
        assert!(holes >= 4, "{tag}: {ext:?}");
        // Unaligned reads straddling a hole boundary.
        let mut buf = vec![0u8; 10_000];
        let at = m * g.bs - 4321;
        let k = fs.read_at(s.kernel, at, &mut buf).unwrap();
        assert!(buf[..k] == want[at as usize..at as usize + k]);
    }
}

/// Turn the kernel's single extent into a 2-level bmbt in the scratch file's blocks.
fn make_btree(s: &mut Small, g: &Geo, pieces: u64) -> (u64, usize) {
    let (_, start, count) = first_extent(&s.bytes, g, s.kernel);
    let (_, sstart, scount) = first_extent(&s.bytes, g, s.scratch);
    assert!(scount >= 3 && pieces >= 2);
    let hdr = if g.v5 { 72 } else { 24 };
    let magic: &[u8; 4] = if g.v5 { b"BMA3" } else { b"BMAP" };
    let node = g.fsb_off(sstart);
    let bs = g.bs as usize;
    let maxrecs = (bs - hdr) / 16;
    // Node: level 1, two children.
    s.bytes[node..node + bs].fill(0);
    s.bytes[node..node + 4].copy_from_slice(magic);
    s.bytes[node + 4..node + 6].copy_from_slice(&1u16.to_be_bytes());
    s.bytes[node + 6..node + 8].copy_from_slice(&2u16.to_be_bytes());
    let per = count / pieces;
    let half = pieces / 2;
    for (i, first) in [0u64, half].iter().enumerate() {
        let k = node + hdr + i * 8;
        s.bytes[k..k + 8].copy_from_slice(&(first * per).to_be_bytes());
        let p = node + hdr + maxrecs * 8 + i * 8;
        s.bytes[p..p + 8].copy_from_slice(&(sstart + 1 + i as u64).to_be_bytes());
    }
    for (i, range) in [(0..half), (half..pieces)].into_iter().enumerate() {
        let leaf = g.fsb_off(sstart + 1 + i as u64);
        s.bytes[leaf..leaf + bs].fill(0);
        s.bytes[leaf..leaf + 4].copy_from_slice(magic);
        let nrec = (range.end - range.start) as u16;
        s.bytes[leaf + 6..leaf + 8].copy_from_slice(&nrec.to_be_bytes());
        for (r, j) in range.enumerate() {
            let fo = j * per;
            let len = if j == pieces - 1 { count - fo } else { per };
            let at = leaf + hdr + r * 16;
            s.bytes[at..at + 16].copy_from_slice(&rec(false, fo, start + fo, len));
        }
    }
    // Root in the inode: level 2, one pointer to the node.
    let ino = g.inode_off(s.kernel);
    s.bytes[ino + 5] = 3;
    s.bytes[ino + 76..ino + 80].copy_from_slice(&(pieces as u32).to_be_bytes());
    let fork = ino + g.core();
    let fork_len = g.isize as usize - g.core();
    s.bytes[fork..fork + fork_len].fill(0);
    s.bytes[fork..fork + 2].copy_from_slice(&2u16.to_be_bytes());
    s.bytes[fork + 2..fork + 4].copy_from_slice(&1u16.to_be_bytes());
    let rmax = (fork_len - 4) / 16;
    s.bytes[fork + 4 + rmax * 8..fork + 12 + rmax * 8].copy_from_slice(&sstart.to_be_bytes());
    (sstart, node)
}

#[test]
fn edited_btree_fork_and_hostile_trees() {
    for (opts, tag) in [(&[][..], "v5"), (&["-m", "crc=0"][..], "v4")] {
        let mut s = small(opts, tag);
        let g = Geo::read(&s.bytes);
        let want = fs::read(s.src.join("boot/vmlinuz-6.1")).unwrap();
        let (sstart, node) = make_btree(&mut s, &g, 60);
        let fs = open_bytes(&s.bytes).unwrap();
        assert!(
            read_all(fs.as_ref(), s.kernel, want.len() as u64) == want,
            "{tag}"
        );
        let ext = fs.extents(s.kernel, 0, want.len() as u64).unwrap().unwrap();
        assert!(ext.len() >= 60, "{tag}: {}", ext.len());
        drop(fs);

        let expect_err = |b: &[u8], what: &str| {
            let fs = open_bytes(b).unwrap();
            let mut buf = vec![0u8; 4096];
            assert!(fs.read_at(s.kernel, 0, &mut buf).is_err(), "{tag}: {what}");
            rsgrub_fs::walk::exercise(fs.as_ref(), 1000, 1 << 20);
        };
        // Node pointing to itself (level check stops it).
        let mut b = s.bytes.clone();
        let p = node
            + if g.v5 { 72 } else { 24 }
            + ((g.bs as usize - if g.v5 { 72 } else { 24 }) / 16) * 8;
        b[p..p + 8].copy_from_slice(&sstart.to_be_bytes());
        expect_err(&b, "self pointer");
        // Node at the same level as its child: a loop in level terms.
        let mut b = s.bytes.clone();
        b[node + 4..node + 6].copy_from_slice(&0u16.to_be_bytes());
        expect_err(&b, "level mismatch");
        // Huge root level.
        let mut b = s.bytes.clone();
        let fork = g.inode_off(s.kernel) + g.core();
        b[fork..fork + 2].copy_from_slice(&60000u16.to_be_bytes());
        expect_err(&b, "root level");
        // Node pointer past the device / outside the AGs.
        let mut b = s.bytes.clone();
        b[p..p + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        expect_err(&b, "pointer past device");
        // numrecs too large.
        let mut b = s.bytes.clone();
        b[node + 6..node + 8].copy_from_slice(&u16::MAX.to_be_bytes());
        expect_err(&b, "numrecs");
        // Fewer extents than the inode claims.
        let mut b = s.bytes.clone();
        let ino = g.inode_off(s.kernel);
        b[ino + 76..ino + 80].copy_from_slice(&61u32.to_be_bytes());
        expect_err(&b, "nextents");
    }
}

#[test]
fn hostile_extents_and_directories() {
    let mut s = small(&[], "hx");
    let g = Geo::read(&s.bytes);
    let io = g.inode_off(s.kernel) + g.core();
    let (_, start, count) = first_extent(&s.bytes, &g, s.kernel);
    // Extent starting past the AGs, in AG 0 past agblocks, and running off the device.
    let agcount = be32(&s.bytes, 88);
    for bad_start in [
        agcount << g.agblklog,
        ((agcount - 1) << g.agblklog) | (g.agblocks - 2),
        g.agblocks - 1,
    ] {
        let mut b = s.bytes.clone();
        b[io..io + 16].copy_from_slice(&rec(false, 0, bad_start, count));
        let fs = open_bytes(&b).unwrap();
        let mut buf = vec![0u8; 4096];
        assert!(fs.read_at(s.kernel, 0, &mut buf).is_err(), "{bad_start}");
        assert!(fs.extents(s.kernel, 0, 4096).is_err());
    }
    // Truncated device: the kernel's blocks are gone.
    let cut = g.fsb_off(start) + 4096;
    let fs = open_bytes(&s.bytes[..cut]).unwrap();
    assert!(!fs.warnings().is_empty());
    let mut buf = vec![0u8; 65536];
    assert!(fs.read_at(s.kernel, 0, &mut buf).is_err());
    drop(fs);
    // File offset at 2^54-1 blocks: the byte end overflows.
    let mut b = s.bytes.clone();
    b[io..io + 16].copy_from_slice(&rec(false, (1 << 54) - 1, start, 1));
    let fs = open_bytes(&b).unwrap();
    assert!(fs.read_at(s.kernel, 0, &mut buf).is_err());
    drop(fs);

    // Block directory dir50: first entry with namelen 0; leaf count huge; every byte of the
    // block set to 0xff in turn (no panic, no hang).
    let (_, dstart, _) = first_extent(&s.bytes, &g, s.dir50);
    let db = g.fsb_off(dstart);
    let hdr = 64;
    let mut b = s.bytes.clone();
    b[db + hdr + 8] = 0;
    let fs = open_bytes(&b).unwrap();
    assert!(matches!(fs.read_dir(s.dir50), Err(FsError::Corrupt { .. })));
    let mut b = s.bytes.clone();
    let tail = db + g.bs as usize - 8;
    b[tail..tail + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let fs = open_bytes(&b).unwrap();
    assert!(fs.read_dir(s.dir50).is_err());
    let dev = Arc::new(Patched {
        base: Arc::new(s.bytes.clone()),
        patch: std::sync::Mutex::new(Vec::new()),
    });
    for i in (0..g.bs as usize).step_by(3) {
        *dev.patch.lock().unwrap() = vec![(db + i, 0xff), (db + i + 1, 0x7f)];
        let fs = xfs::open(dev.clone()).unwrap();
        let _ = fs.read_dir(s.dir50);
        let _ = fs.lookup(s.dir50, b"file-number-049");
    }
    // Last entry's name made to run past the leaf.
    let fs = open_bytes(&s.bytes).unwrap();
    assert_eq!(fs.read_dir(s.dir50).unwrap().len(), 50);
    // Shortform dir5: count larger than the entries present.
    let d5 = lookup_path(fs.as_ref(), "dir5");
    let o = g.inode_off(d5) + g.core();
    s.bytes[o] = 200;
    let fs = open_bytes(&s.bytes).unwrap();
    assert!(fs.read_dir(d5).is_err());
}

/// A reader over shared bytes with a few patched bytes (cheap per fuzz iteration).
struct Patched {
    base: Arc<Vec<u8>>,
    patch: std::sync::Mutex<Vec<(usize, u8)>>,
}

impl rsgrub_io::ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let o = offset as usize;
        let src = self
            .base
            .get(o..o + buf.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        for &(at, v) in self.patch.lock().unwrap().iter() {
            if at >= o && at < o + buf.len() {
                buf[at - o] = v;
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.base.len() as u64
    }
}

#[test]
fn hostile_superblocks() {
    for (opts, tag) in [(&[][..], "v5"), (&["-m", "crc=0"][..], "v4")] {
        let s = small(opts, tag);
        let g = Geo::read(&s.bytes);
        assert!(open_bytes(&s.bytes).is_ok());
        // Zeroed superblock.
        let mut b = s.bytes.clone();
        b[..512].fill(0);
        let dev: DynReader = Arc::new(b.clone());
        assert!(!xfs::probe(&*dev));
        assert!(open_bytes(&b).is_err());
        // A flipped byte in the label: v5 CRC catches it, v4 has no CRC.
        let mut b = s.bytes.clone();
        b[110] ^= 0x20;
        match open_bytes(&b) {
            Err(FsError::Corrupt { what, .. }) => assert!(g.v5 && what.contains("CRC"), "{what}"),
            Ok(_) => assert!(!g.v5),
            Err(e) => panic!("{e}"),
        }
        // Geometry fields out of range (with a valid CRC, so the checks themselves run).
        let cases: &[(usize, &[u8])] = &[
            (124, &[0]),                     // agblklog 0
            (124, &[32]),                    // agblklog 32
            (124, &[40]),                    // agblklog > 32
            (120, &[8]),                     // blocklog < 9
            (120, &[17]),                    // blocklog > 16
            (4, &[0, 0, 0, 0]),              // blocksize 0
            (122, &[7]),                     // inodelog
            (104, &[0, 0]),                  // inode size 0
            (104, &[0x10, 0]),               // inode size 4096 vs log
            (123, &[30]),                    // inopblog
            (192, &[200]),                   // dir block log
            (88, &[0, 0, 0, 0]),             // agcount 0
            (88, &[0xff, 0xff, 0xff, 0xff]), // agcount huge
            (84, &[0, 0, 0, 1]),             // agblocks 1
            (8, &[0xff; 8]),                 // dblocks huge
            (102, &[0, 0]),                  // sector size 0
            (121, &[20]),                    // sector log
            (100, &[0, 6]),                  // version 6
        ];
        for &(off, val) in cases {
            let mut b = s.bytes.clone();
            b[off..off + val.len()].copy_from_slice(val);
            fix_sb_crc(&mut b);
            assert!(open_bytes(&b).is_err(), "{tag}: field at {off} = {val:?}");
        }
        // Root inode number pointing outside the AGs, to a non-directory, or to garbage.
        for root in [0u64, u64::MAX, s.kernel, 1] {
            let mut b = s.bytes.clone();
            b[56..64].copy_from_slice(&root.to_be_bytes());
            fix_sb_crc(&mut b);
            assert!(open_bytes(&b).is_err(), "{tag}: root {root}");
        }
        // Unknown incompatible feature on v5.
        if g.v5 {
            let mut b = s.bytes.clone();
            b[216] |= 0x80;
            fix_sb_crc(&mut b);
            assert!(matches!(open_bytes(&b), Err(FsError::Unsupported { .. })));
        }
    }
}

#[test]
fn random_byte_flips() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::write(src.join("boot/grub/grub.cfg"), b"set default=0\n").unwrap();
    fs::write(src.join("boot/vmlinuz"), Prng::new(3).bytes(50_000)).unwrap();
    std::os::unix::fs::symlink(long_target(), src.join("ll")).unwrap();
    std::os::unix::fs::symlink("boot", src.join("sl")).unwrap();
    fs::create_dir(src.join("d")).unwrap();
    for i in 0..40 {
        fs::write(src.join(format!("d/f{i}")), b"x").unwrap();
    }
    for (opts, tag) in [
        (&["-b", "size=1024"][..], "v5"),
        (&["-m", "crc=0", "-b", "size=512"][..], "v4"),
    ] {
        let img = mkfs(tmp.path(), &src, 32 * MIB, opts, tag);
        let bytes = fs::read(&img).unwrap();
        let g = Geo::read(&bytes);
        let fs0 = open_img(&img);
        // Interesting metadata: the superblock, the root's inode chunk, the blocks of d/.
        let root_off = g.inode_off(fs0.root());
        let d = lookup_path(fs0.as_ref(), "d");
        let (_, dstart, dcount) = first_extent(&bytes, &g, d);
        let dir_off = g.fsb_off(dstart);
        let dir_len = (dcount * g.bs) as usize;
        drop(fs0);
        let dev = Arc::new(Patched {
            base: Arc::new(bytes),
            patch: std::sync::Mutex::new(Vec::new()),
        });
        let mut r = Prng::new(99);
        let mut opened = 0;
        for _ in 0..1500 {
            let mut p = Vec::new();
            for _ in 0..1 + r.below(4) {
                let at = match r.below(3) {
                    0 => r.below(if g.v5 { 512 } else { 256 }) as usize,
                    1 => root_off + r.below(64 * g.isize) as usize,
                    _ => dir_off + r.below(dir_len as u64) as usize,
                };
                p.push((at, r.next() as u8));
            }
            *dev.patch.lock().unwrap() = p;
            if let Ok(fs) = xfs::open(dev.clone()) {
                opened += 1;
                rsgrub_fs::walk::exercise(fs.as_ref(), 300, 1 << 20);
            }
        }
        assert!(opened > 100, "{tag}: only {opened} opened");
    }
}

/// The fuzz seeds are 128/256 KiB prefixes of real 32 MiB, 2-AG images. AG 0 holds the root
/// directory (block form), 32 files and both symlinks; `boot/` landed in AG 1 and is cut off.
/// They must open with a truncation warning and walk with exactly that one error.
#[test]
fn corpus_seeds_open_and_walk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_xfs");
    let mut n = 0;
    for f in fs::read_dir(dir).unwrap() {
        let data = fs::read(f.unwrap().path()).unwrap();
        let fs = open_bytes(&data).unwrap();
        assert!(!fs.warnings().is_empty());
        assert_eq!(fs.read_dir(fs.root()).unwrap().len(), 35);
        let st = rsgrub_fs::walk::exercise(fs.as_ref(), 1000, 1 << 20);
        assert_eq!(st.errors, 1, "{st:?}");
        assert!(st.files == 32 && st.links == 2 && st.dirs == 1, "{st:?}");
        let cfg = rsgrub_fs::path::resolve(fs.as_ref(), b"/grub.cfg", true).unwrap();
        let mut buf = [0u8; 64];
        let k = fs.read_at(cfg, 0, &mut buf).unwrap();
        assert_eq!(&buf[..k], b"set default=0\n");
        assert_eq!(
            fs.read_link(lookup_path(fs.as_ref(), "ll")).unwrap().len(),
            400
        );
        assert_eq!(fs.label().as_deref(), Some("seed"));
        n += 1;
    }
    assert!(n >= 3);
}

/// mkfs leaves an unmount record at the head of the log: clean, no warning. Turning it into
/// an ordinary transaction (a crash before unmount) must give the dirty-log warning, and the
/// files must still read (the log is not replayed).
#[test]
fn dirty_log_is_a_warning() {
    for (opts, tag) in [(&[][..], "v5"), (&["-m", "crc=0"][..], "v4")] {
        let mut s = small(opts, tag);
        let g = Geo::read(&s.bytes);
        let logstart = be64(&s.bytes, 48);
        assert_ne!(logstart, 0);
        let lo = g.fsb_off(logstart);
        assert_eq!(
            be32(&s.bytes, lo),
            0xFEED_BABE,
            "{tag}: no record at the log start"
        );
        assert!(open_bytes(&s.bytes).unwrap().warnings().is_empty());
        // The op header follows the one-BB record header; oh_flags is its byte 9.
        assert_ne!(s.bytes[lo + 512 + 9] & 0x20, 0, "{tag}: no unmount record");
        s.bytes[lo + 512 + 9] = 0x01;
        let fs = open_bytes(&s.bytes).unwrap();
        let w = fs.warnings();
        assert!(w.iter().any(|m| m.contains("dirty")), "{tag}: {w:?}");
        let want = fs::read(s.src.join("boot/grub/grub.cfg")).unwrap();
        let n = lookup_path(fs.as_ref(), "boot/grub/grub.cfg");
        assert_eq!(read_all(fs.as_ref(), n, want.len() as u64), want);
        // A garbage log gives a warning too, never an error.
        let mut b = s.bytes.clone();
        for (i, x) in b[lo..lo + 8192].iter_mut().enumerate() {
            *x = (i * 7) as u8;
        }
        assert!(!open_bytes(&b).unwrap().warnings().is_empty());
    }
}

/// Rough throughput of reading a 60 MB file (run with `--ignored --nocapture`; no assertion
/// on time).
#[test]
#[ignore]
fn read_speed_60mb() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let data = Prng::new(5).bytes(60_000_000);
    fs::write(src.join("big"), &data).unwrap();
    let img = mkfs(tmp.path(), &src, 256 * MIB, &[], "speed");
    let fs = open_img(&img);
    let n = lookup_path(fs.as_ref(), "big");
    let t = std::time::Instant::now();
    let got = read_all(fs.as_ref(), n, data.len() as u64);
    let dt = t.elapsed();
    assert!(got == data);
    let mut buf = vec![0u8; 1 << 20];
    let t2 = std::time::Instant::now();
    let mut off = 0u64;
    while off < data.len() as u64 {
        off += fs.read_at(n, off, &mut buf).unwrap() as u64;
    }
    eprintln!(
        "60 MB: 64 KiB reads {:.0} MB/s, 1 MiB reads {:.0} MB/s",
        60.0 / dt.as_secs_f64(),
        60.0 / t2.elapsed().as_secs_f64()
    );
}

/// mkfs.xfs 6.1 writes v5 remote symlinks without their `XSLM` header (read as raw, tested
/// above); the kernel writes the header. Build that form in place and check both the good
/// case and hostile header fields.
#[test]
fn v5_remote_symlink_with_header() {
    let mut s = small(&[], "slm");
    let g = Geo::read(&s.bytes);
    let fs = open_bytes(&s.bytes).unwrap();
    let ll = lookup_path(fs.as_ref(), "longlink");
    drop(fs);
    let target = long_target().into_bytes();
    let (_, start, count) = first_extent(&s.bytes, &g, ll);
    assert_eq!(count, 1);
    let b0 = g.fsb_off(start);
    let mut blk = vec![0u8; g.bs as usize];
    blk[..4].copy_from_slice(b"XSLM");
    blk[8..12].copy_from_slice(&(target.len() as u32).to_be_bytes());
    blk[56..56 + target.len()].copy_from_slice(&target);
    s.bytes[b0..b0 + blk.len()].copy_from_slice(&blk);
    let fs = open_bytes(&s.bytes).unwrap();
    assert_eq!(fs.read_link(ll).unwrap(), target);
    for (off, val) in [(8usize, 5000u32), (8, 0), (4, 7)] {
        let mut b = s.bytes.clone();
        b[b0 + off..b0 + off + 4].copy_from_slice(&val.to_be_bytes());
        let fs = open_bytes(&b).unwrap();
        assert!(fs.read_link(ll).is_err(), "field {off} = {val}");
    }
}
