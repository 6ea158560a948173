//! Shared helpers for the partition-table tests: scratch files, running the real tools and
//! parsing their output, in-memory images, a tiny JSON parser (for `sfdisk --json`), GPT
//! construction and CRC fix-ups, a deterministic PRNG and a copy-on-write overlay reader.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rsgrub_io::{DynReader, ReadAt};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Scratch files

/// A scratch file removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// A new, not yet existing path in the target's scratch directory.
    pub fn new(tag: &str) -> TempFile {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        // Images cached in statics are never dropped: remove those of test processes that
        // have exited.
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = name
                    .strip_prefix("rsgrub-disk-")
                    .and_then(|r| r.split('-').next())
                else {
                    continue;
                };
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_file(e.path());
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        });
        let p = dir.join(format!("rsgrub-disk-{}-{n}-{tag}.img", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }

    /// A new sparse file of `size` bytes.
    pub fn sized(tag: &str, size: u64) -> TempFile {
        let t = TempFile::new(tag);
        let f = std::fs::File::create(&t.0).unwrap();
        f.set_len(size).unwrap();
        t
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }

    pub fn reader(&self) -> DynReader {
        rsgrub_disk::image::from_file(std::fs::File::open(&self.0).unwrap()).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An in-memory image.
pub fn mem(bytes: Vec<u8>) -> DynReader {
    Arc::new(bytes)
}

// ---------------------------------------------------------------------------------------------
// Tools

/// Is `tool` on PATH (or in /sbin, /usr/sbin)?
pub fn have(tool: &str) -> bool {
    which(tool).is_some()
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

/// Run a tool, feeding `stdin`; panic with its output unless it succeeds. Returns stdout.
pub fn run(tool: &str, args: &[&str], stdin: Option<&str>) -> String {
    let exe = which(tool).unwrap_or_else(|| panic!("{tool} is not installed"));
    let mut child = Command::new(exe)
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A partition as `sfdisk --json` reports it (sectors).
#[derive(Debug, Clone)]
pub struct SfPart {
    pub number: u32,
    pub start: u64,
    pub size: u64,
    pub kind: u8,
    pub bootable: bool,
}

/// Partitions of an MBR image according to `sfdisk --json` (extended containers included).
pub fn sfdisk_parts(img: &TempFile) -> Vec<SfPart> {
    let out = run("sfdisk", &["--json", img.s()], None);
    let json = Json::parse(&out);
    let table = json.get("partitiontable");
    assert_eq!(table.get("label").str(), "dos");
    assert_eq!(table.get("sectorsize").num(), 512);
    let node_prefix = img.s();
    table
        .get("partitions")
        .arr()
        .iter()
        .map(|p| SfPart {
            number: p
                .get("node")
                .str()
                .strip_prefix(node_prefix)
                .unwrap()
                .parse()
                .unwrap(),
            start: p.get("start").num(),
            size: p.get("size").num(),
            kind: u8::from_str_radix(p.get("type").str(), 16).unwrap(),
            bootable: p.opt("bootable").map(Json::bool).unwrap_or(false),
        })
        .collect()
}

/// A partition as `sgdisk -i` reports it.
#[derive(Debug, Clone)]
pub struct SgPart {
    pub number: u32,
    pub type_guid: String,
    pub unique_guid: String,
    pub first: u64,
    pub last: u64,
    pub name: String,
}

/// `sgdisk -p` → (logical sector size, partition numbers).
pub fn sgdisk_numbers(dev: &str) -> (u64, Vec<u32>) {
    let out = run("sgdisk", &["-p", dev], None);
    let mut sector = 0;
    let mut nums = Vec::new();
    let mut in_table = false;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Sector size (logical") {
            // "Sector size (logical): 512 bytes" or "(logical/physical): 4096/4096 bytes"
            let v = rest.split(':').nth(1).unwrap().trim();
            sector = v
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
        if line.starts_with("Number") {
            in_table = true;
            continue;
        }
        if in_table {
            if let Some(n) = line.split_whitespace().next() {
                nums.push(n.parse().unwrap());
            }
        }
    }
    (sector, nums)
}

/// `sgdisk -i N` for every partition.
pub fn sgdisk_parts(dev: &str) -> (u64, Vec<SgPart>) {
    let (sector, nums) = sgdisk_numbers(dev);
    let parts = nums
        .into_iter()
        .map(|n| {
            let out = run("sgdisk", &["-i", &n.to_string(), dev], None);
            let field = |key: &str| -> String {
                out.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_else(|| panic!("no {key:?} in {out}"))
                    .trim()
                    .to_string()
            };
            let first_word = |s: String| s.split_whitespace().next().unwrap().to_string();
            let name = field("Partition name:");
            SgPart {
                number: n,
                type_guid: first_word(field("Partition GUID code:")),
                unique_guid: first_word(field("Partition unique GUID:")),
                first: first_word(field("First sector:")).parse().unwrap(),
                last: first_word(field("Last sector:")).parse().unwrap(),
                name: name
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .unwrap()
                    .to_string(),
            }
        })
        .collect();
    (sector, parts)
}

/// A loop device with a given logical sector size, detached (by its own path) on drop.
pub struct Loop(pub String);

impl Loop {
    pub fn attach(file: &TempFile, sector: u32) -> Option<Loop> {
        let exe = which("losetup")?;
        let out = Command::new(exe)
            .args([
                "--find",
                "--show",
                "--sector-size",
                &sector.to_string(),
                file.s(),
            ])
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        let dev = String::from_utf8(out.stdout).ok()?.trim().to_string();
        dev.starts_with("/dev/loop").then_some(Loop(dev))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(b) = which("blockdev") {
            let _ = Command::new(b).args(["--flushbufs", &self.0]).status();
        }
        if let Some(l) = which("losetup") {
            let _ = Command::new(l).args(["-d", &self.0]).status();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny JSON parser, enough for `sfdisk --json`.

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    pub fn parse(s: &str) -> Json {
        let b = s.as_bytes();
        let mut i = 0;
        let v = parse_value(b, &mut i);
        skip_ws(b, &mut i);
        assert_eq!(i, b.len(), "trailing JSON");
        v
    }
    pub fn opt(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(k),
            _ => None,
        }
    }
    pub fn get(&self, k: &str) -> &Json {
        self.opt(k).unwrap_or_else(|| panic!("no key {k}"))
    }
    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn num(&self) -> u64 {
        match self {
            Json::Num(n) => *n as u64,
            other => panic!("not a number: {other:?}"),
        }
    }
    pub fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("not a bool: {other:?}"),
        }
    }
    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

fn parse_value(b: &[u8], i: &mut usize) -> Json {
    skip_ws(b, i);
    match b[*i] {
        b'{' => {
            *i += 1;
            let mut m = BTreeMap::new();
            loop {
                skip_ws(b, i);
                if b[*i] == b'}' {
                    *i += 1;
                    break;
                }
                let Json::Str(k) = parse_value(b, i) else {
                    panic!("object key")
                };
                skip_ws(b, i);
                assert_eq!(b[*i], b':');
                *i += 1;
                let v = parse_value(b, i);
                m.insert(k, v);
                skip_ws(b, i);
                if b[*i] == b',' {
                    *i += 1;
                }
            }
            Json::Obj(m)
        }
        b'[' => {
            *i += 1;
            let mut a = Vec::new();
            loop {
                skip_ws(b, i);
                if b[*i] == b']' {
                    *i += 1;
                    break;
                }
                a.push(parse_value(b, i));
                skip_ws(b, i);
                if b[*i] == b',' {
                    *i += 1;
                }
            }
            Json::Arr(a)
        }
        b'"' => {
            *i += 1;
            let mut s = String::new();
            while b[*i] != b'"' {
                if b[*i] == b'\\' {
                    *i += 1;
                    match b[*i] {
                        b'n' => s.push('\n'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let h = std::str::from_utf8(&b[*i + 1..*i + 5]).unwrap();
                            s.push(char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap());
                            *i += 4;
                        }
                        c => s.push(c as char),
                    }
                    *i += 1;
                } else {
                    let start = *i;
                    while b[*i] != b'"' && b[*i] != b'\\' {
                        *i += 1;
                    }
                    s.push_str(std::str::from_utf8(&b[start..*i]).unwrap());
                }
            }
            *i += 1;
            Json::Str(s)
        }
        b't' => {
            *i += 4;
            Json::Bool(true)
        }
        b'f' => {
            *i += 5;
            Json::Bool(false)
        }
        b'n' => {
            *i += 4;
            Json::Null
        }
        _ => {
            let start = *i;
            while *i < b.len() && (b[*i] == b'-' || b[*i] == b'.' || b[*i].is_ascii_alphanumeric())
            {
                *i += 1;
            }
            Json::Num(std::str::from_utf8(&b[start..*i]).unwrap().parse().unwrap())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Little-endian pokes

pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
pub fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
pub fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// Write an MBR-style 16-byte entry `slot` (0..4) of the sector at `sector_off`.
pub fn put_mbr_entry(
    b: &mut [u8],
    sector_off: usize,
    slot: usize,
    status: u8,
    kind: u8,
    lba: u32,
    sectors: u32,
) {
    let o = sector_off + 446 + 16 * slot;
    b[o..o + 16].fill(0);
    b[o] = status;
    b[o + 4] = kind;
    put32(b, o + 8, lba);
    put32(b, o + 12, sectors);
    b[sector_off + 510] = 0x55;
    b[sector_off + 511] = 0xAA;
}

// ---------------------------------------------------------------------------------------------
// GUIDs and GPT construction

/// Text GUID → on-disk (mixed-endian) bytes.
pub fn guid_bytes(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    assert_eq!(hex.len(), 32, "{s}");
    let mut raw = [0u8; 16];
    for (i, r) in raw.iter_mut().enumerate() {
        *r = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let mut g = raw;
    g[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    g[4..6].copy_from_slice(&[raw[5], raw[4]]);
    g[6..8].copy_from_slice(&[raw[7], raw[6]]);
    g
}

/// One partition for [`build_gpt`].
pub struct GptPart {
    /// 1-based entry index.
    pub index: u32,
    pub type_guid: &'static str,
    pub unique_guid: &'static str,
    pub first: u64,
    pub last: u64,
    pub name: &'static str,
}

/// A GPT image built by hand: protective MBR, primary header at LBA 1 with its array at LBA 2,
/// backup array and header at the end; 128 entries of 128 bytes; all CRCs right.
pub fn build_gpt(ss: usize, disk_bytes: usize, parts: &[GptPart]) -> Vec<u8> {
    let mut img = vec![0u8; disk_bytes];
    let sectors = (disk_bytes / ss) as u64;
    let count = 128usize;
    let esize = 128usize;
    let array_sectors = (count * esize).div_ceil(ss) as u64;
    // Protective MBR.
    let pm = u32::try_from(sectors - 1).unwrap_or(u32::MAX);
    put_mbr_entry(&mut img, 0, 0, 0, 0xEE, 1, pm);
    // Entry array.
    let mut array = vec![0u8; count * esize];
    for p in parts {
        let o = (p.index as usize - 1) * esize;
        array[o..o + 16].copy_from_slice(&guid_bytes(p.type_guid));
        array[o + 16..o + 32].copy_from_slice(&guid_bytes(p.unique_guid));
        put64(&mut array, o + 32, p.first);
        put64(&mut array, o + 40, p.last);
        for (k, u) in p.name.encode_utf16().take(36).enumerate() {
            put16(&mut array, o + 56 + 2 * k, u);
        }
    }
    let first_usable = 2 + array_sectors;
    let last_usable = sectors - 2 - array_sectors;
    let backup_lba = sectors - 1;
    let backup_array = sectors - 1 - array_sectors;
    for (my, alt, arr) in [(1, backup_lba, 2), (backup_lba, 1, backup_array)] {
        let a = arr as usize * ss;
        img[a..a + array.len()].copy_from_slice(&array);
        let h = my as usize * ss;
        let hdr = &mut img[h..h + ss];
        hdr[0..8].copy_from_slice(b"EFI PART");
        put32(hdr, 8, 0x0001_0000);
        put32(hdr, 12, 92);
        put64(hdr, 24, my);
        put64(hdr, 32, alt);
        put64(hdr, 40, first_usable);
        put64(hdr, 48, last_usable);
        hdr[56..72].copy_from_slice(&guid_bytes("12345678-9abc-def0-1122-334455667788"));
        put64(hdr, 72, arr);
        put32(hdr, 80, count as u32);
        put32(hdr, 84, esize as u32);
    }
    fix_gpt(&mut img, ss, 1);
    fix_gpt(&mut img, ss, backup_lba);
    img
}

/// Recompute the entry-array CRC (when the header's array lies inside `img` and is at most
/// 1 MiB) and then the header CRC of the header at `lba`, whatever the fields now say.
pub fn fix_gpt(img: &mut [u8], ss: usize, lba: u64) {
    let h = lba as usize * ss;
    if h + ss > img.len() {
        return;
    }
    let count = get32(img, h + 80) as u64;
    let esize = get32(img, h + 84) as u64;
    let arr = get64(img, h + 72);
    let bytes = count.saturating_mul(esize);
    if let Some(a) = arr.checked_mul(ss as u64) {
        if bytes <= 1 << 20 && a.saturating_add(bytes) <= img.len() as u64 {
            let crc = crc32fast::hash(&img[a as usize..(a + bytes) as usize]);
            put32(img, h + 88, crc);
        }
    }
    fix_header_crc(img, ss, lba);
}

/// Recompute only the header CRC of the header at `lba`.
pub fn fix_header_crc(img: &mut [u8], ss: usize, lba: u64) {
    let h = lba as usize * ss;
    let hs = (get32(img, h + 12) as usize).clamp(92, ss);
    put32(img, h + 16, 0);
    let crc = crc32fast::hash(&img[h..h + hs]);
    put32(img, h + 16, crc);
}

// ---------------------------------------------------------------------------------------------
// Fuzzing helpers

/// xorshift64* — deterministic, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `head` replaces the first `head.len()` bytes of `base`; the rest reads through.
pub struct Overlay {
    pub head: Vec<u8>,
    pub base: DynReader,
}

impl ReadAt for Overlay {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        rsgrub_io::check_range(offset, buf.len(), self.base.size())?;
        let hl = self.head.len() as u64;
        let mut done = 0usize;
        if offset < hl {
            let n = ((hl - offset) as usize).min(buf.len());
            buf[..n].copy_from_slice(&self.head[offset as usize..offset as usize + n]);
            done = n;
        }
        if done < buf.len() {
            self.base.read_at(offset + done as u64, &mut buf[done..])?;
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.base.size()
    }
}

/// Invariants every scan result must keep, whatever the input.
pub fn check_disk(disk: &rsgrub_disk::Disk, image_size: u64) {
    assert!(!disk.volumes.is_empty());
    for v in &disk.volumes {
        let end = v.start.checked_add(v.size).expect("volume end overflows");
        assert!(end <= image_size, "{v:?} past the end ({image_size})");
        assert_eq!(v.reader.size(), v.size);
        if v.name.is_empty() {
            assert_eq!(v.number, 0);
            assert_eq!(disk.table, rsgrub_disk::TableKind::None);
        } else {
            assert!(v.name.ends_with(&v.number.to_string()));
        }
    }
    assert!(disk.warnings.len() < 10_000);
}

// ---------------------------------------------------------------------------------------------
// Images with filesystems, image containers

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let t = TempFile::new(tag);
        let p = t.0.with_extension("d");
        drop(t);
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// An ext4 filesystem image of `size` bytes made by `mkfs.ext4 -d` from `files`
/// (path relative to the root, contents).
pub fn ext4_image(tag: &str, size: u64, label: &str, files: &[(&str, Vec<u8>)]) -> TempFile {
    let dir = TempDir::new(&format!("{tag}-root"));
    for (p, data) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
    }
    let img = TempFile::sized(tag, size);
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-L",
            label,
            "-d",
            dir.path().to_str().unwrap(),
            img.s(),
        ],
        None,
    );
    img
}

/// `dd` `src` into `dst` at byte `offset` (both multiples of 512), without truncating.
pub fn dd_into(dst: &TempFile, src: &Path, offset: u64) {
    assert_eq!(offset % 512, 0);
    run(
        "dd",
        &[
            &format!("if={}", src.to_str().unwrap()),
            &format!("of={}", dst.s()),
            "bs=512",
            &format!("seek={}", offset / 512),
            "conv=notrunc,sparse",
            "status=none",
        ],
        None,
    );
}

/// The ext4 superblock magic (0xEF53) and volume label read through `r`.
pub fn ext4_magic_and_label(r: &DynReader) -> (u16, String) {
    let mut sb = [0u8; 1024];
    r.read_at(1024, &mut sb).unwrap();
    let magic = u16::from_le_bytes([sb[56], sb[57]]);
    let label = String::from_utf8_lossy(&sb[120..136])
        .trim_end_matches('\0')
        .to_string();
    (magic, label)
}

/// Open an image file by detection (qcow2/VHD/raw), as the binary will.
pub fn open_image(path: &Path) -> rsgrub_disk::Result<DynReader> {
    let raw = Arc::new(rsgrub_io::FileReader::new(std::fs::File::open(path).unwrap()).unwrap());
    rsgrub_disk::image::open(raw, None)
}

/// `base` with byte ranges replaced.
pub struct Patched {
    pub base: DynReader,
    pub patches: Vec<(u64, Vec<u8>)>,
}

impl ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.base.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (at, data) in &self.patches {
            let pend = at + data.len() as u64;
            if *at >= end || pend <= offset {
                continue;
            }
            let from = (*at).max(offset);
            let to = pend.min(end);
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - at) as usize..(to - at) as usize]);
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.base.size()
    }
}

/// Assert `a` and `b` hold the same bytes: all of them in 1 MiB chunks, then `ranges`
/// random ranges of random lengths.
pub fn assert_same_bytes(a: &DynReader, b: &DynReader, ranges: usize, seed: u64) {
    assert_eq!(a.size(), b.size());
    let size = a.size();
    let mut x = vec![0u8; 1 << 20];
    let mut y = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < size {
        let n = ((size - off) as usize).min(x.len());
        a.read_at(off, &mut x[..n]).unwrap();
        b.read_at(off, &mut y[..n]).unwrap();
        assert!(x[..n] == y[..n], "bytes differ in the MiB at {off}");
        off += n as u64;
    }
    let mut rng = Rng::new(seed);
    for _ in 0..ranges {
        let len = 1 + rng.below(300_000) as usize;
        let len = len.min(size as usize).min(x.len());
        let at = rng.below(size - len as u64 + 1);
        a.read_at(at, &mut x[..len]).unwrap();
        b.read_at(at, &mut y[..len]).unwrap();
        assert!(x[..len] == y[..len], "range {at}+{len} differs");
    }
}
