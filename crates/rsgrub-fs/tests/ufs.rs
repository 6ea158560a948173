//! UFS1/UFS2 driver tests against images built by the real NetBSD `makefs -t ffs` (Debian's
//! makefs package), in both byte orders and two block geometries, plus hostile variants.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::{tool, Prng};
use rsgrub_fs::{path, ufs, Extent, FileType, Filesystem, NodeId};
use rsgrub_io::{DynReader, FileReader};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64*: deterministic bytes without a dependency.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `makefs -t ffs -B ENDIAN -o OPTS [-s SIZE] IMG SRC`.
fn makefs(endian: &str, opts: &str, size: Option<&str>, src: &Path, img: &Path) {
    let mut cmd = Command::new(tool("makefs"));
    cmd.args(["-t", "ffs", "-B", endian, "-o", opts]);
    if let Some(s) = size {
        cmd.args(["-s", s]);
    }
    cmd.arg(img).arg(src).stdin(std::process::Stdio::null());
    run(&mut cmd);
}

fn open_path(img: &Path) -> Box<dyn Filesystem> {
    let r: DynReader = Arc::new(FileReader::new(File::open(img).unwrap()).unwrap());
    assert!(ufs::probe(&*r));
    // Through the probe table, as rsgrub opens a volume.
    rsgrub_fs::open(r).unwrap()
}

fn open_bytes(img: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let r: DynReader = Arc::new(img);
    ufs::open(r)
}

fn node(fs: &dyn Filesystem, p: &str) -> NodeId {
    path::resolve(fs, p.as_bytes(), true).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn node_nofollow(fs: &dyn Filesystem, p: &str) -> NodeId {
    path::resolve(fs, p.as_bytes(), false).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn read(fs: &dyn Filesystem, p: &str) -> Vec<u8> {
    path::read_file(fs, p.as_bytes(), 1 << 30).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Walk a budgeted tree and swallow errors (hostile images).
fn exercise(fs: &dyn Filesystem) -> rsgrub_fs::walk::WalkStats {
    rsgrub_fs::walk::exercise(fs, 500, 4 << 20)
}

// ---------------------------------------------------------------------------------------------
// The test tree

const SMALL: &[u8] = b"tiny\n";
const FILE_TXT: &[u8] = b"hello from dir1/dir2\n";
const SHORT_TARGET: &str = "dir1/dir2/file.txt";
const ABS_TARGET: &str = "/boot/loader.conf";

/// 98 bytes: long (in a block) on UFS1, short (in the inode) on UFS2.
fn mid_target() -> String {
    format!("{}dir1/dir2/file.txt", "./".repeat(40))
}

/// 218 bytes: in a block on both.
fn long_target() -> String {
    format!("{}dir1/dir2/file.txt", "./".repeat(100))
}

struct Tree {
    _dir: TempDir,
    src: PathBuf,
}

impl Tree {
    fn img(&self, name: &str) -> PathBuf {
        self.src.parent().unwrap().join(name)
    }
}

/// A source tree: `big` bytes of kernel, `many` files in one directory, files around the
/// end of the direct blocks for block size `bs`.
fn build_tree(big: usize, many: usize, bs: usize) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("boot/grub")).unwrap();
    fs::create_dir_all(src.join("dir1/dir2/dir3")).unwrap();
    fs::create_dir_all(src.join("emptydir")).unwrap();
    fs::create_dir_all(src.join("many")).unwrap();
    let mut rng = Prng::new(big as u64 ^ 0x5EED);
    fs::write(src.join("boot/kernel"), rng.bytes(big)).unwrap();
    fs::write(
        src.join("boot/loader.conf"),
        b"vfs.root.mountfrom=\"ufs:/dev/ada0p2\"\n",
    )
    .unwrap();
    fs::write(
        src.join("boot/grub/grub.cfg"),
        b"menuentry 'FreeBSD' { kfreebsd /boot/kernel }\n",
    )
    .unwrap();
    fs::write(src.join("small.txt"), SMALL).unwrap();
    // Full blocks and a fragment tail.
    fs::write(src.join("medium.bin"), rng.bytes(2 * bs + 1000)).unwrap();
    // Exactly the twelve direct blocks, and one byte into the single indirect range.
    fs::write(src.join("twelve.bin"), rng.bytes(12 * bs)).unwrap();
    fs::write(src.join("thirteen.bin"), rng.bytes(12 * bs + 1)).unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::write(src.join("dir1/dir2/file.txt"), FILE_TXT).unwrap();
    fs::write(src.join("dir1/dir2/dir3/deep.txt"), b"deep\n").unwrap();
    use std::os::unix::fs::symlink;
    symlink(SHORT_TARGET, src.join("shortlink")).unwrap();
    symlink(mid_target(), src.join("midlink")).unwrap();
    symlink(long_target(), src.join("longlink")).unwrap();
    symlink(ABS_TARGET, src.join("abslink")).unwrap();
    symlink("../../../../boot/kernel", src.join("dir1/up")).unwrap();
    symlink("loopb", src.join("loopa")).unwrap();
    symlink("loopa", src.join("loopb")).unwrap();
    for i in 0..many {
        fs::write(
            src.join(format!("many/file_{i:05}")),
            format!("content {i}\n"),
        )
        .unwrap();
    }
    Tree { _dir: dir, src }
}

/// Compare the filesystem at `dir` with the host directory `host`, recursively: names,
/// kinds, sizes, file bytes, link targets. Returns the number of nodes compared.
fn compare_dir(fs: &dyn Filesystem, dir: NodeId, host: &Path, img: &Path) -> usize {
    let mut want: BTreeMap<Vec<u8>, fs::Metadata> = BTreeMap::new();
    for e in fs::read_dir(host).unwrap() {
        let e = e.unwrap();
        use std::os::unix::ffi::OsStrExt;
        want.insert(
            e.file_name().as_bytes().to_vec(),
            fs::symlink_metadata(e.path()).unwrap(),
        );
    }
    let got = fs.read_dir(dir).unwrap();
    let mut got_names: Vec<Vec<u8>> = got.iter().map(|e| e.name.clone()).collect();
    got_names.sort();
    let want_names: Vec<Vec<u8>> = want.keys().cloned().collect();
    assert_eq!(got_names, want_names, "listing of {host:?}");
    let mut n = 0;
    for e in got {
        use std::os::unix::ffi::OsStrExt;
        let hp = host.join(std::ffi::OsStr::from_bytes(&e.name));
        let hm = &want[&e.name];
        let m = fs.metadata(e.node).unwrap();
        assert_eq!(fs.lookup(dir, &e.name).unwrap(), Some(e.node), "{hp:?}");
        n += 1;
        if hm.file_type().is_dir() {
            assert_eq!(m.kind, FileType::Directory, "{hp:?}");
            assert!(matches!(e.kind, None | Some(FileType::Directory)));
            n += compare_dir(fs, e.node, &hp, img);
        } else if hm.file_type().is_symlink() {
            assert_eq!(m.kind, FileType::Symlink, "{hp:?}");
            let t = fs::read_link(&hp).unwrap();
            assert_eq!(
                fs.read_link(e.node).unwrap(),
                t.as_os_str().as_bytes(),
                "{hp:?}"
            );
            assert_eq!(m.size, t.as_os_str().len() as u64);
        } else {
            assert_eq!(m.kind, FileType::Regular, "{hp:?}");
            assert!(matches!(e.kind, None | Some(FileType::Regular)));
            let data = fs::read(&hp).unwrap();
            assert_eq!(m.size, data.len() as u64, "{hp:?}");
            let mut buf = vec![0u8; data.len() + 100];
            let got = fs.read_at(e.node, 0, &mut buf).unwrap();
            assert_eq!(got, data.len());
            assert!(buf[..got] == data[..], "{hp:?}: content differs");
            if data.len() > 1000 {
                check_extents(fs, e.node, img, &data, &hp);
            }
        }
    }
    n
}

/// `extents()` covers the file exactly, and the mapped bytes read from the image itself
/// equal the file; neighbours are merged.
fn check_extents(fs: &dyn Filesystem, n: NodeId, img: &Path, want: &[u8], what: &Path) {
    let exts = fs
        .extents(n, 0, want.len() as u64)
        .unwrap()
        .expect("block-mapped file has extents");
    let image = File::open(img).unwrap();
    let mut pos = 0u64;
    for e in &exts {
        match *e {
            Extent::Mapped {
                file_offset,
                volume_offset,
                len,
            } => {
                assert_eq!(file_offset, pos, "{what:?}: gap before {e:?}");
                let mut buf = vec![0u8; len as usize];
                image.read_exact_at(&mut buf, volume_offset).unwrap();
                assert!(
                    buf == want[file_offset as usize..(file_offset + len) as usize],
                    "{what:?}: bytes at {e:?} differ"
                );
                pos += len;
            }
            Extent::Hole { file_offset, len } => {
                assert_eq!(file_offset, pos);
                assert!(want[file_offset as usize..(file_offset + len) as usize]
                    .iter()
                    .all(|&b| b == 0));
                pos += len;
            }
        }
    }
    assert_eq!(
        pos,
        want.len() as u64,
        "{what:?}: extents cover {pos} bytes"
    );
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
            assert_ne!(a + len, b, "{what:?}: unmerged extents {w:?}");
        }
    }
    // A sub-range starts and ends where asked.
    if want.len() > 10_000 {
        let sub = fs.extents(n, 1234, 5000).unwrap().unwrap();
        let first = match sub[0] {
            Extent::Mapped { file_offset, .. } | Extent::Hole { file_offset, .. } => file_offset,
        };
        let total: u64 = sub
            .iter()
            .map(|e| match *e {
                Extent::Mapped { len, .. } | Extent::Hole { len, .. } => len,
            })
            .sum();
        assert_eq!((first, total), (1234, 5000));
    }
}

/// Superblock facts read straight from the image (independently of the driver).
struct RawSb {
    off: usize,
    be: bool,
    ufs2: bool,
}

impl RawSb {
    fn find(img: &[u8]) -> RawSb {
        for off in [65536usize, 8192, 0, 262144] {
            if off + 1376 > img.len() {
                continue;
            }
            let m = &img[off + 1372..off + 1376];
            for (be, ufs2, magic) in [
                (false, false, 0x0001_1954u32),
                (false, true, 0x1954_0119),
                (true, false, 0x0001_1954),
                (true, true, 0x1954_0119),
            ] {
                let bytes = if be {
                    magic.to_be_bytes()
                } else {
                    magic.to_le_bytes()
                };
                if m == bytes {
                    return RawSb { off, be, ufs2 };
                }
            }
        }
        panic!("no superblock");
    }
    fn get32(&self, img: &[u8], field: usize) -> u32 {
        let b: [u8; 4] = img[self.off + field..self.off + field + 4]
            .try_into()
            .unwrap();
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
    fn put32(&self, img: &mut [u8], field: usize, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        img[self.off + field..self.off + field + 4].copy_from_slice(&b);
    }
    fn put_at32(&self, img: &mut [u8], abs: usize, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        img[abs..abs + 4].copy_from_slice(&b);
    }
    fn put_at64(&self, img: &mut [u8], abs: usize, v: u64) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        img[abs..abs + 8].copy_from_slice(&b);
    }
    /// Byte offset of inode `ino` (cylinder group 0 only, as in these small images).
    fn inode_offset(&self, img: &[u8], ino: u64) -> usize {
        let ipg = u64::from(self.get32(img, 184));
        assert!(ino < ipg, "test helper handles cylinder group 0 only");
        let iblkno = u64::from(self.get32(img, 16));
        let fsize = u64::from(self.get32(img, 52));
        let isize = if self.ufs2 { 256 } else { 128 };
        (iblkno * fsize + ino * isize) as usize
    }
    /// Offset of the first block pointer in an inode.
    fn db_offset(&self) -> usize {
        if self.ufs2 {
            112
        } else {
            40
        }
    }
    fn ptr_size(&self) -> usize {
        if self.ufs2 {
            8
        } else {
            4
        }
    }
    fn get_ptr(&self, img: &[u8], abs: usize) -> u64 {
        if self.ufs2 {
            let b: [u8; 8] = img[abs..abs + 8].try_into().unwrap();
            if self.be {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            }
        } else {
            let b: [u8; 4] = img[abs..abs + 4].try_into().unwrap();
            u64::from(if self.be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        }
    }
    fn put_ptr(&self, img: &mut [u8], abs: usize, v: u64) {
        if self.ufs2 {
            self.put_at64(img, abs, v)
        } else {
            self.put_at32(img, abs, v as u32)
        }
    }
}

/// Build the image for one variant and check everything against the source tree.
fn full_variant(endian: &str, opts: &str, bs: usize, big: usize, flavour: &str) {
    let tree = build_tree(big, 1500, bs);
    let img = tree.img("fs.img");
    makefs(endian, opts, None, &tree.src, &img);
    let fs = open_path(&img);
    assert_eq!(fs.name(), flavour);
    let n = compare_dir(&*fs, fs.root(), &tree.src, &img);
    assert!(n > 1500, "compared {n} nodes");

    // Paths and symlinks through the shared resolver.
    assert_eq!(read(&*fs, "/shortlink"), FILE_TXT);
    assert_eq!(read(&*fs, "midlink"), FILE_TXT);
    assert_eq!(read(&*fs, "longlink"), FILE_TXT);
    assert_eq!(
        read(&*fs, "abslink"),
        fs::read(tree.src.join("boot/loader.conf")).unwrap()
    );
    assert_eq!(read(&*fs, "dir1/up").len(), big);
    assert!(matches!(
        path::resolve(&*fs, b"loopa", true),
        Err(rsgrub_fs::FsError::SymlinkLoop(_))
    ));
    assert_eq!(
        fs.metadata(node_nofollow(&*fs, "shortlink")).unwrap().kind,
        FileType::Symlink
    );
    // Short symlinks live in the inode: no extents to map.
    assert_eq!(
        fs.extents(node_nofollow(&*fs, "shortlink"), 0, 18).unwrap(),
        None
    );
    assert_eq!(fs.lookup(fs.root(), b"nonexistent").unwrap(), None);
    assert!(fs.read_dir(node(&*fs, "small.txt")).is_err());

    // Reads at odd offsets across block, indirect and double-indirect boundaries.
    let kernel = fs::read(tree.src.join("boot/kernel")).unwrap();
    let k = node(&*fs, "boot/kernel");
    let mut rng = Prng::new(3);
    for _ in 0..200 {
        let off = rng.below(kernel.len() as u64 + 10);
        let len = 1 + rng.below(300_000) as usize;
        let mut buf = vec![0u8; len];
        let got = fs.read_at(k, off, &mut buf).unwrap();
        let end = (off as usize + len).min(kernel.len());
        let want = if (off as usize) < kernel.len() {
            &kernel[off as usize..end]
        } else {
            &[][..]
        };
        assert_eq!(&buf[..got], want, "read at {off}+{len}");
    }
    // One read of the whole kernel needs a handful of device reads: its runs are merged.
    let exts = fs.extents(k, 0, kernel.len() as u64).unwrap().unwrap();
    assert!(
        exts.len() < kernel.len() / 65536 + 8,
        "{} extents for {} bytes",
        exts.len(),
        kernel.len()
    );

    // Identity: GRUB prints fs_id as %08x%08x; makefs sets no volume name.
    let raw = fs::read(&img).unwrap();
    let sb = RawSb::find(&raw);
    let uuid = format!("{:08x}{:08x}", sb.get32(&raw, 144), sb.get32(&raw, 148));
    assert_eq!(fs.uuid().as_deref(), Some(uuid.as_str()));
    assert_eq!(fs.label(), None);
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
}

/// Big file sizes: with 8 KiB blocks a UFS1 single indirect block maps 2048 blocks (16 MiB
/// beyond the 96 KiB of direct blocks), a UFS2 one 1024 (8 MiB); with 4 KiB blocks 1024
/// (4 MiB) and 512 (2 MiB). Each variant's kernel reaches into the double indirect range.
#[test]
fn ufs1_little_endian_default_geometry() {
    full_variant("le", "version=1", 8192, 17 << 20, "ufs1");
}

#[test]
fn ufs2_little_endian_default_geometry() {
    full_variant("le", "version=2", 8192, 9 << 20, "ufs2");
}

#[test]
fn ufs1_big_endian_4k_blocks() {
    full_variant(
        "be",
        "version=1,bsize=4096,fsize=512",
        4096,
        5 << 20,
        "ufs1_be",
    );
}

#[test]
fn ufs2_big_endian_4k_blocks() {
    full_variant(
        "be",
        "version=2,bsize=4096,fsize=512",
        4096,
        3 << 20,
        "ufs2",
    );
}

#[test]
fn ufs2_little_endian_64k_blocks() {
    full_variant(
        "le",
        "version=2,bsize=65536,fsize=8192",
        65536,
        1 << 20,
        "ufs2",
    );
}

// ---------------------------------------------------------------------------------------------
// Layout variants made from real images

/// A small image of the tree (a few files, kilobytes).
fn small_image(endian: &str, version: u32) -> (Tree, Vec<u8>) {
    let tree = build_tree(9000, 40, 4096);
    let img = tree.img("small.img");
    makefs(
        endian,
        &format!("version={version},bsize=4096,fsize=512"),
        Some("256k"),
        &tree.src,
        &img,
    );
    let bytes = fs::read(&img).unwrap();
    (tree, bytes)
}

#[test]
fn small_images_are_readable() {
    for (endian, version) in [("le", 1), ("be", 1), ("le", 2), ("be", 2)] {
        let (tree, bytes) = small_image(endian, version);
        assert!(bytes.len() <= 256 * 1024);
        let img = tree.img("small.img");
        let fs = open_bytes(bytes).unwrap();
        compare_dir(&*fs, fs.root(), &tree.src, &img);
    }
}

#[test]
fn ufs2_superblock_at_64k_and_stale_backups() {
    // A tree small enough to leave 64 KiB free.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("boot")).unwrap();
    fs::write(src.join("boot/kernel"), b"kernel bytes\n").unwrap();
    let tree = Tree { _dir: dir, src };
    let img = tree.img("small.img");
    makefs(
        "le",
        "version=2,bsize=4096,fsize=512",
        Some("256k"),
        &tree.src,
        &img,
    );
    let base = fs::read(&img).unwrap();
    let sb = RawSb::find(&base);
    assert_eq!(
        sb.off, 8192,
        "Debian's makefs writes the UFS2 superblock at 8 KiB"
    );
    // 1376 free (zero) bytes at 64 KiB hold a relocated copy.
    assert!(
        base[65536..65536 + 1376].iter().all(|&b| b == 0),
        "64 KiB is in use"
    );

    // Moved to 64 KiB with a matching fs_sblockloc: found there.
    let mut moved = base.clone();
    let (head, tail) = moved.split_at_mut(65536);
    tail[..1376].copy_from_slice(&head[8192..8192 + 1376]);
    tail[1000..1008].copy_from_slice(&65536u64.to_le_bytes());
    head[8192..8192 + 1376].fill(0);
    let fs = open_bytes(moved).unwrap();
    compare_dir(&*fs, fs.root(), &tree.src, &tree.img("small.img"));

    // A copy at 64 KiB whose fs_sblockloc says 8 KiB is a backup: skipped, and a corrupt one
    // does not hide the valid superblock at 8 KiB.
    let mut backup = base.clone();
    let (head, tail) = backup.split_at_mut(65536);
    tail[..1376].copy_from_slice(&head[8192..8192 + 1376]);
    tail[48..52].copy_from_slice(&0u32.to_le_bytes()); // bsize 0
    let fs = open_bytes(backup).unwrap();
    assert_eq!(
        fs.read_dir(fs.root()).unwrap().len(),
        fs::read_dir(&tree.src).unwrap().count()
    );

    // UFS2 magic at 8 KiB claiming to live elsewhere, and nothing else: rejected.
    let mut wrong = base;
    wrong[8192 + 1000..8192 + 1008].copy_from_slice(&65536u64.to_le_bytes());
    assert!(open_bytes(wrong.clone()).is_err());
    assert!(!ufs::probe(&wrong));
}

#[test]
fn ufs2_volume_label() {
    let (_tree, mut img) = small_image("be", 2);
    let sb = RawSb::find(&img);
    img[sb.off + 680..sb.off + 680 + 7].copy_from_slice(b"BOOTVOL");
    let fs = open_bytes(img.clone()).unwrap();
    assert_eq!(fs.label().as_deref(), Some("BOOTVOL"));
    // Zeroed fs_id: no uuid, as GRUB.
    sb.put32(&mut img, 144, 0);
    sb.put32(&mut img, 148, 0);
    assert_eq!(open_bytes(img).unwrap().uuid(), None);
}

/// Rewrite a 4.4BSD little-endian UFS1 image the way Solaris x86 lays it out: directory
/// records with a 16-bit `d_namlen` and no `d_type`, `fs_state = FSOKAY - fs_time` at 132,
/// no `fs_maxsymlinklen` (Solaris keeps `fs_version` there).
fn solarise(img: &mut [u8]) {
    let sb = RawSb::find(img);
    assert!(!sb.be && !sb.ufs2);
    // Directory blocks, located with the driver on the untouched image.
    let dirs: Vec<(u64, u64)> = {
        let fs = open_bytes(img.to_vec()).unwrap();
        let mut out = Vec::new();
        let mut stack = vec![fs.root()];
        while let Some(d) = stack.pop() {
            let m = fs.metadata(d).unwrap();
            for e in fs.extents(d, 0, m.size).unwrap().unwrap() {
                if let Extent::Mapped {
                    volume_offset, len, ..
                } = e
                {
                    out.push((volume_offset, len));
                }
            }
            for e in fs.read_dir(d).unwrap() {
                if e.kind == Some(FileType::Directory) {
                    stack.push(e.node);
                }
            }
        }
        out
    };
    for (off, len) in dirs {
        for chunk in img[off as usize..(off + len) as usize].chunks_mut(512) {
            let mut pos = 0;
            while pos < chunk.len() {
                let reclen = u16::from_le_bytes([chunk[pos + 4], chunk[pos + 5]]) as usize;
                let namlen = chunk[pos + 7];
                chunk[pos + 6] = namlen;
                chunk[pos + 7] = 0;
                pos += reclen;
            }
        }
    }
    let time = sb.get32(img, 32);
    sb.put32(img, 132, 0x7c26_9d38u32.wrapping_sub(time));
    sb.put32(img, 1320, 0);
}

#[test]
fn solaris_style_ufs1() {
    let (tree, mut img) = small_image("le", 1);
    solarise(&mut img);
    let path = tree.img("solaris.img");
    fs::write(&path, &img).unwrap();
    let fs = open_bytes(img).unwrap();
    assert_eq!(fs.name(), "ufs1");
    let n = compare_dir(&*fs, fs.root(), &tree.src, &path);
    assert!(n > 40);
    // Without d_type, entries carry no kind.
    assert!(fs
        .read_dir(fs.root())
        .unwrap()
        .iter()
        .all(|e| e.kind.is_none()));
}

// ---------------------------------------------------------------------------------------------
// Hostile images

#[test]
fn zeroed_and_truncated_images() {
    assert!(!ufs::probe(&vec![0u8; 300_000]));
    assert!(open_bytes(vec![0u8; 300_000]).is_err());
    let (_t, img) = small_image("le", 2);
    for len in [
        0usize,
        100,
        8192,
        8192 + 1000,
        9000,
        16384,
        40_000,
        100_000,
        img.len() - 1,
    ] {
        let cut = img[..len].to_vec();
        if let Ok(fs) = open_bytes(cut) {
            exercise(&*fs);
        }
    }
}

#[test]
fn bad_superblock_fields() {
    // (offset, name) of every geometry field the driver reads.
    let fields = [
        (16usize, "iblkno"),
        (24, "cgoffset"),
        (28, "cgmask"),
        (36, "old_size"),
        (44, "ncg"),
        (48, "bsize"),
        (52, "fsize"),
        (56, "frag"),
        (116, "nindir"),
        (120, "inopb"),
        (184, "ipg"),
        (188, "fpg"),
        (1320, "maxsymlinklen"),
        (8, "sblkno"),
        (1080, "size (lo/hi)"),
        (1084, "size (hi/lo)"),
    ];
    for (endian, version) in [("le", 1), ("be", 2)] {
        let (_t, base) = small_image(endian, version);
        let sb = RawSb::find(&base);
        let mut rejected = 0;
        for (off, name) in fields {
            for v in [0u32, 1, 0x7FFF_FFFF, 0x8000_0000, u32::MAX] {
                let mut img = base.clone();
                sb.put32(&mut img, off, v);
                match open_bytes(img) {
                    Ok(fs) => {
                        exercise(&*fs);
                    }
                    Err(_) => rejected += 1,
                }
                let _ = name;
            }
        }
        assert!(
            rejected >= 40,
            "{endian} v{version}: only {rejected} rejected"
        );
        // The essential ones are always rejected.
        for off in [44usize, 48, 52, 56, 116, 120, 184] {
            for v in [0u32, u32::MAX] {
                let mut img = base.clone();
                sb.put32(&mut img, off, v);
                assert!(open_bytes(img).is_err(), "field at {off} = {v:#x} accepted");
            }
        }
    }
}

#[test]
fn hostile_inodes_and_directories() {
    for (endian, version) in [("le", 1), ("be", 1), ("le", 2), ("be", 2)] {
        let (_t, base) = small_image(endian, version);
        let sb = RawSb::find(&base);
        let fs = open_bytes(base.clone()).unwrap();
        let medium = node(&*fs, "medium.bin");
        let kernel = node(&*fs, "thirteen.bin");
        let root_off = sb.inode_offset(&base, 2);
        let db = sb.db_offset();
        let ps = sb.ptr_size();
        drop(fs);

        // A direct pointer far outside the filesystem: reads fail, nothing panics.
        let mut img = base.clone();
        let ioff = sb.inode_offset(&img, medium);
        sb.put_ptr(&mut img, ioff + db, 0xFFFF_FFF0);
        let fs = open_bytes(img).unwrap();
        let mut buf = vec![0u8; 4096];
        assert!(fs.read_at(medium, 0, &mut buf).is_err());
        assert!(fs.extents(medium, 0, 4096).is_err());
        exercise(&*fs);

        // The single indirect block pointing at itself: bounded, no panic.
        let mut img = base.clone();
        let ioff = sb.inode_offset(&img, kernel);
        let ind = sb.get_ptr(&img, ioff + db + 12 * ps);
        assert_ne!(ind, 0, "kernel uses its indirect block");
        let fsize = u64::from(sb.get32(&img, 52));
        let ind_off = (ind * fsize) as usize;
        sb.put_ptr(&mut img, ind_off, ind);
        // ... and the double indirect pointer at the same block: two levels of loop.
        sb.put_ptr(&mut img, ioff + db + 13 * ps, ind);
        sb.put_at64(
            &mut img,
            ioff + 8 * (1 + usize::from(version == 2)),
            1 << 40,
        ); // size
        let fs = open_bytes(img).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let n = fs.read_at(kernel, 0, &mut buf).unwrap();
        assert_eq!(n, buf.len());
        let _ = fs.read_at(kernel, 40 << 20, &mut buf);
        let _ = fs.extents(kernel, 0, 1 << 30);
        exercise(&*fs);

        // A huge size on a directory: refused, not scanned.
        let mut img = base.clone();
        sb.put_at64(
            &mut img,
            root_off + 8 * (1 + usize::from(version == 2)),
            u64::MAX >> 1,
        );
        if let Ok(fs) = open_bytes(img) {
            assert!(fs.read_dir(fs.root()).is_err());
        }

        // Root directory record lengths: 0, odd, past the chunk.
        let root_block = sb.get_ptr(&base, root_off + db);
        let dir_off = (root_block * fsize) as usize;
        for bad in [0u16, 3, 514, 0xFFFF] {
            let mut img = base.clone();
            // The second record (`..`) starts at 12.
            let b = if sb.be {
                bad.to_be_bytes()
            } else {
                bad.to_le_bytes()
            };
            img[dir_off + 12 + 4..dir_off + 12 + 6].copy_from_slice(&b);
            if let Ok(fs) = open_bytes(img) {
                assert!(fs.read_dir(fs.root()).is_err(), "reclen {bad} accepted");
                assert!(fs.lookup(fs.root(), b"small.txt").is_err());
                exercise(&*fs);
            }
        }
        // A name length longer than its record.
        let mut img = base.clone();
        img[dir_off + 12 + 7] = 200;
        let fs = open_bytes(img).unwrap();
        assert!(fs.read_dir(fs.root()).is_err());

        // The root inode turned into a regular file or freed: refused at open.
        for mode in [0o100644u16, 0] {
            let mut img = base.clone();
            let b = if sb.be {
                mode.to_be_bytes()
            } else {
                mode.to_le_bytes()
            };
            img[root_off..root_off + 2].copy_from_slice(&b);
            assert!(open_bytes(img).is_err());
        }

        // Directory entries naming inode 0xFFFFFFFF: listed, but metadata fails.
        let mut img = base.clone();
        sb.put_at32(&mut img, dir_off + 24, u32::MAX);
        let fs = open_bytes(img).unwrap();
        exercise(&*fs);
    }
}

/// makefs cannot make a file big enough for a triple indirect block in a small image, so
/// one is grafted onto a real one: `thirteen.bin`'s `ib[2]` gets a chain of three indirect
/// blocks (borrowed from `twelve.bin`'s data) ending at `thirteen.bin`'s first data block.
#[test]
fn triple_indirect_block_map() {
    for (endian, version) in [("le", 1), ("be", 2)] {
        let (tree, mut img) = small_image(endian, version);
        let sb = RawSb::find(&img);
        let fs = open_bytes(img.clone()).unwrap();
        let thirteen = node(&*fs, "thirteen.bin");
        let twelve = node(&*fs, "twelve.bin");
        drop(fs);
        let fsize = u64::from(sb.get32(&img, 52));
        let bsize = u64::from(sb.get32(&img, 48));
        let ps = sb.ptr_size();
        let n = bsize / ps as u64;
        let db = sb.db_offset();
        let t_ino = sb.inode_offset(&img, thirteen);
        let w_ino = sb.inode_offset(&img, twelve);
        let scratch: Vec<u64> = (0..3)
            .map(|i| sb.get_ptr(&img, w_ino + db + i * ps))
            .collect();
        let data0 = sb.get_ptr(&img, t_ino + db);
        for &b in &scratch {
            let o = (b * fsize) as usize;
            img[o..o + bsize as usize].fill(0);
        }
        sb.put_ptr(&mut img, t_ino + db + 14 * ps, scratch[0]);
        sb.put_ptr(&mut img, (scratch[0] * fsize) as usize + ps, scratch[1]);
        sb.put_ptr(&mut img, (scratch[1] * fsize) as usize + 2 * ps, scratch[2]);
        sb.put_ptr(&mut img, (scratch[2] * fsize) as usize + 3 * ps, data0);
        // Triple range starts at 12 + n + n²; index (1, 2, 3) inside it.
        let lblk = 12 + n + n * n + n * n + 2 * n + 3;
        let size_off = t_ino + 8 * (1 + usize::from(version == 2));
        sb.put_at64(&mut img, size_off, (lblk + 1) * bsize);
        let fs = open_bytes(img.clone()).unwrap();
        let want = fs::read(tree.src.join("thirteen.bin")).unwrap();
        let mut buf = vec![0u8; bsize as usize];
        assert_eq!(
            fs.read_at(thirteen, lblk * bsize, &mut buf).unwrap(),
            buf.len()
        );
        assert_eq!(buf[..], want[..bsize as usize]);
        // The block before it is a hole; the start of the file is intact.
        fs.read_at(thirteen, (lblk - 1) * bsize, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        fs.read_at(thirteen, 0, &mut buf).unwrap();
        assert_eq!(buf[..], want[..bsize as usize]);
        assert_eq!(
            fs.extents(thirteen, lblk * bsize, bsize).unwrap().unwrap(),
            vec![Extent::Mapped {
                file_offset: lblk * bsize,
                volume_offset: data0 * fsize,
                len: bsize
            }]
        );
        // A size past what triple indirection addresses: reading there is an error.
        let top = 12 + n + n * n + n * n * n;
        sb.put_at64(&mut img, size_off, (top + 2) * bsize);
        let fs = open_bytes(img).unwrap();
        assert!(fs.read_at(thirteen, top * bsize, &mut buf).is_err());
    }
}

/// Byte offsets in `[0, len)` holding no regular file's data (metadata and free space).
fn metadata_positions(img: &[u8]) -> Vec<usize> {
    let fs = open_bytes(img.to_vec()).unwrap();
    let mut is_data = vec![false; img.len()];
    let mut stack = vec![(fs.root(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        for e in fs.read_dir(dir).unwrap() {
            let m = fs.metadata(e.node).unwrap();
            match m.kind {
                FileType::Directory if depth < 8 => stack.push((e.node, depth + 1)),
                FileType::Regular => {
                    for x in fs.extents(e.node, 0, m.size).unwrap().unwrap_or_default() {
                        if let Extent::Mapped {
                            volume_offset, len, ..
                        } = x
                        {
                            let s = (volume_offset as usize).min(img.len());
                            let t = ((volume_offset + len) as usize).min(img.len());
                            is_data[s..t].fill(true);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (0..img.len()).filter(|&i| !is_data[i]).collect()
}

#[test]
fn random_corruption_never_panics() {
    // RSGRUB_FUZZ_ITERATIONS raises the count for a longer ad-hoc run.
    let iterations: u64 = std::env::var("RSGRUB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(750);
    for (n, (endian, version)) in [("le", 1), ("be", 1), ("le", 2), ("be", 2)]
        .into_iter()
        .enumerate()
    {
        let (_t, base) = small_image(endian, version);
        let meta = metadata_positions(&base);
        let sb = RawSb::find(&base).off;
        let mut rng = Prng::new(0xF00D + n as u64);
        let mut opened = 0u64;
        let mut walked = 0u64;
        for _ in 0..iterations {
            let mut img = base.clone();
            for _ in 0..1 + rng.below(8) {
                // A quarter on the superblock, the rest on metadata (inodes, directories,
                // indirect blocks, cylinder groups).
                let pos = match rng.below(4) {
                    0 => sb + rng.below(1376) as usize,
                    _ => meta[rng.below(meta.len() as u64) as usize],
                };
                img[pos] = if rng.below(2) == 0 {
                    img[pos] ^ (1 << rng.below(8))
                } else {
                    rng.next() as u8
                };
            }
            if let Ok(fs) = open_bytes(img) {
                opened += 1;
                let st = exercise(&*fs);
                walked += st.dirs + st.files;
            }
        }
        eprintln!("{endian} v{version}: opened {opened}/{iterations}, {walked} nodes walked");
        assert!(opened > iterations / 4, "only {opened} opened");
    }
}

/// Regenerate the fuzz seed corpus (`fuzz/corpus/fs_ufs/`): 256 KiB makefs images.
#[test]
#[ignore = "writes fuzz/corpus/fs_ufs; run with --ignored"]
fn write_fuzz_corpus() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_ufs");
    fs::create_dir_all(&out).unwrap();
    for (endian, version) in [("le", 1), ("be", 1), ("le", 2), ("be", 2)] {
        let (_t, bytes) = small_image(endian, version);
        assert!(bytes.len() <= 256 << 10);
        let fs = open_bytes(bytes.clone()).unwrap();
        assert_eq!(exercise(&*fs).errors, 0);
        fs::write(out.join(format!("ufs{version}-{endian}-4k.bin")), &bytes).unwrap();
    }
    let (_t, mut sol) = small_image("le", 1);
    solarise(&mut sol);
    fs::write(out.join("ufs1-solaris-style.bin"), &sol).unwrap();
}
