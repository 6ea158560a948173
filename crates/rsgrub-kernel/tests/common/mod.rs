//! Test helpers: the real tools (as, ld, gcc, objcopy, gzip, xz, zstd, lz4, lzop, bzip2),
//! Debian packages fetched once per machine into a cache, and hand-made hostile headers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// CI sets CI=true: there, a missing download or tool is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip (outside CI) or fail (in CI) because `why`.
pub fn unavailable(why: &str) {
    assert!(!in_ci(), "CI=true and {why}");
    eprintln!("SKIPPED: {why} (CI is not set, so this test is skipped)");
}

/// Is `prog` on PATH?
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run a command; panic with its stderr if it fails. Returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `sh -c script` in `dir`.
pub fn sh(dir: &Path, script: &str) -> Vec<u8> {
    run(Command::new("sh").arg("-c").arg(script).current_dir(dir))
}

/// Where downloads and slow-to-make files are kept between runs:
/// `$RSGRUB_TEST_CACHE`, else /var/cache/rsgrub-test, else a directory under the temp dir.
pub fn cache_dir() -> PathBuf {
    let dirs = [
        std::env::var_os("RSGRUB_TEST_CACHE").map(PathBuf::from),
        Some(PathBuf::from("/var/cache/rsgrub-test")),
        Some(std::env::temp_dir().join("rsgrub-test-cache")),
    ];
    for d in dirs.into_iter().flatten() {
        if std::fs::create_dir_all(&d).is_ok() && tempfile::tempfile_in(&d).is_ok() {
            return d;
        }
    }
    panic!("no writable cache directory");
}

static CACHE_LOCK: Mutex<()> = Mutex::new(());

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `apt-cache depends PKG` → the first dependency whose name starts with `prefix`.
fn apt_dependency(pkg: &str, prefix: &str) -> Result<String, String> {
    let out = Command::new("apt-cache")
        .args(["depends", pkg])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let dep = l.trim().strip_prefix("Depends: ")?;
            dep.starts_with(prefix).then(|| dep.to_string())
        })
        .ok_or_else(|| format!("apt-cache depends {pkg} names no {prefix}* package"))
}

/// `apt-get download PKG` into `dir` (once); the .deb's path.
fn apt_download(pkg: &str, dir: &Path) -> Result<PathBuf, String> {
    let find = || {
        std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb")).then(|| e.path())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    let out = Command::new("apt-get")
        .args(["download", "-q", pkg])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("apt-get: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "apt-get download {pkg} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    find().ok_or_else(|| format!("apt-get download {pkg}: no .deb appeared"))
}

/// Run `f`; if it fails and we are root, refresh the package lists (they may be missing or
/// name a superseded version) and run it once more.
fn with_apt_update<T>(f: impl Fn() -> Result<T, String>) -> Result<T, String> {
    match f() {
        Ok(v) => Ok(v),
        Err(_) if is_root() => {
            let _ = Command::new("apt-get")
                .args(["update", "-qq"])
                .stdout(Stdio::null())
                .status();
            f()
        }
        Err(e) => Err(e),
    }
}

/// Extract the members under `member` (e.g. "./boot") of a .deb into `into` (once).
fn extract(deb: &Path, member: &str, into: &Path) -> Result<(), String> {
    let tmp = into.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' '{}'",
        deb.display(),
        tmp.display(),
        member
    );
    let st = Command::new("sh")
        .args(["-c", &script])
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err(format!("{script} failed"));
    }
    std::fs::rename(&tmp, into).map_err(|e| e.to_string())
}

/// The real Debian cloud kernel: `linux-image-cloud-amd64` is a metapackage; the
/// `linux-image-<abi>-cloud-amd64` it depends on holds /boot/vmlinuz-*. Downloaded and
/// extracted once per machine. `Err` says why it is not available.
pub fn debian_kernel() -> Result<PathBuf, String> {
    let _g = CACHE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache_dir();
    let dir = cache.join("kernel");
    if !dir.exists() {
        let deb = with_apt_update(|| {
            let pkg = apt_dependency("linux-image-cloud-amd64", "linux-image-")?;
            apt_download(&pkg, &cache)
        })?;
        extract(&deb, "./boot", &dir)?;
    }
    std::fs::read_dir(dir.join("boot"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| "no /boot/vmlinuz-* in the kernel package".into())
}

/// systemd-boot's EFI stub for UKIs (package systemd-boot-efi), downloaded once.
pub fn systemd_stub() -> Result<PathBuf, String> {
    let _g = CACHE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache_dir();
    let dir = cache.join("systemd-boot-efi");
    if !dir.exists() {
        let deb = with_apt_update(|| apt_download("systemd-boot-efi", &cache))?;
        extract(&deb, "./usr/lib/systemd/boot/efi", &dir)?;
    }
    let p = dir.join("usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    p.exists()
        .then_some(p)
        .ok_or_else(|| "no linuxx64.efi.stub in systemd-boot-efi".into())
}

/// `cache_dir()/name`, made once by `make(partial_path)` (under a lock, renamed into place so
/// an interrupted run leaves nothing half-made).
pub fn cached(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let _g = CACHE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache_dir().join(name);
    if !out.exists() {
        let tmp = cache_dir().join(format!("{name}.partial.{}", std::process::id()));
        make(&tmp);
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// Identify the bytes of a file.
pub fn identify_file(p: &Path) -> rsgrub_kernel::KernelInfo {
    let f = rsgrub_io::FileReader::new(std::fs::File::open(p).unwrap()).unwrap();
    rsgrub_kernel::identify(&f)
}

/// Identify in-memory bytes.
pub fn identify_bytes(b: &[u8]) -> rsgrub_kernel::KernelInfo {
    rsgrub_kernel::identify(&b.to_vec())
}

/// The assembler source of a kernel stub with these Xen notes (`(type, directive)` pairs,
/// e.g. `(5, ".asciz \"xen-3.0\"")`), in `.note.Xen` (an allocated SHT_NOTE section, which
/// ld puts in a PT_NOTE segment).
pub fn xen_asm(notes: &[(u32, &str)]) -> String {
    let mut s = String::from(
        ".macro NOTE type, desc:vararg\n\t.balign 4\n\t.long 2f - 1f\n\t.long 4f - 3f\n\t.long \\type\n1:\t.asciz \"Xen\"\n2:\t.balign 4\n3:\t\\desc\n4:\t.balign 4\n.endm\n",
    );
    if !notes.is_empty() {
        s.push_str("\t.section .note.Xen, \"a\", @note\n");
        for (t, d) in notes {
            s.push_str(&format!("\tNOTE {t}, {d}\n"));
        }
    }
    s.push_str("\t.text\n\t.globl _start\n_start:\thlt\n");
    s
}

/// Linux's note set (as arch/x86/xen/xen-head.S writes it), with `addr` = `.quad` / `.long`.
pub fn linux_notes(addr: &str, pvh: bool) -> Vec<(u32, String)> {
    let mut v = vec![
        (6, ".asciz \"linux\"".to_string()),
        (7, ".asciz \"2.6\"".into()),
        (5, ".asciz \"xen-3.0\"".into()),
        (3, format!("{addr} 0")),
        (1, format!("{addr} _start")),
        (2, format!("{addr} _start")),
        (
            10,
            ".ascii \"!writable_page_tables|pae_pgdir_above_4gb\"".into(),
        ),
        (9, ".asciz \"yes\"".into()),
        (8, ".asciz \"generic\"".into()),
        (14, ".long 1".into()),
    ];
    if pvh {
        v.push((18, ".long 0x1000000".into()));
    }
    v
}

/// Assemble and link `asm` with the real binutils (64-bit, or 32-bit with `--32` /
/// `-m elf_i386`) into `dir/name`.
pub fn build_elf(dir: &Path, name: &str, asm: &str, bits32: bool) -> PathBuf {
    let src = dir.join(format!("{name}.S"));
    std::fs::write(&src, asm).unwrap();
    let obj = dir.join(format!("{name}.o"));
    let out = dir.join(name);
    let mut a = Command::new("as");
    if bits32 {
        a.arg("--32");
    }
    run(a.arg("-o").arg(&obj).arg(&src));
    let mut l = Command::new("ld");
    if bits32 {
        l.args(["-m", "elf_i386"]);
    }
    run(l.arg("-o").arg(&out).arg(&obj));
    out
}

/// Compress `input` with a real tool; `cmd` is a shell command reading stdin, writing stdout.
pub fn compress(input: &Path, cmd: &str) -> Vec<u8> {
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} < '{}'", input.display())))
}

/// The compressors the kernel build uses (scripts/Makefile.lib), at quick levels.
/// `(name, tool, command)`.
pub const COMPRESSORS: &[(&str, &str, &str)] = &[
    ("gzip", "gzip", "gzip -n -6 -c"),
    ("bzip2", "bzip2", "bzip2 -1 -c"),
    ("lzma", "xz", "xz --format=lzma -1 -c"),
    // The kernel's scripts/xz_wrap.sh: BCJ x86 filter, CRC32 check.
    ("xz", "xz", "xz --check=crc32 --x86 --lzma2=preset=1 -c"),
    ("lzo", "lzop", "lzop -1 -c"),
    ("lz4", "lz4", "lz4 -l -1 -c"),
    ("zstd", "zstd", "zstd -3 -c"),
];

/// A minimal setup header, written here (for hostile variations): a boot sector with
/// 0xAA55, "HdrS", protocol `proto`, `setup_sects`, and payload_offset/length.
pub fn setup_header(proto: u16, setup_sects: u8, payload_offset: u32, payload_len: u32) -> Vec<u8> {
    let sects = if setup_sects == 0 { 4 } else { setup_sects };
    let mut h = vec![0u8; (usize::from(sects) + 1) * 512];
    h[0x1f1] = setup_sects;
    h[0x1fe] = 0x55;
    h[0x1ff] = 0xaa;
    h[0x202..0x206].copy_from_slice(b"HdrS");
    h[0x206..0x208].copy_from_slice(&proto.to_le_bytes());
    h[0x211] = 1; // LOADED_HIGH
    h[0x236..0x238].copy_from_slice(&3u16.to_le_bytes());
    h[0x248..0x24c].copy_from_slice(&payload_offset.to_le_bytes());
    h[0x24c..0x250].copy_from_slice(&payload_len.to_le_bytes());
    h
}

/// A bzImage around `payload` with the setup area `setup` (from a real kernel, or
/// [`setup_header`]): payload_offset 0, payload_length patched, the decompressed size
/// appended as the kernel build does.
pub fn wrap_bzimage(setup: &[u8], payload: &[u8], decompressed_len: u32) -> Vec<u8> {
    let mut img = setup.to_vec();
    let sects = if img[0x1f1] == 0 { 4 } else { img[0x1f1] };
    let setup_size = (usize::from(sects) + 1) * 512;
    img.resize(setup_size, 0);
    let mut p = payload.to_vec();
    p.extend_from_slice(&decompressed_len.to_le_bytes());
    img[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&(p.len() as u32).to_le_bytes());
    img.extend_from_slice(&p);
    img
}
