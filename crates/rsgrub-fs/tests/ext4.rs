//! ext2/3/4 driver tests against images built by the real e2fsprogs (`mkfs.ext4 -d`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::{tool, Prng};
use rsgrub_fs::{ext4, path, Extent, FileType, Filesystem, FsError, NodeId};
use rsgrub_io::{DynReader, FileReader};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// `mkfs.<kind> -q -F ARGS -d SRC IMG SIZE`.
fn mkfs(kind: &str, args: &[&str], src: &Path, img: &Path, size: &str) {
    run(Command::new(tool(&format!("mkfs.{kind}")))
        .arg("-q")
        .arg("-F")
        .args(args)
        .arg("-d")
        .arg(src)
        .arg(img)
        .arg(size)
        .stdin(std::process::Stdio::null()));
}

fn open_file(img: &Path) -> Box<dyn Filesystem> {
    let r: DynReader = Arc::new(FileReader::new(File::open(img).unwrap()).unwrap());
    assert!(ext4::probe(&*r));
    rsgrub_fs::open(r).unwrap()
}

fn open_bytes(img: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let r: DynReader = Arc::new(img);
    ext4::open(r)
}

fn node(fs: &dyn Filesystem, p: &str) -> NodeId {
    path::resolve(fs, p.as_bytes(), true).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn read(fs: &dyn Filesystem, p: &str) -> Vec<u8> {
    path::read_file(fs, p.as_bytes(), 1 << 30).unwrap_or_else(|e| panic!("{p}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The test tree

const SMALL: &[u8] = b"tiny\n";
const FILE_TXT: &[u8] = b"hello from dir1/dir2\n";
const FAST_TARGET: &str = "dir1/dir2/file.txt";
const ABS_TARGET: &str = "/dir1/dir2/file.txt";
const UP_TARGET: &str = "../../../../../dir1/./dir2/file.txt";
const SPARSE_LEN: u64 = 16 << 20;
const SPARSE_MARKS: &[(u64, &[u8])] = &[
    (0, b"HEAD"),
    (7 * 1024 * 1024 + 123, b"MIDDLE"),
    (SPARSE_LEN - 4, b"TAIL"),
];

fn slow_target() -> String {
    format!("{}dir1/dir2/../dir2/file.txt", "./".repeat(30))
}

struct Tree {
    _dir: TempDir,
    src: PathBuf,
    big: Vec<u8>,
    indirect: Vec<u8>,
    medium: Vec<u8>,
    many: usize,
}

struct TreeOpts {
    big: usize,
    indirect: usize,
    many: usize,
}

const FULL: TreeOpts = TreeOpts {
    big: 5 << 20,
    indirect: 20 << 20,
    many: 5000,
};

fn build_tree(o: &TreeOpts) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("dir1/dir2/dir3")).unwrap();
    fs::create_dir_all(src.join("many")).unwrap();
    fs::create_dir_all(src.join("emptydir")).unwrap();
    let mut rng = Prng::new(7);
    let big = rng.bytes(o.big);
    let indirect = rng.bytes(o.indirect);
    let medium = rng.bytes(100);
    fs::write(src.join("big.bin"), &big).unwrap();
    fs::write(src.join("indirect.bin"), &indirect).unwrap();
    fs::write(src.join("small.txt"), SMALL).unwrap();
    fs::write(src.join("medium.bin"), &medium).unwrap();
    fs::write(src.join("empty"), b"").unwrap();
    fs::write(src.join("dir1/dir2/file.txt"), FILE_TXT).unwrap();
    fs::write(src.join("dir1/dir2/dir3/deep.txt"), b"deep\n").unwrap();

    let f = File::create(src.join("sparse.bin")).unwrap();
    f.set_len(SPARSE_LEN).unwrap();
    for (off, data) in SPARSE_MARKS {
        f.write_all_at(data, *off).unwrap();
    }
    drop(f);

    use std::os::unix::fs::symlink;
    symlink(FAST_TARGET, src.join("fastlink")).unwrap();
    symlink(slow_target(), src.join("slowlink")).unwrap();
    symlink(ABS_TARGET, src.join("abslink")).unwrap();
    symlink(UP_TARGET, src.join("dir1/up")).unwrap();
    symlink("loopb", src.join("loopa")).unwrap();
    symlink("loopa", src.join("loopb")).unwrap();
    symlink("dir1/dir2", src.join("dirlink")).unwrap();
    for i in 0..o.many {
        fs::write(
            src.join(format!("many/file_{i:05}")),
            format!("content {i}\n"),
        )
        .unwrap();
    }
    Tree {
        _dir: dir,
        src,
        big,
        indirect,
        medium,
        many: o.many,
    }
}

fn image_of(tree: &Tree, kind: &str, args: &[&str], size: &str) -> PathBuf {
    let img = tree.src.parent().unwrap().join("fs.img");
    mkfs(kind, args, &tree.src, &img, size);
    img
}

/// Check `extents()` over `[0, len)` of `p`: contiguous coverage, and mapped bytes read from
/// the image itself equal the file.
fn check_extents(fs: &dyn Filesystem, img: &Path, p: &str, want: &[u8]) -> Vec<Extent> {
    let n = node(fs, p);
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
                assert_eq!(file_offset, pos, "{p}: gap before {e:?}");
                let mut buf = vec![0u8; len as usize];
                image.read_exact_at(&mut buf, volume_offset).unwrap();
                assert!(
                    buf == want[file_offset as usize..(file_offset + len) as usize],
                    "{p}: bytes at {e:?} differ"
                );
                pos += len;
            }
            Extent::Hole { file_offset, len } => {
                assert_eq!(file_offset, pos, "{p}: gap before {e:?}");
                assert!(want[file_offset as usize..(file_offset + len) as usize]
                    .iter()
                    .all(|&b| b == 0));
                pos += len;
            }
        }
    }
    assert_eq!(pos, want.len() as u64, "{p}: extents cover {pos} bytes");
    // Neighbours are merged: no two adjacent mapped extents are contiguous on the volume.
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
            assert_ne!(a + len, b, "{p}: unmerged extents {w:?}");
        }
        assert!(
            !matches!((w[0], w[1]), (Extent::Hole { .. }, Extent::Hole { .. })),
            "{p}: unmerged holes"
        );
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
    exts
}

/// Everything the tree promises, through the public API.
fn check_tree(fs: &dyn Filesystem, img: &Path, tree: &Tree) {
    let root = fs.root();
    let meta = fs.metadata(root).unwrap();
    assert_eq!(meta.kind, FileType::Directory);

    // Root listing.
    let names: HashSet<Vec<u8>> = fs
        .read_dir(root)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    for want in [
        "big.bin",
        "indirect.bin",
        "small.txt",
        "medium.bin",
        "empty",
        "sparse.bin",
        "dir1",
        "many",
        "emptydir",
        "fastlink",
        "slowlink",
        "abslink",
        "loopa",
        "loopb",
        "dirlink",
        "lost+found",
    ] {
        assert!(names.contains(want.as_bytes()), "root lacks {want}");
    }
    assert!(!names.contains(&b"."[..]) && !names.contains(&b".."[..]));
    assert!(fs.read_dir(node(fs, "emptydir")).unwrap().is_empty());

    // File contents.
    assert!(read(fs, "/big.bin") == tree.big, "big.bin differs");
    assert!(
        read(fs, "indirect.bin") == tree.indirect,
        "indirect.bin differs"
    );
    assert_eq!(read(fs, "small.txt"), SMALL);
    assert_eq!(read(fs, "medium.bin"), tree.medium);
    assert_eq!(read(fs, "empty"), b"");
    assert_eq!(read(fs, "dir1/dir2/dir3/deep.txt"), b"deep\n");

    // Odd-sized chunked reads agree with one big read.
    let big = node(fs, "big.bin");
    let mut pos = 0usize;
    let mut buf = vec![0u8; 65_537];
    while pos < tree.big.len() {
        let n = fs.read_at(big, pos as u64, &mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n] == tree.big[pos..pos + n], "chunk at {pos}");
        pos += n;
    }
    assert_eq!(fs.read_at(big, pos as u64, &mut buf).unwrap(), 0);
    assert_eq!(fs.read_at(big, u64::MAX, &mut buf).unwrap(), 0);
    let mut one = [0u8; 1];
    assert_eq!(fs.read_at(big, 4095, &mut one).unwrap(), 1);
    assert_eq!(one[0], tree.big[4095]);

    // Sparse file: zeros between the marks, and holes in the mapping.
    let sparse = read(fs, "sparse.bin");
    let mut want = vec![0u8; SPARSE_LEN as usize];
    for (off, data) in SPARSE_MARKS {
        want[*off as usize..*off as usize + data.len()].copy_from_slice(data);
    }
    assert!(sparse == want, "sparse.bin differs");
    let exts = check_extents(fs, img, "sparse.bin", &want);
    assert!(exts.iter().any(|e| matches!(e, Extent::Hole { .. })));
    let mapped: u64 = exts
        .iter()
        .map(|e| match e {
            Extent::Mapped { len, .. } => *len,
            Extent::Hole { .. } => 0,
        })
        .sum();
    assert!(mapped < 1 << 20, "sparse file maps {mapped} bytes");

    // Zero-copy mapping of the big files.
    check_extents(fs, img, "big.bin", &tree.big);
    check_extents(fs, img, "indirect.bin", &tree.indirect);

    // Symlinks.
    let fast = path::resolve(fs, b"fastlink", false).unwrap();
    assert_eq!(fs.metadata(fast).unwrap().kind, FileType::Symlink);
    assert_eq!(fs.metadata(fast).unwrap().size, FAST_TARGET.len() as u64);
    assert_eq!(fs.read_link(fast).unwrap(), FAST_TARGET.as_bytes());
    let slow = path::resolve(fs, b"slowlink", false).unwrap();
    assert_eq!(fs.read_link(slow).unwrap(), slow_target().as_bytes());
    assert!(slow_target().len() > 60);
    let abs = path::resolve(fs, b"abslink", false).unwrap();
    assert_eq!(fs.read_link(abs).unwrap(), ABS_TARGET.as_bytes());
    for p in [
        "fastlink",
        "slowlink",
        "abslink",
        "dir1/up",
        "dirlink/file.txt",
    ] {
        assert_eq!(read(fs, p), FILE_TXT, "{p}");
    }
    assert_eq!(
        node(fs, "dirlink/dir3/../file.txt"),
        node(fs, "dir1/dir2/file.txt")
    );
    assert!(matches!(
        path::resolve(fs, b"loopa", true),
        Err(FsError::SymlinkLoop(_))
    ));
    assert!(matches!(
        path::read_file(fs, b"/loopb/x", 100),
        Err(FsError::SymlinkLoop(_))
    ));
    assert!(fs.read_link(node(fs, "small.txt")).is_err());

    // `..` is clamped at the root.
    assert_eq!(node(fs, "../../.."), root);
    assert_eq!(node(fs, "/../../../dir1/../dir1/dir2/../.."), root);
    assert_eq!(read(fs, "../../../dir1/../dir1/dir2/file.txt"), FILE_TXT);

    // Errors.
    assert!(matches!(
        path::resolve(fs, b"nope", true),
        Err(FsError::NotFound(_))
    ));
    assert!(matches!(
        path::resolve(fs, b"small.txt/x", true),
        Err(FsError::NotADirectory(_))
    ));
    assert!(matches!(
        path::read_file(fs, b"dir1", 100),
        Err(FsError::NotAFile(_))
    ));
    assert!(matches!(
        fs.read_dir(node(fs, "small.txt")),
        Err(FsError::NotADirectory(_))
    ));
    for bad in [0u64, u64::from(u32::MAX), u64::MAX] {
        assert!(
            matches!(fs.metadata(bad), Err(FsError::Corrupt { .. })),
            "inode {bad}"
        );
    }

    // The big directory (htree on ext3/4).
    let many = node(fs, "many");
    let entries = fs.read_dir(many).unwrap();
    assert_eq!(entries.len(), tree.many);
    let uniq: HashSet<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
    assert_eq!(uniq.len(), tree.many);
    assert!(entries
        .iter()
        .all(|e| e.kind.is_none() || e.kind == Some(FileType::Regular)));
    let pick = tree.many * 2 / 3;
    let name = format!("file_{pick:05}");
    let hit = fs.lookup(many, name.as_bytes()).unwrap().expect("lookup");
    assert_eq!(
        entries
            .iter()
            .find(|e| e.name == name.as_bytes())
            .unwrap()
            .node,
        hit
    );
    assert_eq!(
        read(fs, &format!("many/{name}")),
        format!("content {pick}\n").as_bytes()
    );
    assert_eq!(fs.lookup(many, b"file_99999x").unwrap(), None);
    assert_eq!(fs.lookup(many, b".").unwrap(), None);

    // Directory kinds from the filetype byte.
    let d1 = fs.read_dir(node(fs, "dir1")).unwrap();
    let up = d1.iter().find(|e| e.name == b"up").unwrap();
    let dir2 = d1.iter().find(|e| e.name == b"dir2").unwrap();
    assert_eq!(up.kind, Some(FileType::Symlink));
    assert_eq!(dir2.kind, Some(FileType::Directory));
}

/// Build the full tree into an image and check it twice: as mke2fs wrote it (linear
/// directories), then after `e2fsck -fyD` has rebuilt the big directory as an htree.
fn full_variant(kind: &str, args: &[&str], size: &str) -> (Tree, PathBuf, Box<dyn Filesystem>) {
    let tree = build_tree(&FULL);
    let img = image_of(&tree, kind, args, size);
    check_tree(&*open_file(&img), &img, &tree);

    let out = Command::new(tool("e2fsck"))
        .arg("-fyD")
        .arg(&img)
        .output()
        .unwrap();
    // 0: clean, 1: modified (the directory optimisation).
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "e2fsck: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stat = run(Command::new(tool("debugfs"))
        .arg("-R")
        .arg("stat /many")
        .arg(&img));
    let flags = stat
        .split("Flags: 0x")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .unwrap_or_else(|| panic!("debugfs: {stat}"));
    assert!(
        flags & 0x1000 != 0,
        "many/ is not an htree: flags {flags:#x}"
    );
    let fs = open_file(&img);
    check_tree(&*fs, &img, &tree);
    (tree, img, fs)
}

// ---------------------------------------------------------------------------------------------
// Variants

#[test]
fn ext4_default() {
    let uuid = "0123abcd-4567-89ef-fedc-ba9876543210";
    let (_t, _img, fs) = full_variant("ext4", &["-U", uuid, "-L", "rsgrub-root"], "160M");
    assert_eq!(fs.name(), "ext4");
    assert_eq!(fs.uuid().as_deref(), Some(uuid));
    assert_eq!(fs.label().as_deref(), Some("rsgrub-root"));
    // metadata_csum is on by default: the superblock checksum verifies.
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
}

#[test]
fn ext4_1k_blocks() {
    let (_t, _img, fs) = full_variant("ext4", &["-b", "1024"], "160M");
    assert_eq!(fs.name(), "ext4");
    assert_eq!(fs.label(), None);
    assert!(fs.uuid().unwrap().len() == 36);
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
}

#[test]
fn ext4_without_extents() {
    let (_t, _img, fs) = full_variant("ext4", &["-O", "^extents,^64bit"], "160M");
    assert_eq!(fs.name(), "ext4");
}

#[test]
fn ext2_1k_blocks_double_indirect() {
    // 20 MiB in 1 KiB blocks needs the double-indirect tree (12 + 256 + 65536 blocks).
    let (_t, _img, fs) = full_variant("ext2", &["-b", "1024", "-I", "128"], "160M");
    assert_eq!(fs.name(), "ext2");
}

#[test]
fn ext2_triple_indirect() {
    // With 1 KiB blocks, past 12 + 256 + 65536 blocks (~65 MiB) the triple-indirect tree starts.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut f = File::create(src.join("huge")).unwrap();
    let len: u64 = 70 << 20;
    f.set_len(len).unwrap();
    let tail = Prng::new(3).bytes(3 << 20);
    let tail_at = len - tail.len() as u64;
    f.seek(SeekFrom::Start(tail_at)).unwrap();
    f.write_all(&tail).unwrap();
    f.write_all_at(b"start", 0).unwrap();
    drop(f);
    let img = dir.path().join("fs.img");
    mkfs("ext2", &["-b", "1024"], &src, &img, "32M");
    let fs = open_file(&img);
    let data = read(&*fs, "huge");
    assert_eq!(data.len() as u64, len);
    assert_eq!(&data[..5], b"start");
    assert!(data[5..tail_at as usize].iter().all(|&b| b == 0));
    assert!(data[tail_at as usize..] == tail[..]);
    let mut want = vec![0u8; len as usize];
    want[..5].copy_from_slice(b"start");
    want[tail_at as usize..].copy_from_slice(&tail);
    check_extents(&*fs, &img, "huge", &want);
}

#[test]
fn ext3_default() {
    let (_t, _img, fs) = full_variant("ext3", &[], "160M");
    assert_eq!(fs.name(), "ext3");
}

#[test]
fn ext4_inline_data() {
    let (_t, img, fs) = full_variant("ext4", &["-O", "inline_data"], "160M");
    // Small files live in the inode: no extents to hand out.
    for p in ["small.txt", "medium.bin", "dir1/dir2/file.txt"] {
        assert_eq!(fs.extents(node(&*fs, p), 0, 1000).unwrap(), None, "{p}");
    }
    // Inline directory (dir1 has two entries).
    let names: Vec<Vec<u8>> = fs
        .read_dir(node(&*fs, "dir1"))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let out = run(Command::new(tool("debugfs"))
        .arg("-R")
        .arg("stat /dir1")
        .arg(&img));
    assert!(
        out.contains("Flags: 0x10000000"),
        "dir1 is not inline: {out}"
    );
}

#[test]
fn ext4_meta_bg() {
    let (_t, img, fs) = full_variant(
        "ext4",
        &["-b", "1024", "-g", "2048", "-O", "meta_bg,^resize_inode"],
        "160M",
    );
    let out = run(Command::new(tool("dumpe2fs")).arg("-h").arg(&img));
    assert!(out.contains("meta_bg"), "{out}");
    // Inodes from every group are reachable: the many/ entries spread over groups.
    let many = node(&*fs, "many");
    for e in fs.read_dir(many).unwrap() {
        assert_eq!(fs.metadata(e.node).unwrap().kind, FileType::Regular);
    }
}

#[test]
fn ext4_64k_blocks_and_bigalloc() {
    let small = TreeOpts {
        big: 3 << 20,
        indirect: 1 << 20,
        many: 300,
    };
    for args in [&["-b", "65536"][..], &["-O", "bigalloc"][..]] {
        let tree = build_tree(&small);
        let img = image_of(&tree, "ext4", args, "160M");
        let fs = open_file(&img);
        check_tree(&*fs, &img, &tree);
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile images

fn small_image(kind: &str, args: &[&str], size: &str) -> (TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("a/b/c")).unwrap();
    fs::create_dir_all(src.join("list")).unwrap();
    let mut rng = Prng::new(11);
    fs::write(src.join("kernel"), rng.bytes(300 * 1024)).unwrap();
    fs::write(src.join("a/b/c/conf"), b"menuentry x {}\n").unwrap();
    fs::write(src.join("a/tiny"), b"t").unwrap();
    fs::write(src.join("a/medium"), rng.bytes(90)).unwrap();
    for i in 0..60 {
        fs::write(src.join(format!("list/entry-{i}")), rng.bytes(i * 37)).unwrap();
    }
    let f = File::create(src.join("holey")).unwrap();
    f.set_len(200 * 1024).unwrap();
    f.write_all_at(b"x", 100 * 1024).unwrap();
    drop(f);
    use std::os::unix::fs::symlink;
    symlink("a/b/c/conf", src.join("fast")).unwrap();
    symlink(format!("{}a/b/c/conf", "./".repeat(40)), src.join("slow")).unwrap();
    symlink("l2", src.join("l1")).unwrap();
    symlink("l1", src.join("l2")).unwrap();
    symlink("../../../../kernel", src.join("a/b/up")).unwrap();
    let img = dir.path().join("fs.img");
    mkfs(kind, args, &src, &img, size);
    let bytes = fs::read(&img).unwrap();
    (dir, bytes)
}

const PATHS: &[&str] = &[
    "kernel",
    "a/b/c/conf",
    "a/tiny",
    "a/medium",
    "holey",
    "fast",
    "slow",
    "l1",
    "a/b/up",
    "list/entry-30",
    "../../a/../a/b/c/conf",
];

/// Touch everything reachable, with bounded work. Errors are fine; panics and hangs are not.
fn exercise(fs: &dyn Filesystem) {
    let mut budget = 400u32;
    walk(fs, fs.root(), 0, &mut budget);
    for p in PATHS {
        let _ = path::resolve(fs, p.as_bytes(), true);
        let _ = path::resolve(fs, p.as_bytes(), false);
        let _ = path::read_file(fs, p.as_bytes(), 4 << 20);
    }
    let _ = fs.uuid();
    let _ = fs.label();
    let _ = fs.warnings();
}

fn walk(fs: &dyn Filesystem, dir: NodeId, depth: u32, budget: &mut u32) {
    if depth > 6 || *budget == 0 {
        return;
    }
    *budget -= 1;
    let Ok(entries) = fs.read_dir(dir) else {
        return;
    };
    for e in entries.iter().take(80) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let _ = fs.lookup(dir, &e.name);
        let Ok(m) = fs.metadata(e.node) else {
            continue;
        };
        match m.kind {
            FileType::Directory => walk(fs, e.node, depth + 1, budget),
            FileType::Symlink => {
                let _ = fs.read_link(e.node);
            }
            FileType::Regular => {
                let mut buf = vec![0u8; m.size.min(4 << 20) as usize];
                let tail_len = buf.len().min(64);
                let _ = fs.read_at(e.node, 0, &mut buf);
                let _ = fs.read_at(e.node, m.size.saturating_sub(10), &mut buf[..tail_len]);
                let _ = fs.extents(e.node, 0, m.size);
                let _ = fs.extents(e.node, 0, u64::MAX);
            }
            FileType::Other => {
                let _ = fs.read_at(e.node, 0, &mut [0u8; 16]);
            }
        }
    }
}

fn put32(img: &mut [u8], off: usize, v: u32) {
    img[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

const SB: usize = 1024;

#[test]
fn small_images_are_readable() {
    // The fuzz bases themselves must be fully readable, so the fuzzing starts from good data.
    for (kind, args) in fuzz_bases() {
        let (_d, img) = small_image(kind, &args, "1M");
        let fs = open_bytes(img).unwrap();
        for p in PATHS
            .iter()
            .filter(|p| !p.starts_with('l') || p.starts_with("list"))
        {
            path::read_file(&*fs, p.as_bytes(), 1 << 20).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        assert!(matches!(
            path::resolve(&*fs, b"l1", true),
            Err(FsError::SymlinkLoop(_))
        ));
        exercise(&*fs);
    }
}

#[test]
fn zeroed_superblock() {
    let (_d, mut img) = small_image("ext4", &[], "1M");
    img[SB..2 * SB].fill(0);
    let r: DynReader = Arc::new(img.clone());
    assert!(!ext4::probe(&*r));
    assert!(matches!(rsgrub_fs::open(r), Err(FsError::Unrecognised)));
    assert!(matches!(open_bytes(img), Err(FsError::Corrupt { .. })));
}

#[test]
fn truncated_images() {
    let (_d, img) = small_image("ext4", &["-b", "1024"], "1M");
    for len in [
        0usize,
        100,
        1100,
        2047,
        2048,
        4096,
        10_000,
        65_536,
        200_000,
        500_000,
        img.len() - 1,
    ] {
        let cut = img[..len].to_vec();
        match open_bytes(cut) {
            Ok(fs) => {
                assert!(fs.warnings().iter().any(|w| w.contains("volume")), "{len}");
                exercise(&*fs);
            }
            Err(e) => assert!(len < 65_536, "{len}: {e}"),
        }
    }
    // The tail of the kernel is past a cut in the middle: reading it fails cleanly.
    let fs = open_bytes(img[..200_000].to_vec()).unwrap();
    assert!(path::read_file(&*fs, b"kernel", 1 << 20).is_err());
}

#[test]
fn bad_geometry_is_rejected() {
    let (_d, img) = small_image("ext4", &[], "1M");
    let corrupt = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = img.clone();
        f(&mut m);
        open_bytes(m)
    };
    // Block size 2^(10+20).
    assert!(matches!(
        corrupt(&|m| put32(m, SB + 0x18, 20)),
        Err(FsError::Corrupt { .. })
    ));
    assert!(matches!(
        corrupt(&|m| put32(m, SB + 0x18, u32::MAX)),
        Err(FsError::Corrupt { .. })
    ));
    // No inodes per group, or absurdly many.
    assert!(matches!(
        corrupt(&|m| put32(m, SB + 0x28, 0)),
        Err(FsError::Corrupt { .. })
    ));
    assert!(matches!(
        corrupt(&|m| put32(m, SB + 0x28, u32::MAX)),
        Err(FsError::Corrupt { .. })
    ));
    assert!(matches!(
        corrupt(&|m| put32(m, SB + 0x20, 0)),
        Err(FsError::Corrupt { .. })
    ));
    // Huge group count: 2^48 blocks, one per group.
    assert!(matches!(
        corrupt(&|m| {
            put32(m, SB + 0x20, 1);
            put32(m, SB + 0x04, u32::MAX);
            put32(m, SB + 0x150, 0xFFFF);
        }),
        Err(FsError::Corrupt { .. })
    ));
    // ~4 billion groups with 32-bit counts.
    assert!(matches!(
        corrupt(&|m| {
            put32(m, SB + 0x20, 1);
            put32(m, SB + 0x04, u32::MAX);
            put32(m, SB + 0x150, 0);
        }),
        Err(FsError::Corrupt { .. })
    ));
    // Inode size not a power of two / larger than a block.
    assert!(matches!(
        corrupt(&|m| m[SB + 0x58..SB + 0x5A].copy_from_slice(&200u16.to_le_bytes())),
        Err(FsError::Corrupt { .. })
    ));
    assert!(matches!(
        corrupt(&|m| m[SB + 0x58..SB + 0x5A].copy_from_slice(&8192u16.to_le_bytes())),
        Err(FsError::Corrupt { .. })
    ));
    // 64-bit descriptor size that is not a power of two.
    assert!(matches!(
        corrupt(&|m| m[SB + 0xFE..SB + 0x100].copy_from_slice(&48u16.to_le_bytes())),
        Err(FsError::Corrupt { .. })
    ));
    // Blocks count below the first data block.
    assert!(matches!(
        corrupt(&|m| {
            put32(m, SB + 0x04, 0);
            put32(m, SB + 0x150, 0);
        }),
        Err(FsError::Corrupt { .. })
    ));
    // More inodes than the groups hold.
    assert!(matches!(
        corrupt(&|m| put32(m, SB, u32::MAX)),
        Err(FsError::Corrupt { .. })
    ));
}

#[test]
fn feature_gating() {
    let (_d, img) = small_image("ext4", &[], "1M");
    let with_incompat = |bit: u32| {
        let mut m = img.clone();
        let cur = u32::from_le_bytes(m[SB + 0x60..SB + 0x64].try_into().unwrap());
        put32(&mut m, SB + 0x60, cur | bit);
        open_bytes(m)
    };
    for (bit, name) in [
        (0x1, "compression"),
        (0x8, "journal_dev"),
        (0x1000, "dirdata"),
        (0x10000, "encrypt"),
        (0x8000_0000, "unknown"),
    ] {
        match with_incompat(bit) {
            Err(e @ FsError::Unsupported { .. }) => {
                assert!(e.to_string().contains(name), "{e}")
            }
            Err(e) => panic!("{name}: {e}"),
            Ok(_) => panic!("{name}: opened"),
        }
    }
    // A journal needing recovery is read as is, with a warning (the superblock checksum no
    // longer matches after the edit, which is a second warning).
    let fs = with_incompat(0x4).unwrap();
    let w = fs.warnings();
    assert!(w.iter().any(|w| w.contains("recovery")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("checksum")), "{w:?}");
    assert_eq!(read(&*fs, "a/b/c/conf"), b"menuentry x {}\n");
}

/// The byte offset of an inode on the image, from `debugfs -R "imap <path>"`.
fn inode_offset(img: &Path, p: &str, block_size: u64) -> u64 {
    let out = run(Command::new(tool("debugfs"))
        .arg("-R")
        .arg(format!("imap {p}"))
        .arg(img));
    // "Inode 12 is part of block group 0\n\tlocated at block 36, offset 0x0b00"
    let block: u64 = out
        .split("located at block ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("imap: {out}"));
    let off = out
        .split("offset 0x")
        .nth(1)
        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
        .unwrap_or_else(|| panic!("imap: {out}"));
    block * block_size + off
}

#[test]
fn hostile_extent_trees_and_directories() {
    // A file fragmented into many extents has a tree of depth >= 1.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    let f = File::create(src.join("frag")).unwrap();
    for i in 0..64u64 {
        f.write_all_at(&[1u8; 1024], i * 2048).unwrap();
    }
    drop(f);
    let plain_data = Prng::new(5).bytes(8192);
    fs::write(src.join("plain"), &plain_data).unwrap();
    let img = dir.path().join("fs.img");
    mkfs("ext4", &["-b", "1024"], &src, &img, "4M");
    let base = fs::read(&img).unwrap();
    let fs0 = open_bytes(base.clone()).unwrap();
    let frag = node(&*fs0, "frag");
    let good = read(&*fs0, "frag");
    let root_dir = fs0.extents(fs0.root(), 0, 1024).unwrap().unwrap();
    let root_block = match root_dir[0] {
        Extent::Mapped { volume_offset, .. } => volume_offset as usize,
        Extent::Hole { .. } => panic!("root dir has a hole"),
    };
    drop(fs0);

    let ino = inode_offset(&img, "/frag", 1024) as usize;
    let i_block = ino + 0x28;
    // Header: magic, entries, max, depth.
    assert_eq!(&base[i_block..i_block + 2], &[0x0A, 0xF3]);
    let depth = u16::from_le_bytes([base[i_block + 6], base[i_block + 7]]);
    assert!(depth >= 1, "frag tree has depth {depth}");
    let idx0 = i_block + 12;

    let try_read = |m: Vec<u8>| -> rsgrub_fs::Result<Vec<u8>> {
        let fs = open_bytes(m)?;
        let _ = fs.extents(frag, 0, u64::MAX);
        path::read_file(&*fs, b"frag", 1 << 20)
    };
    assert_eq!(try_read(base.clone()).unwrap(), good);

    // Two index entries pointing at the same leaf block.
    let mut m = base.clone();
    m[i_block + 2..i_block + 4].copy_from_slice(&2u16.to_le_bytes());
    let entry: Vec<u8> = m[idx0..idx0 + 12].to_vec();
    m[idx0 + 12..idx0 + 24].copy_from_slice(&entry);
    m[idx0 + 12..idx0 + 16].copy_from_slice(&64u32.to_le_bytes());
    let err = try_read(m).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");

    // Index block past the end of the device.
    let mut m = base.clone();
    m[idx0 + 4..idx0 + 8].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    let err = try_read(m).unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");

    // Entries above max, and a bad magic.
    let mut m = base.clone();
    m[i_block + 2..i_block + 4].copy_from_slice(&5u16.to_le_bytes());
    assert!(try_read(m).is_err());
    let mut m = base.clone();
    m[i_block] = 0;
    assert!(try_read(m).is_err());
    // Depth beyond 5.
    let mut m = base.clone();
    m[i_block + 6..i_block + 8].copy_from_slice(&9u16.to_le_bytes());
    assert!(try_read(m).is_err());

    // An uninitialised (preallocated) extent reads as zeros and maps as a hole.
    let plain_ino = inode_offset(&img, "/plain", 1024) as usize;
    let pe = plain_ino + 0x28 + 12;
    let pib = plain_ino + 0x28;
    assert_eq!(
        u16::from_le_bytes([base[pib + 6], base[pib + 7]]),
        0,
        "plain has depth 0"
    );
    let len = u16::from_le_bytes([base[pe + 4], base[pe + 5]]);
    assert_eq!(len, 8);
    let mut m = base.clone();
    m[pe + 4..pe + 6].copy_from_slice(&(len + 32768).to_le_bytes());
    let fs = open_bytes(m).unwrap();
    assert_eq!(read(&*fs, "plain"), vec![0u8; 8192]);
    let plain = node(&*fs, "plain");
    assert_eq!(
        fs.extents(plain, 0, 8192).unwrap().unwrap(),
        vec![Extent::Hole {
            file_offset: 0,
            len: 8192
        }]
    );
    let fs = open_bytes(base.clone()).unwrap();
    assert_eq!(read(&*fs, "plain"), plain_data);
    // A zero-length extent is corrupt.
    let mut m = base.clone();
    m[pe + 4..pe + 6].copy_from_slice(&0u16.to_le_bytes());
    assert!(path::read_file(&*open_bytes(m).unwrap(), b"plain", 1 << 20).is_err());

    // Huge i_size on a tiny file: reads past the data are zeros, and nothing is sized from it.
    let mut m = base.clone();
    put32(&mut m, ino + 0x6C, 0x7FFF_FFFF);
    let fs = open_bytes(m).unwrap();
    assert!(fs.metadata(frag).unwrap().size > 1 << 60);
    let mut buf = vec![0xAAu8; 4096];
    assert_eq!(fs.read_at(frag, 1 << 50, &mut buf).unwrap(), 4096);
    assert!(buf.iter().all(|&b| b == 0));
    let t = Instant::now();
    let exts = fs.extents(frag, 0, u64::MAX).unwrap().unwrap();
    assert!(exts.len() < 200);
    assert!(t.elapsed() < Duration::from_secs(5));

    // Directory records: rec_len 0, misaligned, past the block; none loop.
    for (rec, name_len) in [(0u16, 1u8), (6, 1), (13, 1), (2000, 1), (12, 9)] {
        let mut m = base.clone();
        // The first record is ".": rewrite its rec_len / name_len.
        m[root_block + 4..root_block + 6].copy_from_slice(&rec.to_le_bytes());
        m[root_block + 6] = name_len;
        let fs = open_bytes(m).unwrap();
        assert!(
            matches!(fs.read_dir(fs.root()), Err(FsError::Corrupt { .. })),
            "rec_len {rec}"
        );
        assert!(fs.lookup(fs.root(), b"frag").is_err());
    }
}

fn fuzz_bases() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("ext4", vec!["-b", "1024"]),
        ("ext2", vec!["-b", "1024"]),
        ("ext4", vec!["-b", "1024", "-O", "inline_data,^has_journal"]),
        (
            "ext4",
            vec!["-b", "4096", "-O", "^extents,^64bit,^has_journal"],
        ),
    ]
}

/// Byte offsets in `[0, window)` of `img` that hold no regular file's data: metadata (and
/// free space), where corruption is interesting.
fn metadata_positions(img: &[u8], window: usize) -> Vec<usize> {
    let fs = open_bytes(img.to_vec()).unwrap();
    let mut is_data = vec![false; window];
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
                            let s = (volume_offset as usize).min(window);
                            let t = ((volume_offset + len) as usize).min(window);
                            is_data[s..t].fill(true);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (0..window).filter(|&i| !is_data[i]).collect()
}

#[test]
fn random_corruption_never_panics_or_hangs() {
    // RSGRUB_FUZZ_ITERATIONS raises the count for a longer ad-hoc run.
    let iterations: u64 = std::env::var("RSGRUB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(750);
    const WINDOW: usize = 256 * 1024;
    for (n, (kind, args)) in fuzz_bases().into_iter().enumerate() {
        let (_d, base) = small_image(kind, &args, "1M");
        let window = WINDOW.min(base.len());
        let meta = metadata_positions(&base, window);
        assert!(meta.len() > 4096 && meta.len() < window);
        let seed = std::env::var("RSGRUB_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0xF00D);
        let mut rng = Prng::new(seed + n as u64);
        let mut opened = 0u32;
        let mut slowest = Duration::ZERO;
        for it in 0..iterations {
            let mut img = base.clone();
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                // A quarter of the flips land in the first 4 KiB (superblock, descriptors), a
                // quarter anywhere in the window, the rest on metadata (inodes, directories,
                // extent and indirect blocks, bitmaps).
                let pos = match rng.below(4) {
                    0 => rng.below(4096) as usize,
                    1 => rng.below(window as u64) as usize,
                    _ => meta[rng.below(meta.len() as u64) as usize],
                };
                img[pos] = if rng.below(2) == 0 {
                    img[pos] ^ (1 << rng.below(8))
                } else {
                    rng.next() as u8
                };
            }
            let t = Instant::now();
            if let Ok(fs) = open_bytes(img) {
                opened += 1;
                exercise(&*fs);
            }
            let took = t.elapsed();
            slowest = slowest.max(took);
            assert!(
                took < Duration::from_secs(10),
                "{kind} {args:?} iteration {it} took {took:?}"
            );
        }
        eprintln!("{kind} {args:?}: opened {opened}/{iterations}, slowest {slowest:?}");
        // Many corruptions leave the filesystem mountable: the walk really ran.
        assert!(
            u64::from(opened) > iterations / 4,
            "{kind}: only {opened} opened"
        );
    }
}

#[test]
fn image_file_reader_and_open_via_probe_table() {
    let (d, img) = small_image("ext4", &[], "1M");
    let p = d.path().join("copy.img");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    f.write_all(&img).unwrap();
    drop(f);
    let fs = open_file(&p);
    assert_eq!(read(&*fs, "a/b/up"), read(&*fs, "kernel"));
    assert_eq!(read(&*fs, "slow"), b"menuentry x {}\n");
}
