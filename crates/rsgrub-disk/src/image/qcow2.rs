//! qcow2 (versions 2 and 3), read-only.
//!
//! Supported: L1/L2 tables (read on demand through a small bounded cache, never loaded
//! whole), unallocated and zero clusters (zeros, or the backing reader's bytes when one is
//! given), deflate (raw, as QEMU writes it) and zstd compressed clusters, v3 extended L2
//! entries (32 subclusters per cluster). Refcounts and snapshots are not needed to read the
//! active image and are ignored.
//!
//! Refused with a clear error: encryption, an external data file, unknown incompatible
//! features, and — unless the caller passes an already-open backing reader — a backing file
//! (the error names it; nothing is opened).
//!
//! Checked: `cluster_bits` in 9..=21; the L1 table (at most [`MAX_L1_ENTRIES`] entries,
//! cluster-aligned, inside the file, big enough for the virtual size); every L2 table and
//! data cluster offset (aligned, inside the file) when it is used; a compressed cluster must
//! inflate to exactly one cluster — decompression writes into a cluster-sized buffer and
//! more output is an error ("inflates beyond the cluster size").
use crate::{DiskError, Result};
use rsgrub_io::{be, check_range, BlockCache, DynReader, ReadAt};
use std::io;
use std::sync::{Arc, Mutex};

/// `QFI\xfb`.
pub const MAGIC: [u8; 4] = *b"QFI\xfb";
/// Smallest and largest `cluster_bits` (512 B .. 2 MiB, as QEMU).
pub const MIN_CLUSTER_BITS: u32 = 9;
/// See [`MIN_CLUSTER_BITS`].
pub const MAX_CLUSTER_BITS: u32 = 21;
/// Most L1 entries (QEMU's 32 MiB L1 limit).
pub const MAX_L1_ENTRIES: u64 = (32 << 20) / 8;
/// Longest backing file name (QEMU's limit).
pub const MAX_BACKING_NAME: u32 = 1023;
/// Most header extensions walked.
pub const MAX_EXTENSIONS: usize = 256;
/// Metadata cache: blocks of at most this size…
pub const META_BLOCK: u64 = 64 << 10;
/// …and at most this many of them.
pub const META_BLOCKS: usize = 64;
/// Most pieces a `physical_range` query walks.
pub const MAX_PHYSICAL_PIECES: u64 = 1 << 16;

const FORMAT: &str = "qcow2";
const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const QCOW_OFLAG_COMPRESSED: u64 = 1 << 62;
const QCOW_OFLAG_ZERO: u64 = 1;

/// Incompatible feature bits.
pub mod incompat {
    /// Refcounts may be inconsistent (harmless for reading).
    pub const DIRTY: u64 = 1 << 0;
    /// Image is marked corrupt (QEMU still opens it read-only).
    pub const CORRUPT: u64 = 1 << 1;
    /// Data lives in an external file: refused.
    pub const EXTERNAL_DATA: u64 = 1 << 2;
    /// `compression_type` field is meaningful.
    pub const COMPRESSION_TYPE: u64 = 1 << 3;
    /// 128-bit L2 entries with subcluster bitmaps.
    pub const EXTENDED_L2: u64 = 1 << 4;
    /// Every bit we understand.
    pub const KNOWN: u64 = DIRTY | CORRUPT | EXTERNAL_DATA | COMPRESSION_TYPE | EXTENDED_L2;
}

/// Compression of compressed clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Raw deflate.
    Zlib,
    /// Zstandard.
    Zstd,
}

/// A checked header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// Backing file name, if any (lossy UTF-8).
    pub backing_file: Option<String>,
    /// log2 of the cluster size.
    pub cluster_bits: u32,
    /// Virtual disk size.
    pub size: u64,
    /// L1 entries.
    pub l1_size: u32,
    /// L1 table offset.
    pub l1_offset: u64,
    /// Incompatible feature bits (v3).
    pub incompatible: u64,
    /// Compressed-cluster algorithm.
    pub compression: Compression,
    /// v3 extended L2 entries.
    pub extended_l2: bool,
}

impl Header {
    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u64 {
        1u64 << self.cluster_bits
    }
}

fn bad(what: impl Into<String>) -> DiskError {
    DiskError::Image {
        format: FORMAT,
        what: what.into(),
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{FORMAT}: {what}"))
}

/// Whether `b` starts with the qcow2 magic.
pub fn is_qcow2(b: &[u8]) -> bool {
    b.get(0..4) == Some(&MAGIC[..])
}

/// Read and check the header of `file`.
pub fn parse_header(file: &DynReader) -> Result<Header> {
    let fsize = file.size();
    let mut h = [0u8; 112];
    let n = usize::try_from(fsize.min(112)).unwrap_or(112);
    file.read_at(0, h.get_mut(..n).ok_or_else(|| bad("short header"))?)?;
    if !is_qcow2(&h) {
        return Err(bad("no QFI\\xfb magic"));
    }
    let short = || bad(format!("header is truncated (file is {fsize} bytes)"));
    let u32f = |o| be::u32(&h, o).ok_or_else(short);
    let u64f = |o| be::u64(&h, o).ok_or_else(short);
    let version = u32f(4)?;
    if version != 2 && version != 3 {
        return Err(bad(format!("version {version} (only 2 and 3 are read)")));
    }
    if fsize < 72 {
        return Err(short());
    }
    let backing_offset = u64f(8)?;
    let backing_size = u32f(16)?;
    let cluster_bits = u32f(20)?;
    if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
        return Err(bad(format!(
            "cluster_bits {cluster_bits} is not within {MIN_CLUSTER_BITS}..={MAX_CLUSTER_BITS}"
        )));
    }
    let cs = 1u64 << cluster_bits;
    let size = u64f(24)?;
    let crypt = u32f(32)?;
    if crypt != 0 {
        let what = match crypt {
            1 => "AES",
            2 => "LUKS",
            _ => "unknown",
        };
        return Err(bad(format!(
            "image is encrypted (method {crypt}, {what}); encrypted images are not read"
        )));
    }
    let l1_size = u32f(36)?;
    let l1_offset = u64f(40)?;
    let (mut incompatible, mut header_length, mut compression_byte) = (0u64, 72u64, 0u8);
    if version == 3 {
        if fsize < 104 {
            return Err(short());
        }
        incompatible = u64f(72)?;
        header_length = u64::from(u32f(100)?);
        if header_length < 104 || header_length > cs || header_length > fsize {
            return Err(bad(format!(
                "header_length {header_length} is not within 104..=cluster size ({cs})"
            )));
        }
        if header_length > 104 {
            compression_byte = *h.get(104).ok_or_else(short)?;
        }
    }
    let unknown = incompatible & !incompat::KNOWN;
    if unknown != 0 {
        return Err(bad(format!(
            "unknown incompatible features 0x{unknown:x}; not read"
        )));
    }
    let compression = match compression_byte {
        0 => Compression::Zlib,
        1 => Compression::Zstd,
        c => return Err(bad(format!("unknown compression type {c}"))),
    };
    let extended_l2 = incompatible & incompat::EXTENDED_L2 != 0;
    if extended_l2 && cluster_bits < 14 {
        return Err(bad(format!(
            "extended L2 entries with {cs}-byte clusters (at least 16384 needed)"
        )));
    }

    // Header extensions: the external data file name, for the error message.
    let mut ext_data_name = None;
    let ext_end = cs.min(fsize);
    let mut pos = header_length;
    for _ in 0..MAX_EXTENSIONS {
        let Some(body) = pos.checked_add(8).filter(|e| *e <= ext_end) else {
            break;
        };
        let mut eh = [0u8; 8];
        file.read_at(pos, &mut eh)?;
        let kind = be::u32(&eh, 0).unwrap_or(0);
        let len = u64::from(be::u32(&eh, 4).unwrap_or(0));
        if kind == 0 {
            break;
        }
        let Some(end) = body.checked_add(len).filter(|e| *e <= ext_end) else {
            return Err(bad(format!(
                "header extension 0x{kind:08x} of {len} bytes runs past the first cluster"
            )));
        };
        if kind == 0x4441_5441 && len <= u64::from(MAX_BACKING_NAME) {
            let mut name = vec![0u8; usize::try_from(len).unwrap_or(0)];
            file.read_at(body, &mut name)?;
            ext_data_name = Some(String::from_utf8_lossy(&name).into_owned());
        }
        pos = end.div_ceil(8).saturating_mul(8);
    }
    if incompatible & incompat::EXTERNAL_DATA != 0 {
        return Err(bad(format!(
            "data is in an external file{}; not opened",
            ext_data_name.map(|n| format!(" {n:?}")).unwrap_or_default()
        )));
    }

    let backing_file = if backing_offset != 0 {
        if backing_size == 0 || backing_size > MAX_BACKING_NAME {
            return Err(bad(format!(
                "backing file name of {backing_size} bytes (1..={MAX_BACKING_NAME})"
            )));
        }
        let end = backing_offset
            .checked_add(u64::from(backing_size))
            .filter(|e| *e <= cs && *e <= fsize)
            .ok_or_else(|| {
                bad(format!(
                    "backing file name at {backing_offset} is outside the first cluster"
                ))
            })?;
        let mut name = vec![0u8; usize::try_from(end - backing_offset).unwrap_or(0)];
        file.read_at(backing_offset, &mut name)?;
        Some(String::from_utf8_lossy(&name).into_owned())
    } else {
        None
    };

    // L1: big enough for the virtual size, bounded, inside the file.
    let entry_bytes: u64 = if extended_l2 { 16 } else { 8 };
    let l2_entries = cs / entry_bytes;
    let per_l1 = l2_entries
        .checked_mul(cs)
        .ok_or_else(|| bad("L2 coverage overflows"))?;
    let needed = size.div_ceil(per_l1);
    if u64::from(l1_size) > MAX_L1_ENTRIES {
        return Err(bad(format!(
            "L1 table of {l1_size} entries is larger than {MAX_L1_ENTRIES}"
        )));
    }
    if needed > u64::from(l1_size) {
        return Err(bad(format!(
            "L1 table of {l1_size} entries is too small for a {size}-byte disk ({needed} needed)"
        )));
    }
    if !l1_offset.is_multiple_of(cs) {
        return Err(bad(format!(
            "L1 table offset {l1_offset} is not cluster-aligned"
        )));
    }
    let l1_end = u64::from(l1_size)
        .checked_mul(8)
        .and_then(|b| b.checked_add(l1_offset))
        .ok_or_else(|| bad("L1 table end overflows"))?;
    if needed > 0 && (l1_offset == 0 || l1_end > fsize) {
        return Err(bad(format!(
            "L1 table at {l1_offset}..{l1_end} is not inside the file ({fsize} bytes)"
        )));
    }
    Ok(Header {
        version,
        backing_file,
        cluster_bits,
        size,
        l1_size,
        l1_offset,
        incompatible,
        compression,
        extended_l2,
    })
}

/// Where one guest cluster (or subcluster) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Map {
    /// Not allocated: backing file or zeros.
    Unallocated,
    /// Reads as zeros.
    Zero,
    /// Host offset of the (sub)cluster's first byte.
    Data(u64),
    /// Compressed cluster: host offset and stored length.
    Compressed(u64, u64),
}

/// A qcow2 image as a reader of its virtual disk.
pub struct Qcow2 {
    file: DynReader,
    backing: Option<DynReader>,
    header: Header,
    cluster: u64,
    l2_entries: u64,
    entry_bytes: u64,
    meta: BlockCache<DynReader>,
    /// The last decompressed cluster: (guest cluster index, bytes).
    inflated: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl Qcow2 {
    /// Open `file` (the qcow2 bytes). A backing file is an error naming it unless `backing`
    /// (an already-open reader of the backing image) is given.
    pub fn open(file: DynReader, backing: Option<DynReader>) -> Result<Qcow2> {
        let header = parse_header(&file)?;
        if let (Some(name), None) = (&header.backing_file, &backing) {
            return Err(DiskError::BackingFile {
                format: FORMAT,
                name: name.clone(),
            });
        }
        let cluster = header.cluster_size();
        let entry_bytes = if header.extended_l2 { 16 } else { 8 };
        let block = usize::try_from(cluster.min(META_BLOCK)).unwrap_or(512);
        Ok(Qcow2 {
            meta: BlockCache::new(file.clone(), block, META_BLOCKS),
            file,
            backing: if header.backing_file.is_some() {
                backing
            } else {
                None
            },
            l2_entries: cluster / entry_bytes,
            entry_bytes,
            cluster,
            header,
            inflated: Mutex::new(None),
        })
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// (hits, misses) of the L1/L2 cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.meta.stats()
    }

    fn meta_u64(&self, off: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.meta.read_at(off, &mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    /// The mapping of the byte at guest offset `pos`, and how many bytes from `pos` share it
    /// (to the end of the cluster or subcluster).
    fn lookup(&self, pos: u64) -> io::Result<(Map, u64)> {
        let cb = self.header.cluster_bits;
        let vcl = pos >> cb;
        let within = pos & (self.cluster - 1);
        let to_end = self.cluster - within;
        let l1_index = vcl / self.l2_entries;
        if l1_index >= u64::from(self.header.l1_size) {
            return Err(invalid(format!("offset {pos} is beyond the L1 table")));
        }
        let l1e = self.meta_u64(self.header.l1_offset + 8 * l1_index)?;
        let l2 = l1e & L1E_OFFSET_MASK;
        if l2 == 0 {
            return Ok((Map::Unallocated, to_end));
        }
        if !l2.is_multiple_of(self.cluster) {
            return Err(invalid(format!(
                "L1 entry {l1_index} points to an unaligned L2 table at {l2}"
            )));
        }
        if l2
            .checked_add(self.cluster)
            .is_none_or(|e| e > self.file.size())
        {
            return Err(invalid(format!(
                "L1 entry {l1_index} points to an L2 table at {l2}, past the end of the file \
                 ({} bytes)",
                self.file.size()
            )));
        }
        let eoff = l2 + (vcl % self.l2_entries) * self.entry_bytes;
        let e = self.meta_u64(eoff)?;
        if e & QCOW_OFLAG_COMPRESSED != 0 {
            let x = 62 - (cb - 8);
            let host = e & ((1u64 << x) - 1);
            let sectors = (e >> x) & ((1u64 << (cb - 8)) - 1);
            let len = (sectors + 1) * 512 - (host & 511);
            return Ok((Map::Compressed(host, len), to_end));
        }
        let host = e & L2E_OFFSET_MASK;
        let check_host = |h: u64| -> io::Result<()> {
            if !h.is_multiple_of(self.cluster) {
                return Err(invalid(format!(
                    "L2 entry for guest cluster {vcl} points to an unaligned cluster at {h}"
                )));
            }
            if h >= self.file.size() {
                return Err(invalid(format!(
                    "L2 entry for guest cluster {vcl} points to {h}, past the end of the file \
                     ({} bytes)",
                    self.file.size()
                )));
            }
            Ok(())
        };
        if self.header.extended_l2 {
            let bitmap = self.meta_u64(eoff + 8)?;
            let sc = self.cluster / 32;
            let i = within / sc;
            let to_sub_end = sc - within % sc;
            let alloc = bitmap >> i & 1 != 0;
            let zero = bitmap >> (32 + i) & 1 != 0;
            return match (alloc, zero) {
                (true, true) => Err(invalid(format!(
                    "subcluster {i} of guest cluster {vcl} is both allocated and zero"
                ))),
                (_, true) => Ok((Map::Zero, to_sub_end)),
                (true, false) => {
                    check_host(host)?;
                    Ok((Map::Data(host + i * sc), to_sub_end))
                }
                (false, false) => Ok((Map::Unallocated, to_sub_end)),
            };
        }
        if e & QCOW_OFLAG_ZERO != 0 {
            return Ok((Map::Zero, to_end));
        }
        if host == 0 {
            return Ok((Map::Unallocated, to_end));
        }
        check_host(host)?;
        Ok((Map::Data(host), to_end))
    }

    /// The decompressed bytes of guest cluster `vcl`.
    fn inflate(&self, vcl: u64, host: u64, len: u64) -> io::Result<Arc<Vec<u8>>> {
        if let Ok(g) = self.inflated.lock() {
            if let Some((c, data)) = g.as_ref() {
                if *c == vcl {
                    return Ok(data.clone());
                }
            }
        }
        let fsize = self.file.size();
        if host >= fsize {
            return Err(invalid(format!(
                "compressed guest cluster {vcl} is at {host}, past the end of the file \
                 ({fsize} bytes)"
            )));
        }
        // The stored length is rounded to sectors; the last cluster may end before that.
        let avail = len.min(fsize - host);
        let mut input = vec![0u8; usize::try_from(avail).map_err(|_| invalid("size".into()))?];
        self.file.read_at(host, &mut input)?;
        let mut out = vec![0u8; usize::try_from(self.cluster).map_err(|_| invalid("size".into()))?];
        match self.header.compression {
            Compression::Zlib => inflate_deflate(&input, &mut out),
            Compression::Zstd => inflate_zstd(&input, &mut out),
        }
        .map_err(|e| invalid(format!("compressed guest cluster {vcl} at {host}: {e}")))?;
        let data = Arc::new(out);
        if let Ok(mut g) = self.inflated.lock() {
            *g = Some((vcl, data.clone()));
        }
        Ok(data)
    }

    fn read_backing(&self, pos: u64, dst: &mut [u8]) -> io::Result<()> {
        dst.fill(0);
        if let Some(b) = &self.backing {
            let bsize = b.size();
            if pos < bsize {
                let n = usize::try_from(bsize - pos)
                    .unwrap_or(usize::MAX)
                    .min(dst.len());
                if let Some(d) = dst.get_mut(..n) {
                    b.read_at(pos, d)?;
                }
            }
        }
        Ok(())
    }

    /// Read data clusters `[host, host + dst.len())`; past the end of the file reads zeros
    /// (QEMU does the same for a last cluster the file does not fully hold).
    fn read_host(&self, host: u64, dst: &mut [u8]) -> io::Result<()> {
        let fsize = self.file.size();
        let n = usize::try_from(fsize.saturating_sub(host))
            .unwrap_or(usize::MAX)
            .min(dst.len());
        let (a, b) = dst.split_at_mut(n);
        if !a.is_empty() {
            self.file.read_at(host, a)?;
        }
        b.fill(0);
        Ok(())
    }
}

/// Raw deflate into `out`, which must be filled exactly.
pub fn inflate_deflate(input: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    let mut d = DecompressorOxide::new();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut d, input, out, 0, flags);
    match status {
        TINFLStatus::Done if written == out.len() => Ok(()),
        TINFLStatus::Done => Err(format!(
            "inflates to {written} bytes instead of {}",
            out.len()
        )),
        TINFLStatus::HasMoreOutput => Err("inflates beyond the cluster size".into()),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            Err("compressed data is truncated".into())
        }
        other => Err(format!("corrupt deflate data ({other:?})")),
    }
}

/// Largest zstd window accepted (clusters are at most 2 MiB).
pub const MAX_ZSTD_WINDOW: u64 = 8 << 20;

/// Check a zstd frame header before the decoder sizes its window from it.
fn zstd_window(input: &[u8]) -> std::result::Result<u64, String> {
    if input.get(0..4) != Some(&[0x28, 0xB5, 0x2F, 0xFD][..]) {
        return Err("no zstd frame magic".into());
    }
    let fhd = *input.get(4).ok_or("truncated zstd frame header")?;
    let fcs_flag = fhd >> 6;
    let single = fhd & 0x20 != 0;
    let dict_flag = fhd & 3;
    if dict_flag != 0 {
        return Err("zstd frame needs a dictionary".into());
    }
    let mut pos = 5usize;
    let mut window = 0u64;
    if !single {
        let wd = *input.get(pos).ok_or("truncated zstd frame header")?;
        pos += 1;
        let exp = u32::from(wd >> 3);
        let base = 1u64 << (10 + exp);
        window = base + (base / 8) * u64::from(wd & 7);
    }
    let fcs_len = match (fcs_flag, single) {
        (0, true) => 1,
        (0, false) => 0,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    if single {
        let b = input
            .get(pos..pos + fcs_len)
            .ok_or("truncated zstd frame header")?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= u64::from(*x) << (8 * i);
        }
        window = if fcs_len == 2 { v + 256 } else { v };
    }
    if window > MAX_ZSTD_WINDOW {
        return Err(format!("zstd window of {window} bytes is too large"));
    }
    Ok(window)
}

/// One zstd frame into `out`, which must be filled exactly; trailing bytes are ignored.
/// Decoded by libzstd (the `zstd` crate) with the window capped as checked here.
pub fn inflate_zstd(input: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    use zstd::zstd_safe;
    zstd_window(input)?;
    let name = |e: usize| zstd_safe::get_error_name(e).to_string();
    let flen = zstd_safe::find_frame_compressed_size(input)
        .map_err(|e| format!("corrupt zstd frame: {}", name(e)))?;
    let frame = input.get(..flen).ok_or("corrupt zstd frame: size")?;
    let mut dctx = zstd_safe::DCtx::create();
    // libzstd enforces the same bound (MAX_ZSTD_WINDOW = 2^23).
    dctx.set_parameter(zstd_safe::DParameter::WindowLogMax(23))
        .map_err(|e| format!("zstd: {}", name(e)))?;
    let want = out.len();
    match dctx.decompress(&mut *out, frame) {
        Ok(n) if n == want => Ok(()),
        Ok(n) => Err(format!("inflates to {n} bytes instead of {want}")),
        Err(e) if name(e).contains("too small") => Err("inflates beyond the cluster size".into()),
        Err(e) => Err(format!("corrupt zstd data: {}", name(e))),
    }
}

impl ReadAt for Qcow2 {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.header.size)?;
        let mut done = 0usize;
        // A run of data (sub)clusters adjacent in the file, read with one pread:
        // (host offset, start in buf, length).
        let mut run: Option<(u64, usize, usize)> = None;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (map, avail) = self.lookup(pos)?;
            let n = usize::try_from(avail)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            if let Map::Data(h) = map {
                let within = pos & (self.cluster - 1);
                let sub = if self.header.extended_l2 {
                    within % (self.cluster / 32)
                } else {
                    within
                };
                let host = h + sub;
                match run {
                    Some((rh, rs, rl)) if rh + rl as u64 == host && rs + rl == done => {
                        run = Some((rh, rs, rl + n));
                    }
                    _ => {
                        if let Some((rh, rs, rl)) = run.take() {
                            self.read_host(rh, buf.get_mut(rs..rs + rl).unwrap_or(&mut []))?;
                        }
                        run = Some((host, done, n));
                    }
                }
                done += n;
                continue;
            }
            if let Some((rh, rs, rl)) = run.take() {
                self.read_host(rh, buf.get_mut(rs..rs + rl).unwrap_or(&mut []))?;
            }
            let dst = buf
                .get_mut(done..done + n)
                .ok_or_else(|| invalid("buffer".into()))?;
            match map {
                Map::Zero => dst.fill(0),
                Map::Unallocated => self.read_backing(pos, dst)?,
                Map::Compressed(host, len) => {
                    let data = self.inflate(pos >> self.header.cluster_bits, host, len)?;
                    let within = usize::try_from(pos & (self.cluster - 1)).unwrap_or(0);
                    let src = data
                        .get(within..within + n)
                        .ok_or_else(|| invalid("decompressed cluster".into()))?;
                    dst.copy_from_slice(src);
                }
                Map::Data(_) => {}
            }
            done += n;
        }
        if let Some((rh, rs, rl)) = run {
            self.read_host(rh, buf.get_mut(rs..rs + rl).unwrap_or(&mut []))?;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.header.size
    }

    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        if offset.checked_add(len)? > self.header.size {
            return None;
        }
        let mut first = None;
        let mut next = 0u64;
        let mut done = 0u64;
        let mut pieces = 0u64;
        while done < len {
            pieces += 1;
            if pieces > MAX_PHYSICAL_PIECES {
                return None;
            }
            let pos = offset + done;
            let (map, avail) = self.lookup(pos).ok()?;
            let Map::Data(h) = map else {
                return None;
            };
            let within = pos & (self.cluster - 1);
            let sub = if self.header.extended_l2 {
                within % (self.cluster / 32)
            } else {
                within
            };
            let host = h + sub;
            let n = avail.min(len - done);
            if host.checked_add(n)? > self.file.size() {
                return None;
            }
            match first {
                None => first = Some(host),
                Some(_) if host != next => return None,
                Some(_) => {}
            }
            next = host + n;
            done += n;
        }
        let first = match first {
            Some(f) => f,
            None => {
                // Empty range: map its start if it is plainly stored.
                let (map, _) = self.lookup(offset).ok()?;
                let Map::Data(h) = map else { return None };
                let within = offset & (self.cluster - 1);
                if self.header.extended_l2 {
                    h + within % (self.cluster / 32)
                } else {
                    h + within
                }
            }
        };
        self.file.physical_range(first, len)
    }
}
