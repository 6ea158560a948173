//! ZFS driver against pools made by the real tools (zfs-fuse's `zpool`/`zfs`, pool version
//! 23 and 15), plus hostile variants of those images.
//!
//! zfs-fuse must be installed; the daemon is started if it is not running. Each image is
//! built once per test binary (OnceLock) with its own pool name, and exported before it is
//! read; a guard exports and destroys the pool whatever happens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;
use common::{check_extents, read_all, Prng};
use rsgrub_fs::{path, FileType, Filesystem, FsError};
use std::collections::BTreeSet;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Serialises zpool/zfs commands (zfs-fuse is one daemon).
static ZLOCK: Mutex<()> = Mutex::new(());

fn ensure_daemon() {
    let running = Command::new("pgrep")
        .args(["-x", "zfs-fuse"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !running {
        // Daemonizes by itself.
        let _ = Command::new("zfs-fuse").status();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if Command::new("zpool")
            .arg("list")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("zfs-fuse did not come up");
}

/// Exports (then destroys, if still there) a pool when dropped.
struct PoolGuard(String);

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let _ = Command::new("zpool")
            .args(["export", "-f", &self.0])
            .output();
        let listed = Command::new("zpool")
            .args(["list", &self.0])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if listed {
            let _ = Command::new("zpool")
                .args(["destroy", "-f", &self.0])
                .output();
        }
    }
}

fn rand_bytes(n: usize, seed: u64) -> Vec<u8> {
    Prng::new(seed).bytes(n)
}

/// A source tree: text (compressible), random, sparse and empty files, symlinks (inline in
/// the bonus buffer, and long ones in a data block), a small and an optional 2,000-entry dir.
fn populate(dir: &Path, big: usize, many: bool, seed: u64) {
    std::fs::create_dir_all(dir.join("boot/grub")).unwrap();
    std::fs::write(
        dir.join("boot/grub/grub.cfg"),
        format!("set default=0\nmenuentry seed{seed} {{ linux /boot/vmlinuz }}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("boot/vmlinuz"), rand_bytes(big, seed)).unwrap();
    let mut text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    text.extend(rand_bytes(5000, seed + 1));
    std::fs::write(dir.join("boot/initrd.img"), &text).unwrap();
    std::fs::write(dir.join("small.bin"), rand_bytes(1500, seed + 2)).unwrap();
    std::fs::write(dir.join("tiny"), b"hi\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("zeros"), vec![0u8; 300_000]).unwrap();
    let f = std::fs::File::create(dir.join("sparse.bin")).unwrap();
    f.set_len(12 << 20).unwrap();
    f.write_all_at(b"middle", 5 << 20).unwrap();
    f.write_all_at(&rand_bytes(10000, seed + 3), (12 << 20) - 10000)
        .unwrap();
    drop(f);
    std::os::unix::fs::symlink("boot/grub/grub.cfg", dir.join("cfglink")).unwrap();
    std::os::unix::fs::symlink("/boot/vmlinuz", dir.join("boot/abs")).unwrap();
    let long: String = (0..30).map(|i| format!("dir{i:02}/")).collect::<String>() + "target";
    std::os::unix::fs::symlink(&long, dir.join("longlink")).unwrap();
    let longer = "x".repeat(900);
    std::os::unix::fs::symlink(&longer, dir.join("longerlink")).unwrap();
    std::fs::create_dir_all(dir.join("etc/default")).unwrap();
    std::fs::write(dir.join("etc/default/grub"), b"GRUB_TIMEOUT=5\n").unwrap();
    // Names over 50 bytes do not fit a micro ZAP: a small fat ZAP.
    std::fs::create_dir_all(dir.join("longnames")).unwrap();
    for i in 0..12 {
        let n = format!(
            "{}-{i}",
            "a-file-name-that-is-longer-than-a-micro-zap-entry-allows"
        );
        std::fs::write(dir.join("longnames").join(n), format!("{i}\n")).unwrap();
    }
    if many {
        std::fs::create_dir_all(dir.join("many")).unwrap();
        for i in 0..2100 {
            std::fs::write(
                dir.join(format!("many/file-with-a-longer-name-{i:05}")),
                format!("{i}\n"),
            )
            .unwrap();
        }
    }
}

/// One pool image and the source trees copied into it.
struct Image {
    _dir: tempfile::TempDir,
    img: PathBuf,
    pool: String,
    /// (dataset relative name, source tree, compression).
    datasets: Vec<(String, PathBuf, String)>,
    /// Source of the snapshot `ROOT/debian@before`.
    snap_src: PathBuf,
    /// Object number of ROOT/debian (zfs get objsetid).
    debian_obj: u64,
}

/// Datasets besides ROOT/debian (uncompressed, the bootfs): name, compression, checksum.
const SIDE: &[(&str, &str, &str)] = &[
    ("ROOT/lzjb", "lzjb", "on"),
    ("ROOT/gzip", "gzip", "on"),
    ("ROOT/gzip9", "gzip-9", "sha256"),
    ("ROOT/zle", "zle", "fletcher2"),
    ("data", "off", "fletcher2"),
];

fn build(version: &str, tag: &str, side: &[(&str, &str, &str)], big: usize, mib: u64) -> Image {
    ensure_daemon();
    let _l = ZLOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let pool = format!("rsgz{}{tag}", std::process::id());
    let img = dir.path().join("pool.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let guard = PoolGuard(pool.clone());
    run(
        "zpool",
        &[
            "create",
            "-o",
            &format!("version={version}"),
            "-m",
            mnt.to_str().unwrap(),
            &pool,
            img.to_str().unwrap(),
        ],
    );
    let mut datasets = Vec::new();
    // Root dataset: PyGrub-style /boot/grub/menu.lst.
    let top_src = dir.path().join("src-top");
    std::fs::create_dir_all(top_src.join("boot/grub")).unwrap();
    std::fs::write(
        top_src.join("boot/grub/menu.lst"),
        b"default 0\ntitle Debian\n  kernel /ROOT/debian@/boot/vmlinuz ro\n",
    )
    .unwrap();
    run("zfs", &["create", &format!("{pool}/ROOT")]);
    run("zfs", &["create", &format!("{pool}/ROOT/debian")]);
    let deb_src = dir.path().join("src-debian");
    populate(&deb_src, big, big > 10_000_000, 1);
    for (name, comp, ck) in side {
        let full = format!("{pool}/{name}");
        run(
            "zfs",
            &[
                "create",
                "-o",
                &format!("compression={comp}"),
                "-o",
                &format!("checksum={ck}"),
                &full,
            ],
        );
        let src = dir.path().join(format!("src-{}", name.replace('/', "-")));
        populate(&src, 1_000_000, false, 10 + datasets.len() as u64);
        datasets.push((name.to_string(), src, comp.to_string()));
    }
    let copy = |src: &Path, dst: &Path| {
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(dst)
            .status()
            .unwrap();
        assert!(status.success());
    };
    copy(&top_src, &mnt);
    copy(&deb_src, &mnt.join("ROOT/debian"));
    for (name, src, _) in &datasets {
        copy(src, &mnt.join(name));
    }
    // A snapshot, then a change after it.
    let snap_src = dir.path().join("src-snap");
    copy(&deb_src, &snap_src);
    run("sync", &[]);
    run("zfs", &["snapshot", &format!("{pool}/ROOT/debian@before")]);
    std::fs::write(
        mnt.join("ROOT/debian/tiny"),
        b"changed after the snapshot\n",
    )
    .unwrap();
    std::fs::write(deb_src.join("tiny"), b"changed after the snapshot\n").unwrap();
    run(
        "zpool",
        &["set", &format!("bootfs={pool}/ROOT/debian"), &pool],
    );
    let debian_obj: u64 = run(
        "zfs",
        &[
            "get",
            "-H",
            "-o",
            "value",
            "objsetid",
            &format!("{pool}/ROOT/debian"),
        ],
    )
    .trim()
    .parse()
    .unwrap_or(0);
    run("zpool", &["export", &pool]);
    drop(guard);
    datasets.insert(0, ("ROOT/debian".into(), deb_src, "off".into()));
    datasets.push(("".into(), top_src, "off".into()));
    Image {
        _dir: dir,
        img,
        pool,
        datasets,
        snap_src,
        debian_obj,
    }
}

fn main_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| build("23", "m", SIDE, 60_000_000, 320))
}

fn open_path(img: &Path) -> Box<dyn Filesystem> {
    let f = std::fs::File::open(img).unwrap();
    let dev: rsgrub_io::DynReader = Arc::new(rsgrub_io::FileReader::new(f).unwrap());
    assert!(rsgrub_fs::zfs::probe(&*dev));
    let fs = rsgrub_fs::open(dev).unwrap();
    assert_eq!(fs.name(), "zfs");
    fs
}

#[derive(Default, Debug)]
struct Stats {
    files: usize,
    mapped: usize,
    links: usize,
    dirs: usize,
    bytes: u64,
}

fn compare(fs: &dyn Filesystem, img: &std::fs::File, node: u64, src: &Path, st: &mut Stats) {
    st.dirs += 1;
    let entries = fs.read_dir(node).unwrap();
    let names: BTreeSet<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
    let want: BTreeSet<Vec<u8>> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_encoded_bytes())
        .filter(|n| n != b"ROOT" && n != b"data")
        .collect();
    let names: BTreeSet<Vec<u8>> = names
        .into_iter()
        .filter(|n| n != b"ROOT" && n != b"data")
        .collect();
    assert_eq!(names, want, "listing of {}", src.display());
    for e in entries {
        if e.name == b"ROOT" || e.name == b"data" {
            continue;
        }
        let p = src.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&e.name));
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(fs.lookup(node, &e.name).unwrap(), Some(e.node), "{p:?}");
        let md = fs.metadata(e.node).unwrap();
        assert_eq!(md.mode.unwrap() & 0o7777, m.mode() & 0o7777, "{p:?}");
        if m.file_type().is_symlink() {
            assert_eq!(md.kind, FileType::Symlink);
            assert_eq!(e.kind, Some(FileType::Symlink));
            let t = std::fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes();
            assert_eq!(fs.read_link(e.node).unwrap(), t, "{p:?}");
            st.links += 1;
        } else if m.is_dir() {
            assert_eq!(md.kind, FileType::Directory);
            assert_eq!(e.kind, Some(FileType::Directory));
            compare(fs, img, e.node, &p, st);
        } else {
            assert_eq!(md.kind, FileType::Regular);
            assert_eq!(e.kind, Some(FileType::Regular));
            assert_eq!(md.size, m.len(), "{p:?}");
            let data = read_all(fs, e.node, md.size);
            assert!(
                data == std::fs::read(&p).unwrap(),
                "bytes of {}",
                p.display()
            );
            if md.size > 0 && check_extents(fs, img, e.node, &data) {
                st.mapped += 1;
            }
            st.files += 1;
            st.bytes += md.size;
        }
    }
}

#[test]
fn every_dataset_matches_its_source() {
    let im = main_image();
    let fs = open_path(&im.img);
    assert!(fs.warnings().is_empty(), "{:?}", fs.warnings());
    assert_eq!(fs.label().as_deref(), Some(im.pool.as_str()));
    let img = std::fs::File::open(&im.img).unwrap();
    for (name, src, comp) in &im.datasets {
        let root = fs.dataset_root(name.as_bytes()).unwrap().unwrap();
        let mut st = Stats::default();
        compare(&*fs, &img, root, src, &mut st);
        eprintln!("{name:12} ({comp}): {st:?}");
        if name.is_empty() {
            assert_eq!(st.files, 1);
            continue;
        }
        assert!(st.files >= 8 && st.links == 4, "{name}: {st:?}");
        if comp == "off" {
            assert!(st.mapped >= 5, "{name}: {st:?}");
        }
        if name == "ROOT/debian" {
            assert!(st.files > 2100 && st.bytes > 60_000_000, "{st:?}");
        }
    }
}

#[test]
fn bootfs_is_root_and_at_paths_reach_datasets() {
    let im = main_image();
    let fs = open_path(&im.img);
    let deb = &im.datasets[0].1;
    // `/` is the bootfs dataset.
    let k = path::read_file(&*fs, b"/boot/grub/grub.cfg", 1 << 20).unwrap();
    assert_eq!(k, std::fs::read(deb.join("boot/grub/grub.cfg")).unwrap());
    // GRUB's dataset@path form.
    for (name, src, _) in &im.datasets {
        if name.is_empty() {
            continue;
        }
        let p = format!("/{name}@/boot/grub/grub.cfg");
        let got = path::read_file(&*fs, p.as_bytes(), 1 << 20).unwrap();
        assert_eq!(
            got,
            std::fs::read(src.join("boot/grub/grub.cfg")).unwrap(),
            "{p}"
        );
        // `..` stays in the dataset; absolute symlinks restart at its root.
        let p = format!("/{name}@/../../boot/abs");
        let n = path::resolve(&*fs, p.as_bytes(), true).unwrap();
        assert_eq!(
            fs.metadata(n).unwrap().size,
            std::fs::metadata(src.join("boot/vmlinuz")).unwrap().len()
        );
    }
    // The pool's root dataset: `/@/...` (where PyGrub reads menu.lst).
    let m = path::read_file(&*fs, b"/@/boot/grub/menu.lst", 1 << 20).unwrap();
    assert!(m.starts_with(b"default 0"));
    assert!(rsgrub_fs::zfs::pygrub_top_dataset_file(
        b"/boot/grub/menu.lst"
    ));
    assert!(matches!(
        path::resolve(&*fs, b"/boot/grub/menu.lst", true),
        Err(FsError::NotFound(_))
    ));
    // A snapshot sees the bytes before the change.
    let old = path::read_file(&*fs, b"/ROOT/debian@before/tiny", 1 << 20).unwrap();
    assert_eq!(old, std::fs::read(im.snap_src.join("tiny")).unwrap());
    let new = path::read_file(&*fs, b"/ROOT/debian@/tiny", 1 << 20).unwrap();
    assert_eq!(new, b"changed after the snapshot\n");
    // Unknown dataset or snapshot: the `@` is part of a name.
    assert!(matches!(
        path::resolve(&*fs, b"/ROOT/nope@/tiny", true),
        Err(FsError::NotFound(_))
    ));
    assert!(matches!(
        path::resolve(&*fs, b"/ROOT/debian@nosnap/tiny", true),
        Err(FsError::NotFound(_))
    ));
    assert_eq!(fs.dataset_root(b"ROOT/none").unwrap(), None);
    // PyGrub's boot string, with the dataset's object number.
    let bs = fs.boot_string().unwrap();
    assert_eq!(
        bs,
        format!("zfs-bootfs={}/{},bootpath=''", im.pool, im.debian_obj)
    );
}

#[test]
fn open_dataset_selects_like_zfs_bootfs() {
    let im = main_image();
    let f = std::fs::File::open(&im.img).unwrap();
    let dev: rsgrub_io::DynReader = Arc::new(rsgrub_io::FileReader::new(f).unwrap());
    let fs = rsgrub_fs::zfs::open_dataset(dev.clone(), &format!("{}/ROOT/lzjb", im.pool)).unwrap();
    let src = &im.datasets.iter().find(|d| d.0 == "ROOT/lzjb").unwrap().1;
    let got = path::read_file(&*fs, b"/boot/vmlinuz", 1 << 30).unwrap();
    assert!(got == std::fs::read(src.join("boot/vmlinuz")).unwrap());
    assert!(fs
        .boot_string()
        .unwrap()
        .starts_with(&format!("zfs-bootfs={}/", im.pool)));
    // Empty: as without the option (the bootfs property).
    let fs = rsgrub_fs::zfs::open_dataset(dev.clone(), "").unwrap();
    assert_eq!(
        fs.boot_string().unwrap(),
        format!("zfs-bootfs={}/{},bootpath=''", im.pool, im.debian_obj)
    );
    // The pool name alone: the root dataset. PyGrub does not check the pool name.
    let fs = rsgrub_fs::zfs::open_dataset(dev.clone(), "whatever").unwrap();
    assert!(path::read_file(&*fs, b"/boot/grub/menu.lst", 1 << 20).is_ok());
    let fs = rsgrub_fs::zfs::open_dataset(dev.clone(), "x/ROOT/debian@before").unwrap();
    assert_eq!(
        path::read_file(&*fs, b"/tiny", 1 << 20).unwrap(),
        std::fs::read(im.snap_src.join("tiny")).unwrap()
    );
    // Unknown dataset: libfsimage falls back to the bootfs property.
    let fs = rsgrub_fs::zfs::open_dataset(dev, "p/ROOT/missing").unwrap();
    assert!(
        fs.warnings()[0].contains("p/ROOT/missing"),
        "{:?}",
        fs.warnings()
    );
    let k = path::read_file(&*fs, b"/boot/vmlinuz", 1 << 30).unwrap();
    assert!(k == std::fs::read(im.datasets[0].1.join("boot/vmlinuz")).unwrap());
}

#[test]
fn old_pool_version_15() {
    let im = {
        static I: OnceLock<Image> = OnceLock::new();
        I.get_or_init(|| {
            build(
                "15",
                "v",
                &[("ROOT/lzjb", "lzjb", "fletcher4")],
                2_000_000,
                96,
            )
        })
    };
    let fs = open_path(&im.img);
    let img = std::fs::File::open(&im.img).unwrap();
    for (name, src, _) in &im.datasets {
        let root = fs.dataset_root(name.as_bytes()).unwrap().unwrap();
        let mut st = Stats::default();
        compare(&*fs, &img, root, src, &mut st);
        assert!(st.files >= 1);
    }
}

/// A small pool (64 MiB, the least zfs-fuse makes) for the hostile tests.
fn small_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| build("23", "s", &[("ROOT/lzjb", "lzjb", "on")], 300_000, 64))
}

fn open_bytes(data: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let dev: rsgrub_io::DynReader = Arc::new(data);
    rsgrub_fs::zfs::open(dev)
}

fn image_bytes() -> Vec<u8> {
    std::fs::read(&small_image().img).unwrap()
}

#[test]
fn small_image_reads_and_walks() {
    let im = small_image();
    let fs = open_path(&im.img);
    let img = std::fs::File::open(&im.img).unwrap();
    for (name, src, _) in &im.datasets {
        let root = fs.dataset_root(name.as_bytes()).unwrap().unwrap();
        compare(&*fs, &img, root, src, &mut Stats::default());
    }
    let st = rsgrub_fs::walk::exercise(&*fs, 10_000, 1 << 30);
    assert_eq!(st.errors, 0, "{st:?}");
}

/// Counts device reads.
struct Counting(rsgrub_io::FileReader, std::sync::atomic::AtomicU64);
impl rsgrub_io::ReadAt for Counting {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.read_at(off, buf)
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
}

#[test]
fn small_reads_of_a_big_file_do_not_reread_the_tree() {
    let im = main_image();
    let f = std::fs::File::open(&im.img).unwrap();
    let c = Arc::new(Counting(
        rsgrub_io::FileReader::new(f).unwrap(),
        Default::default(),
    ));
    let fs = rsgrub_fs::zfs::open(c.clone()).unwrap();
    let n = path::resolve(&*fs, b"/boot/vmlinuz", true).unwrap();
    let size = fs.metadata(n).unwrap().size;
    let before = c.1.load(std::sync::atomic::Ordering::Relaxed);
    let mut buf = vec![0u8; 4096];
    let mut off = 0;
    let mut h = Vec::new();
    while off < size {
        let k = fs.read_at(n, off, &mut buf).unwrap();
        h.extend_from_slice(&buf[..k]);
        off += k as u64;
    }
    let reads = c.1.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(h == std::fs::read(im.datasets[0].1.join("boot/vmlinuz")).unwrap());
    // 128 KiB records: ~460 data blocks and a handful of indirect blocks, for 14,650 calls.
    assert!(reads < 600, "{reads} device reads");
}

#[test]
fn truncated_image_is_an_error_or_partial() {
    let data = image_bytes();
    for cut in [1000usize, 300_000, 5 << 20, 40 << 20, data.len() - 1000] {
        let t = data[..cut].to_vec();
        match open_bytes(t) {
            Err(e) => {
                eprintln!("cut at {cut}: {e}");
                assert!(cut < data.len() - 1000, "cut at {cut}: {e}");
            }
            Ok(fs) => {
                // Labels 0/1 and the blocks (or a ditto copy of each) are still there;
                // nothing is allocated below 4 MiB.
                assert!(cut > (4 << 20));
                let st = rsgrub_fs::walk::exercise(&*fs, 3000, 64 << 20);
                eprintln!("cut at {cut}: {st:?}");
            }
        }
    }
}

/// Flip bytes in metadata all over the image: no panic, every call returns.
#[test]
fn byte_flips_never_panic() {
    let data = image_bytes();
    // Where the metadata is: the labels, and the first MiBs of allocations.
    let mut p = Prng::new(77);
    let t = Instant::now();
    let mut opened = 0;
    for round in 0..60 {
        let mut d = data.clone();
        for _ in 0..20 {
            let region = p.next() % 4;
            let off = match region {
                0 => (p.next() % (512 << 10)) as usize,
                1 => (4 << 20) + (p.next() % (8 << 20)) as usize,
                2 => d.len() - 1 - (p.next() % (512 << 10)) as usize,
                _ => (p.next() % d.len() as u64) as usize,
            };
            d[off] ^= 1 << (p.next() % 8);
        }
        if let Ok(fs) = open_bytes(d) {
            opened += 1;
            rsgrub_fs::walk::exercise(&*fs, 300, 4 << 20);
            let _ = path::read_file(&*fs, b"/ROOT/lzjb@/boot/initrd.img", 8 << 20);
            let _ = fs.boot_string();
        }
        if t.elapsed() > Duration::from_secs(25) {
            eprintln!("stopped after {round} rounds");
            break;
        }
    }
    eprintln!("{opened} damaged images opened");
}

/// Find the label config nvlist's pair `name` in label 0 and return its offset.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Recompute the embedded label checksum of `buf` read at device offset `off`.
fn relabel(buf: &mut [u8], off: u64) {
    use sha2::Digest;
    let eck = buf.len() - 40;
    buf[eck + 8..eck + 16].copy_from_slice(&off.to_le_bytes());
    buf[eck + 16..].fill(0);
    let d = sha2::Sha256::digest(&buf[..]);
    for i in 0..4 {
        let w = u64::from_be_bytes(d[i * 8..i * 8 + 8].try_into().unwrap());
        buf[eck + 8 + i * 8..eck + 16 + i * 8].copy_from_slice(&w.to_le_bytes());
    }
}

#[test]
fn giant_nvlist_lengths_are_refused() {
    let mut data = image_bytes();
    let size = data.len() as u64 & !((256 << 10) - 1);
    let labels = [0u64, 256 << 10, size - (512 << 10), size - (256 << 10)];
    for &l in &labels {
        let s = (l + (16 << 10)) as usize;
        let area = &mut data[s..s + (112 << 10)];
        // The "name" pair's string length → 0x7fffffff.
        let at = find(area, b"\0\0\0\x04name").unwrap();
        let str_len = at + 8 + 4 + 4 + 4; // name, type, nelem... then the value's length
        area[str_len..str_len + 4].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
        // And the first pair's encoded size.
        area[12..16].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        relabel(area, l + (16 << 10));
    }
    let e = open_bytes(data)
        .err()
        .expect("a damaged config must not open");
    let msg = e.to_string();
    assert!(msg.contains("nvpair") || msg.contains("nvlist"), "{msg}");
}

#[test]
fn unsupported_features_are_named() {
    let mut data = image_bytes();
    let size = data.len() as u64 & !((256 << 10) - 1);
    let labels = [0u64, 256 << 10, size - (512 << 10), size - (256 << 10)];
    for &l in &labels {
        let s = (l + (16 << 10)) as usize;
        let area = &mut data[s..s + (112 << 10)];
        // Rename the "version" pair's name ... no: add a features_for_read list by
        // overwriting the "hostname"-free tail: rewrite the "vdev_children" pair name
        // into "features_for_read"? Same length is needed; use "txg" → replace its whole
        // pair with a features_for_read nvlist of one boolean entry.
        let at = find(area, b"\0\0\0\x03txg\0").unwrap() - 8;
        let enc = u32::from_be_bytes(area[at..at + 4].try_into().unwrap()) as usize;
        let mut p: Vec<u8> = Vec::new();
        let s = |p: &mut Vec<u8>, v: &[u8]| {
            p.extend((v.len() as u32).to_be_bytes());
            p.extend(v);
            while !p.len().is_multiple_of(4) {
                p.push(0);
            }
        };
        // Inner pair: "com.example:warp" BOOLEAN (type 1, 0 elements).
        let mut inner = vec![0u8; 8];
        s(&mut inner, b"com.example:warp");
        inner.extend(1u32.to_be_bytes());
        inner.extend(0u32.to_be_bytes());
        let n = inner.len() as u32;
        inner[..4].copy_from_slice(&n.to_be_bytes());
        inner[4..8].copy_from_slice(&n.to_be_bytes());
        p.extend([0u8; 8]);
        s(&mut p, b"features_for_read");
        p.extend(19u32.to_be_bytes());
        p.extend(1u32.to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p.extend(&inner);
        p.extend([0u8; 8]);
        let n = p.len() as u32;
        p[..4].copy_from_slice(&n.to_be_bytes());
        p[4..8].copy_from_slice(&n.to_be_bytes());
        // Splice: replace the txg pair with ours and shift the rest.
        let mut rest = area[at + enc..area.len() - 40 - (p.len() - enc)].to_vec();
        let mut new = area[..at].to_vec();
        new.extend(&p);
        new.append(&mut rest);
        area[..new.len()].copy_from_slice(&new);
        relabel(area, l + (16 << 10));
    }
    let e = open_bytes(data)
        .err()
        .expect("unknown feature must be refused");
    assert!(matches!(e, FsError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("com.example:warp"), "{e}");
}

#[test]
fn fuzz_seeds_open_and_read_everything() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_zfs");
    let mut n = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().path();
        if f.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let dev: rsgrub_io::DynReader =
            Arc::new(rsgrub_fs::zfs::fuzz_image(&std::fs::read(&f).unwrap()));
        let fs = rsgrub_fs::zfs::open(dev).unwrap();
        let st = rsgrub_fs::walk::exercise(&*fs, 10_000, 1 << 30);
        assert_eq!(st.errors, 0, "{}: {st:?}", f.display());
        assert!(st.files >= 5 && st.links >= 2, "{st:?}");
        let k = path::read_file(&*fs, b"/ROOT/debian@/boot/vmlinuz", 1 << 20).unwrap();
        assert_eq!(k.len(), 20000);
        n += 1;
    }
    assert!(n >= 2);
}

/// Pools of several devices: each side of a mirror reads alone; raidz is refused by name.
#[test]
fn mirror_children_read_and_raidz_is_refused() {
    ensure_daemon();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    populate(&src, 500_000, false, 99);
    let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("d{i}"))).collect();
    for f in &files {
        std::fs::File::create(f).unwrap().set_len(64 << 20).unwrap();
    }
    let f: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    {
        let _l = ZLOCK.lock().unwrap_or_else(|e| e.into_inner());
        let pool = format!("rsgz{}mir", std::process::id());
        let _g = PoolGuard(pool.clone());
        let m = mnt.to_str().unwrap();
        run(
            "zpool",
            &[
                "create",
                "-o",
                "version=23",
                "-m",
                m,
                &pool,
                "mirror",
                f[0],
                f[1],
            ],
        );
        run("cp", &["-a", &format!("{}/.", src.display()), m]);
        run("zpool", &["export", &pool]);
    }
    for side in &files[..2] {
        let fs = open_path(side);
        let img = std::fs::File::open(side).unwrap();
        let mut st = Stats::default();
        compare(&*fs, &img, fs.root(), &src, &mut st);
        assert!(st.files >= 8, "{st:?}");
    }
    {
        let _l = ZLOCK.lock().unwrap_or_else(|e| e.into_inner());
        let pool = format!("rsgz{}rz", std::process::id());
        let _g = PoolGuard(pool.clone());
        for p in &files {
            std::fs::File::create(p).unwrap().set_len(64 << 20).unwrap();
        }
        let m = mnt.to_str().unwrap();
        run(
            "zpool",
            &[
                "create",
                "-f",
                "-o",
                "version=23",
                "-m",
                m,
                &pool,
                "raidz",
                f[0],
                f[1],
                f[2],
            ],
        );
        run("zpool", &["export", &pool]);
    }
    let file = std::fs::File::open(&files[0]).unwrap();
    let dev: rsgrub_io::DynReader = Arc::new(rsgrub_io::FileReader::new(file).unwrap());
    assert!(rsgrub_fs::zfs::probe(&*dev));
    let e = rsgrub_fs::zfs::open(dev)
        .err()
        .expect("raidz must be refused");
    assert!(matches!(e, FsError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("raidz not supported"), "{e}");
}
