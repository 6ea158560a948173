//! btrfs driver against images made by mkfs.btrfs (--rootdir) and, where loop mounts work,
//! by the kernel itself (compression, subvolumes, set-default).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;
use common::{check_extents, read_all, Prng};
use rsgrub_fs::{path, Extent, FileType, Filesystem};
use std::collections::BTreeSet;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rand_bytes(n: usize, seed: u64) -> Vec<u8> {
    Prng::new(seed).bytes(n)
}

/// A source tree: a 20 MB file, small (inlined) files, a sparse file, symlinks, 2,000 entries.
fn populate(dir: &Path, big: usize) {
    std::fs::create_dir_all(dir.join("boot/grub")).unwrap();
    std::fs::create_dir_all(dir.join("many")).unwrap();
    std::fs::write(
        dir.join("boot/grub/grub.cfg"),
        b"set default=0\nmenuentry x {}\n",
    )
    .unwrap();
    std::fs::write(dir.join("boot/vmlinuz"), rand_bytes(big, 7)).unwrap();
    // Compressible, with a random tail.
    let mut text: Vec<u8> = (0..300_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    text.extend(rand_bytes(5000, 3));
    std::fs::write(dir.join("boot/initrd.img"), &text).unwrap();
    std::fs::write(dir.join("inline.bin"), rand_bytes(1500, 9)).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    let f = std::fs::File::create(dir.join("sparse.bin")).unwrap();
    f.set_len(12 << 20).unwrap();
    f.write_all_at(b"middle", 5 << 20).unwrap();
    f.write_all_at(&rand_bytes(10000, 5), (12 << 20) - 10000)
        .unwrap();
    std::os::unix::fs::symlink("boot/grub/grub.cfg", dir.join("cfglink")).unwrap();
    std::os::unix::fs::symlink("/boot/vmlinuz", dir.join("boot/abs")).unwrap();
    for i in 0..2000 {
        std::fs::write(dir.join(format!("many/file-{i:04}")), format!("{i}\n")).unwrap();
    }
}

fn open_img(img: &Path) -> Box<dyn Filesystem> {
    let f = std::fs::File::open(img).unwrap();
    let dev: rsgrub_io::DynReader = Arc::new(rsgrub_io::FileReader::new(f).unwrap());
    assert!(rsgrub_fs::btrfs::probe(&*dev));
    let fs = rsgrub_fs::open(dev).unwrap();
    assert_eq!(fs.name(), "btrfs");
    fs
}

#[derive(Default, Debug)]
struct Stats {
    files: usize,
    mapped: usize,
    links: usize,
    dirs: usize,
}

/// Compare directory `node` with `src` recursively.
fn compare(fs: &dyn Filesystem, img: &std::fs::File, node: u64, src: &Path, st: &mut Stats) {
    st.dirs += 1;
    let entries = fs.read_dir(node).unwrap();
    let names: BTreeSet<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
    let want: BTreeSet<Vec<u8>> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_encoded_bytes())
        .collect();
    assert_eq!(names, want, "listing of {}", src.display());
    for e in entries {
        let p = src.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&e.name));
        let m = std::fs::symlink_metadata(&p).unwrap();
        // Lookup by name (DIR_ITEM hash) agrees with the listing (DIR_INDEX).
        assert_eq!(fs.lookup(node, &e.name).unwrap(), Some(e.node));
        let md = fs.metadata(e.node).unwrap();
        assert_eq!(md.mode.unwrap() & 0o7777, m.mode() & 0o7777);
        if m.file_type().is_symlink() {
            assert_eq!(md.kind, FileType::Symlink);
            assert_eq!(e.kind, Some(FileType::Symlink));
            let t = std::fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes();
            assert_eq!(fs.read_link(e.node).unwrap(), t);
            st.links += 1;
        } else if m.is_dir() {
            assert_eq!(md.kind, FileType::Directory);
            compare(fs, img, e.node, &p, st);
        } else {
            assert_eq!(md.kind, FileType::Regular);
            assert_eq!(md.size, m.len());
            let data = read_all(fs, e.node, md.size);
            assert!(
                data == std::fs::read(&p).unwrap(),
                "bytes of {}",
                p.display()
            );
            if check_extents(fs, img, e.node, &data) {
                st.mapped += 1;
            }
            st.files += 1;
        }
    }
}

fn dump_super(img: &Path, field: &str) -> String {
    let out = run(
        "btrfs",
        &["inspect-internal", "dump-super", img.to_str().unwrap()],
    );
    out.lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(field)).then(|| it.next().unwrap_or("").to_string())
        })
        .unwrap()
}

fn mkfs_rootdir(extra: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    populate(&src, 20_000_000);
    let img = t.path().join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let mut args = vec![
        "-q",
        "-f",
        "-L",
        "rsgrub-test",
        "--rootdir",
        src.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(img.to_str().unwrap());
    run("mkfs.btrfs", &args);
    (t, src, img)
}

fn check_image(img: &Path, src: &Path) -> Stats {
    let fs = open_img(img);
    assert_eq!(fs.uuid().unwrap(), dump_super(img, "fsid"));
    let f = std::fs::File::open(img).unwrap();
    let mut st = Stats::default();
    compare(fs.as_ref(), &f, fs.root(), src, &mut st);
    // Paths and symlinks through the shared resolver.
    let cfg = path::read_file(fs.as_ref(), b"/cfglink", 1 << 20).unwrap();
    assert_eq!(cfg, std::fs::read(src.join("boot/grub/grub.cfg")).unwrap());
    let n = path::resolve(fs.as_ref(), b"/boot/abs", true).unwrap();
    assert_eq!(fs.metadata(n).unwrap().size, 20_000_000);
    assert!(path::resolve(fs.as_ref(), b"/boot/nothing", true).is_err());
    st
}

#[test]
fn rootdir_default_profiles() {
    let (_t, src, img) = mkfs_rootdir(&[]);
    let st = check_image(&img, &src);
    assert_eq!(open_img(&img).label().as_deref(), Some("rsgrub-test"));
    assert!(st.files > 2000 && st.links == 2, "{st:?}");
    assert!(st.mapped >= 3, "{st:?}");
    // A damaged primary superblock: the 64 MiB mirror is used, with a warning.
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(b"X", 0x10000 + 0x12b).unwrap();
    drop(f);
    let fs = open_img(&img);
    assert_eq!(fs.label().as_deref(), Some("rsgrub-test"));
    assert!(
        fs.warnings().iter().any(|w| w.contains("mirror")),
        "{:?}",
        fs.warnings()
    );
    let n = path::resolve(fs.as_ref(), b"/boot/vmlinuz", true).unwrap();
    assert_eq!(
        read_all(fs.as_ref(), n, 20_000_000),
        rand_bytes(20_000_000, 7)
    );
}

#[test]
fn rootdir_single_and_dup_data() {
    for prof in [["-m", "single", "-d", "single"], ["-m", "dup", "-d", "dup"]] {
        let (_t, src, img) = mkfs_rootdir(&prof);
        let st = check_image(&img, &src);
        assert!(st.files > 2000, "{st:?}");
    }
}

#[test]
fn rootdir_raid0_one_device() {
    let (_t, src, img) = mkfs_rootdir(&["-m", "raid0", "-d", "raid0"]);
    let out = run(
        "btrfs",
        &[
            "inspect-internal",
            "dump-tree",
            "-t",
            "chunk",
            img.to_str().unwrap(),
        ],
    );
    assert!(out.contains("DATA|RAID0"), "{out}");
    let st = check_image(&img, &src);
    assert!(st.mapped >= 3, "{st:?}");
}

/// Loop devices for `files`, detached on drop.
struct Loops(Vec<String>);

impl Loops {
    fn new(files: &[PathBuf]) -> Option<Loops> {
        let mut v = Loops(Vec::new());
        for f in files {
            let out = Command::new("losetup")
                .args(["-f", "--show", f.to_str().unwrap()])
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            v.0.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        Some(v)
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = Command::new("losetup").args(["-d", d]).status();
        }
    }
}

#[test]
fn kernel_multi_device_mirrors() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    populate(&src, 2_000_000);
    for (prof, n) in [("raid1", 2), ("raid1c3", 3), ("raid0", 2)] {
        let files: Vec<PathBuf> = (0..n)
            .map(|i| t.path().join(format!("{prof}-{i}")))
            .collect();
        for f in &files {
            std::fs::File::create(f)
                .unwrap()
                .set_len(300 << 20)
                .unwrap();
        }
        let meta = if prof == "raid0" { "raid1" } else { prof };
        let mut args = vec!["-q", "-f", "-d", prof, "-m", meta];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        run("mkfs.btrfs", &args);
        {
            let Some(loops) = Loops::new(&files) else {
                eprintln!("SKIP: no loop devices");
                return;
            };
            let opts: Vec<String> = loops.0.iter().map(|d| format!("device={d}")).collect();
            let mnt = t.path().join("mnt");
            std::fs::create_dir_all(&mnt).unwrap();
            let ok = Command::new("mount")
                .args(["-o", &opts.join(","), &loops.0[0], mnt.to_str().unwrap()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                eprintln!("SKIP: cannot mount a multi-device btrfs here");
                return;
            }
            copy_tree(&src, &mnt);
            run("sync", &[]);
            run("umount", &[mnt.to_str().unwrap()]);
        }
        if prof == "raid0" {
            // Metadata is mirrored, file data is striped over both: refused, not misread.
            for f in &files {
                let fs = open_img(f);
                assert!(fs.lookup(fs.root(), b"boot").unwrap().is_some());
                let e = path::read_file(fs.as_ref(), b"/boot/vmlinuz", 1 << 30).unwrap_err();
                assert!(e.to_string().contains("other devices"), "{e}");
            }
            continue;
        }
        // Every device alone holds a full copy.
        for f in &files {
            let fs = open_img(f);
            let img = std::fs::File::open(f).unwrap();
            let mut st = Stats::default();
            compare(fs.as_ref(), &img, fs.root(), &src, &mut st);
            assert!(st.mapped >= 3, "{prof} {st:?}");
        }
    }
}

#[test]
fn rootdir_mixed_and_big_nodes() {
    let (_t, src, img) = mkfs_rootdir(&["--mixed"]);
    check_image(&img, &src);
    let (_t, src, img) = mkfs_rootdir(&["-n", "65536", "-O", "^no-holes"]);
    check_image(&img, &src);
}

/// Mount the image with a loop device, or `None` when this machine cannot.
struct Mounted {
    dir: PathBuf,
}

impl Mounted {
    fn new(img: &Path, dir: &Path, opts: &str) -> Option<Mounted> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-o",
                &format!("loop,{opts}"),
                img.to_str().unwrap(),
                dir.to_str().unwrap(),
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Mounted {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    run(
        "cp",
        &["-a", &format!("{}/.", from.display()), to.to_str().unwrap()],
    );
}

#[test]
fn kernel_compressed_extents() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    populate(&src, 3_000_000);
    for alg in ["zlib", "lzo", "zstd"] {
        let img = t.path().join(format!("{alg}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(200 << 20)
            .unwrap();
        run("mkfs.btrfs", &["-q", "-f", img.to_str().unwrap()]);
        {
            let Some(m) = Mounted::new(
                &img,
                &t.path().join("mnt"),
                &format!("compress-force={alg}"),
            ) else {
                eprintln!("SKIP: cannot loop-mount btrfs here");
                return;
            };
            copy_tree(&src, &m.dir);
            run("sync", &[]);
        }
        let fs = open_img(&img);
        let f = std::fs::File::open(&img).unwrap();
        let mut st = Stats::default();
        compare(fs.as_ref(), &f, fs.root(), &src, &mut st);
        // Compressed files are not mappable.
        let n = path::resolve(fs.as_ref(), b"/boot/initrd.img", true).unwrap();
        assert_eq!(fs.extents(n, 0, 1 << 20).unwrap(), None, "{alg}");
        // Hostile: a compressed extent claiming a huge ram_bytes, or a tiny one its stream
        // inflates past.
        let bytes = std::fs::read(&img).unwrap();
        for ram in [1u64 << 40, 100] {
            let mut b = bytes.clone();
            let n = patch_compressed_extents(&mut b, ram);
            assert!(n > 0, "{alg}: no compressed extent found");
            let fs = open_bytes(b).unwrap();
            let r = path::read_file(fs.as_ref(), b"/boot/initrd.img", 1 << 30);
            assert!(r.is_err(), "{alg} ram_bytes {ram}");
            rsgrub_fs::walk::exercise(fs.as_ref(), 5000, 64 << 20);
        }
    }
}

/// Set ram_bytes of every compressed regular extent in every FS-tree leaf; re-checksum.
fn patch_compressed_extents(img: &mut [u8], ram: u64) -> usize {
    let ns = u32::from_le_bytes(img[0x10094..0x10098].try_into().unwrap()) as usize;
    let fsid = img[0x10020..0x10030].to_vec();
    let mut patched = 0;
    let mut o = 0;
    while o + ns <= img.len() {
        let hdr_ok = img[o + 0x20..o + 0x30] == fsid[..]
            && u64::from_le_bytes(img[o + 0x58..o + 0x60].try_into().unwrap()) == 5
            && img[o + 0x64] == 0
            && u32::from_le_bytes(img[o..o + 4].try_into().unwrap())
                == crc32c(&img[o + 0x20..o + ns]);
        if hdr_ok {
            let n = u32::from_le_bytes(img[o + 0x60..o + 0x64].try_into().unwrap()) as usize;
            for i in 0..n.min(1000) {
                let ih = o + 101 + i * 25;
                if img[ih + 8] != 108 {
                    continue;
                }
                let off = u32::from_le_bytes(img[ih + 17..ih + 21].try_into().unwrap()) as usize;
                let d = o + 101 + off;
                if d + 53 <= o + ns && img[d + 16] != 0 && img[d + 20] == 1 {
                    img[d + 8..d + 16].copy_from_slice(&ram.to_le_bytes());
                    patched += 1;
                }
            }
            fix_node(img, o, ns);
        }
        o += 4096;
    }
    patched
}

#[test]
fn kernel_subvolumes_and_default() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    populate(&src, 1_000_000);
    let img = t.path().join("sv.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    run("mkfs.btrfs", &["-q", "-f", img.to_str().unwrap()]);
    let mnt = t.path().join("mnt");
    {
        let Some(m) = Mounted::new(&img, &mnt, "") else {
            eprintln!("SKIP: cannot loop-mount btrfs here");
            return;
        };
        let d = m.dir.to_str().unwrap();
        run("btrfs", &["subvolume", "create", &format!("{d}/@")]);
        run("btrfs", &["subvolume", "create", &format!("{d}/@/nested")]);
        run("btrfs", &["subvolume", "create", &format!("{d}/@home")]);
        copy_tree(&src, &m.dir.join("@"));
        std::fs::write(m.dir.join("@home/user.txt"), b"home file\n").unwrap();
        std::fs::write(m.dir.join("@/nested/n.txt"), b"nested\n").unwrap();
        std::fs::write(m.dir.join("top.txt"), b"top level\n").unwrap();
        // Preallocated (unwritten) extents, one partly written.
        run("fallocate", &["-l", "1M", &format!("{d}/@home/prealloc")]);
        run("fallocate", &["-l", "1M", &format!("{d}/@home/partial")]);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(m.dir.join("@home/partial"))
            .unwrap();
        f.write_all_at(&[0xab; 8192], 65536).unwrap();
        f.sync_all().unwrap();
        run("sync", &[]);
    }
    // Default subvolume is FS_TREE 5: GRUB paths are /@/boot/...
    {
        let fs = open_img(&img);
        let root: BTreeSet<Vec<u8>> = fs
            .read_dir(fs.root())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        let want: BTreeSet<Vec<u8>> = [&b"@"[..], b"@home", b"top.txt"]
            .iter()
            .map(|s| s.to_vec())
            .collect();
        assert_eq!(root, want);
        let cfg = path::read_file(fs.as_ref(), b"/@/boot/grub/grub.cfg", 1 << 20).unwrap();
        assert_eq!(cfg, std::fs::read(src.join("boot/grub/grub.cfg")).unwrap());
        assert_eq!(
            path::read_file(fs.as_ref(), b"/@home/user.txt", 99).unwrap(),
            b"home file\n"
        );
        let f = std::fs::File::open(&img).unwrap();
        let pre = path::resolve(fs.as_ref(), b"/@home/prealloc", true).unwrap();
        assert_eq!(read_all(fs.as_ref(), pre, 1 << 20), vec![0u8; 1 << 20]);
        assert_eq!(
            fs.extents(pre, 0, 1 << 20).unwrap().unwrap(),
            vec![Extent::Hole {
                file_offset: 0,
                len: 1 << 20
            }]
        );
        let part = path::resolve(fs.as_ref(), b"/@home/partial", true).unwrap();
        let data = read_all(fs.as_ref(), part, 1 << 20);
        let mut want = vec![0u8; 1 << 20];
        want[65536..65536 + 8192].fill(0xab);
        assert!(data == want);
        assert!(check_extents(fs.as_ref(), &f, part, &data));
        assert_eq!(
            path::read_file(fs.as_ref(), b"/@/nested/n.txt", 99).unwrap(),
            b"nested\n"
        );
        // `..` out of a subvolume is clamped by the resolver, not an error.
        assert!(path::resolve(fs.as_ref(), b"/@home/../top.txt", true).is_ok());
        let at = fs.lookup(fs.root(), b"@").unwrap().unwrap();
        assert_eq!(fs.metadata(at).unwrap().kind, FileType::Directory);
        let f = std::fs::File::open(&img).unwrap();
        let mut st = Stats::default();
        // `@` holds src plus the nested subvolume.
        let entries: BTreeSet<Vec<u8>> = fs
            .read_dir(at)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(entries.contains(&b"nested"[..]));
        let n = path::resolve(fs.as_ref(), b"/@/boot", true).unwrap();
        compare(fs.as_ref(), &f, n, &src.join("boot"), &mut st);
    }
    // set-default @: `/` is now @.
    {
        let Some(m) = Mounted::new(&img, &mnt, "") else {
            panic!("second mount failed")
        };
        let d = m.dir.to_str().unwrap();
        let id = run("btrfs", &["subvolume", "show", &format!("{d}/@")]);
        let id = id
            .lines()
            .find_map(|l| l.trim().strip_prefix("Subvolume ID:"))
            .unwrap()
            .trim()
            .to_string();
        run("btrfs", &["subvolume", "set-default", &id, d]);
    }
    let fs = open_img(&img);
    let cfg = path::read_file(fs.as_ref(), b"/boot/grub/grub.cfg", 1 << 20).unwrap();
    assert_eq!(cfg, std::fs::read(src.join("boot/grub/grub.cfg")).unwrap());
    // Upstream GRUB's top-level paths still resolve (names missing from @ fall back).
    let cfg2 = path::read_file(fs.as_ref(), b"/@/boot/grub/grub.cfg", 1 << 20).unwrap();
    assert_eq!(cfg2, cfg);
    assert_eq!(
        path::read_file(fs.as_ref(), b"/@home/user.txt", 99).unwrap(),
        b"home file\n"
    );
    assert!(path::resolve(fs.as_ref(), b"/top.txt", true).is_ok());
    assert!(path::resolve(fs.as_ref(), b"/nothing", true).is_err());
    // The listing of `/` is @'s own.
    let names: BTreeSet<Vec<u8>> = fs
        .read_dir(fs.root())
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        names.contains(&b"boot"[..])
            && names.contains(&b"nested"[..])
            && !names.contains(&b"@home"[..])
    );
    assert_eq!(
        path::read_file(fs.as_ref(), b"/nested/n.txt", 99).unwrap(),
        b"nested\n"
    );
}

// ---- hostile images ----

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
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
    !crc
}

fn fix_sb(img: &mut [u8]) {
    let c = crc32c(&img[0x10020..0x11000]);
    img[0x10000..0x10004].copy_from_slice(&c.to_le_bytes());
}

/// A small image (16 MiB, mixed block groups) as bytes.
fn small_image() -> Vec<u8> {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("boot/grub")).unwrap();
    std::fs::write(src.join("boot/grub/grub.cfg"), b"menuentry a {}\n").unwrap();
    std::fs::write(src.join("boot/kernel"), rand_bytes(200_000, 1)).unwrap();
    std::os::unix::fs::symlink("boot/kernel", src.join("k")).unwrap();
    let img = t.path().join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(
        "mkfs.btrfs",
        &[
            "-q",
            "-f",
            "-M",
            "--rootdir",
            src.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    std::fs::read(&img).unwrap()
}

fn open_bytes(b: Vec<u8>) -> rsgrub_fs::Result<Box<dyn Filesystem>> {
    let dev: rsgrub_io::DynReader = Arc::new(b);
    rsgrub_fs::btrfs::open(dev)
}

#[test]
fn hostile_superblocks_and_chunks() {
    let good = small_image();
    let fs = open_bytes(good.clone()).unwrap();
    assert_eq!(
        path::read_file(fs.as_ref(), b"/k", 1 << 20).unwrap(),
        rand_bytes(200_000, 1)
    );

    let mut b = good.clone();
    b[0x10000..0x11000].fill(0);
    assert!(!rsgrub_fs::btrfs::probe(&b));
    assert!(open_bytes(b).is_err());

    let mut b = good.clone();
    b[0x10100] ^= 1; // inside the checksummed area
    assert!(open_bytes(b).is_err());

    // sys_chunk_array_size past its 2048-byte field.
    let mut b = good.clone();
    b[0x100a0..0x100a4].copy_from_slice(&4000u32.to_le_bytes());
    fix_sb(&mut b);
    assert!(open_bytes(b).is_err());

    // First chunk: num_stripes 0, then huge.
    let ns = 0x1032b + 17 + 44;
    for v in [0u16, 0xffff] {
        let mut b = good.clone();
        b[ns..ns + 2].copy_from_slice(&v.to_le_bytes());
        fix_sb(&mut b);
        assert!(open_bytes(b).is_err(), "num_stripes {v}");
    }
    // Chunk length 0 and overflowing.
    for v in [0u64, u64::MAX] {
        let mut b = good.clone();
        b[0x1032b + 17..0x1032b + 25].copy_from_slice(&v.to_le_bytes());
        fix_sb(&mut b);
        assert!(open_bytes(b).is_err());
    }
    // Root tree level wrong / root pointing at the chunk root.
    let mut b = good.clone();
    b[0x100c6] = 3;
    fix_sb(&mut b);
    assert!(open_bytes(b).is_err());
    let mut b = good.clone();
    b[0x100c6] = 9;
    fix_sb(&mut b);
    assert!(open_bytes(b).is_err());
}

/// The physical offset of tree block `logical` through the first sys chunk (mixed image).
fn tree_block_phys(img: &[u8], logical: u64) -> Option<usize> {
    // Search the whole image for a node header carrying this bytenr at 0x30.
    let ns = u32::from_le_bytes(img[0x10094..0x10098].try_into().unwrap()) as usize;
    (0..img.len() / 4096).map(|i| i * 4096).find(|&o| {
        o + ns <= img.len()
            && img[o + 0x30..o + 0x38] == logical.to_le_bytes()
            && img[o + 0x20..o + 0x30] == img[0x10020..0x10030]
    })
}

fn fix_node(img: &mut [u8], o: usize, ns: usize) {
    let c = crc32c(&img[o + 0x20..o + ns]);
    img[o..o + 4].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn hostile_tree_blocks() {
    let good = small_image();
    let ns = u32::from_le_bytes(good[0x10094..0x10098].try_into().unwrap()) as usize;
    let root = u64::from_le_bytes(good[0x10050..0x10058].try_into().unwrap());
    let o = tree_block_phys(&good, root).unwrap();
    // A flipped byte without fixing the checksum (both DUP copies): rejected.
    let mut b = good.clone();
    let mut copies = vec![];
    for p in (0..b.len() / 4096).map(|i| i * 4096) {
        if p + ns <= b.len()
            && b[p + 0x30..p + 0x38] == root.to_le_bytes()
            && b[p + 0x20..p + 0x30] == b[0x10020..0x10030]
        {
            copies.push(p);
        }
    }
    for &p in &copies {
        b[p + 200] ^= 0xff;
    }
    assert!(open_bytes(b).is_err());
    // Level wrong, checksum fixed.
    let mut b = good.clone();
    for &p in &copies {
        b[p + 0x64] = 1;
        fix_node(&mut b, p, ns);
    }
    assert!(open_bytes(b).is_err());
    // Item offsets past the leaf, and nritems huge.
    for (field, val) in [(101 + 17, 0xfff0u32), (0x60, 100_000u32)] {
        let mut b = good.clone();
        for &p in &copies {
            b[p + field..p + field + 4].copy_from_slice(&val.to_le_bytes());
            fix_node(&mut b, p, ns);
        }
        assert!(open_bytes(b).is_err());
    }
    // A root tree that is an internal node pointing to itself.
    let mut b = good.clone();
    for &p in &copies {
        b[p + 0x64] = 1;
        b[p + 0x60..p + 0x64].copy_from_slice(&1u32.to_le_bytes());
        b[p + 101..p + 118].fill(0);
        b[p + 118..p + 126].copy_from_slice(&root.to_le_bytes());
        fix_node(&mut b, p, ns);
    }
    b[0x100c6] = 1;
    fix_sb(&mut b);
    assert!(open_bytes(b).is_err());
    let _ = o;
}

#[test]
fn byte_flips_do_not_panic() {
    let good = small_image();
    let ns = u32::from_le_bytes(good[0x10094..0x10098].try_into().unwrap()) as usize;
    let fsid = good[0x10020..0x10030].to_vec();
    // Tree blocks of the image, to re-checksum after a flip.
    let nodes: Vec<usize> = (0..good.len() / 4096)
        .map(|i| i * 4096)
        .filter(|&o| o != 0x10000 && o + ns <= good.len() && good[o + 0x20..o + 0x30] == fsid[..])
        .collect();
    assert!(!nodes.is_empty());
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut opened = 0;
    for i in 0..3000 {
        let mut b = good.clone();
        let fix = i % 2 == 0;
        let (pos, node) = if fix {
            let n = nodes[(next() % nodes.len() as u64) as usize];
            (n + 0x20 + (next() % (ns as u64 - 0x20)) as usize, Some(n))
        } else if i % 3 == 0 {
            (0x10000 + (next() % 4096) as usize, None)
        } else {
            ((next() % b.len() as u64) as usize, None)
        };
        b[pos] ^= 1 << (next() % 8);
        if let Some(n) = node {
            fix_node(&mut b, n, ns);
        } else if (0x10000..0x11000).contains(&pos) && i % 3 == 0 {
            fix_sb(&mut b);
        }
        let dev: rsgrub_io::DynReader = Arc::new(b);
        if let Ok(fs) = rsgrub_fs::btrfs::open(dev) {
            opened += 1;
            rsgrub_fs::walk::exercise(fs.as_ref(), 200, 1 << 20);
        }
    }
    assert!(opened > 100, "opened {opened}");
}

#[test]
fn seed_corpus_opens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fs_btrfs");
    let mut n = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        let dev: rsgrub_io::DynReader = Arc::new(std::fs::read(&p).unwrap());
        let fs = rsgrub_fs::btrfs::open(dev).unwrap();
        assert!(!fs.read_dir(fs.root()).unwrap().is_empty());
        if p.file_name().unwrap() == "mixed-single-relocated.bin" {
            let cfg = path::read_file(fs.as_ref(), b"/boot/grub/grub.cfg", 999).unwrap();
            assert_eq!(cfg, b"menuentry \"x\" { linux /boot/vmlinuz }\n");
            assert_eq!(
                path::read_file(fs.as_ref(), b"/vmlinuz", 1 << 20)
                    .unwrap()
                    .len(),
                20000
            );
            assert_eq!(fs.label().as_deref(), Some("seed"));
        }
        n += 1;
    }
    assert!(n > 0);
}
