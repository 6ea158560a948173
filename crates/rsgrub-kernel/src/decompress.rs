//! Bounded decompression of kernel payloads, stopping as soon as the ELF scanner has what it
//! needs.
//!
//! Formats are recognised by the magic numbers the kernel's own decompressors
//! (`lib/decompress.c`) use. Decoders: flate2 (miniz_oxide) for gzip, bzip2 (its pure-Rust
//! libbz2-rs-sys back end), lzma-rust2 without its `optimization` feature (so 100 % safe
//! Rust, with a memory limit) for xz (incl. the x86 BCJ filter the kernel's xz_wrap.sh uses)
//! and legacy lzma, libzstd (the `zstd` crate) for zstd (128 MiB window cap), lz4_flex's safe block decoder for
//! the legacy LZ4 frames `lz4 -l` writes, and lzokay for the LZO1X blocks of lzop files.
//! The lz4-legacy and lzop containers are parsed here (about 100 lines; no crate reads the
//! legacy LZ4 frame or the lzop container without a C library).

use crate::elf::{scan, ElfScan, Fetch, Scan, Source};
use rsgrub_io::ReadAt;
use std::io::{self, Read};

/// Decompress at most this much of a payload (Linux's vmlinux has its notes ~22 MiB in).
pub const MAX_OUTPUT: u64 = 64 << 20;
/// Read at most this much compressed input (a kernel payload is a few tens of MiB).
pub const MAX_INPUT: u64 = 256 << 20;
/// Decoder memory limit for xz / lzma dictionaries (KiB).
const DECODER_MEM_KB: u32 = 160 << 10;
/// The decompressed bytes are taken in steps of this size.
const CHUNK: usize = 256 << 10;

/// A compression format of a kernel payload or a compressed kernel file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// legacy .lzma (`5d 00 00`).
    Lzma,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// lzop (`89 4c 5a 4f 00 0d 0a 1a 0a`).
    Lzo,
    /// LZ4 legacy frame (`02 21 4c 18`), as `lz4 -l` writes for the kernel.
    Lz4,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// Not compressed: the payload is the ELF itself.
    None,
}

impl Compression {
    /// Lower-case name, as in the kernel's CONFIG_KERNEL_* choices.
    /// Whether this codec decodes here at about the speed of a copy (none, LZ4, zstd, LZO),
    /// so the boot path can afford to look inside.
    pub fn is_fast(self) -> bool {
        matches!(
            self,
            Compression::None | Compression::Lz4 | Compression::Zstd | Compression::Lzo
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::None => "uncompressed",
        }
    }

    /// Recognise a format by its first bytes (at least 9 are looked at when present).
    pub fn detect(b: &[u8]) -> Option<Compression> {
        let starts = |m: &[u8]| b.get(..m.len()) == Some(m);
        if starts(b"\x1f\x8b") || starts(b"\x1f\x9e") {
            Some(Compression::Gzip)
        } else if starts(b"BZh") {
            Some(Compression::Bzip2)
        } else if starts(b"\xfd7zXZ\x00") {
            Some(Compression::Xz)
        } else if starts(b"\x89LZO\x00\x0d\x0a\x1a\x0a") {
            Some(Compression::Lzo)
        } else if starts(b"\x02\x21\x4c\x18") {
            Some(Compression::Lz4)
        } else if starts(b"\x28\xb5\x2f\xfd") {
            Some(Compression::Zstd)
        } else if starts(b"\x5d\x00\x00") {
            Some(Compression::Lzma)
        } else if crate::elf::is_elf(b) {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// What decompressing a payload and scanning it gave.
#[derive(Debug, Default)]
pub(crate) struct Decompressed {
    pub scan: ElfScan,
    /// Bytes decompressed.
    pub produced: u64,
    /// Decompression stopped at [`MAX_OUTPUT`] with the scan still wanting more.
    pub hit_bound: bool,
}

/// `Read` over `[start, start+len)` of a reader.
struct RangeRead<'a> {
    r: &'a dyn ReadAt,
    pos: u64,
    end: u64,
}

impl Read for RangeRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let Some(dst) = buf.get_mut(..n) else {
            return Ok(0);
        };
        if n == 0 {
            return Ok(0);
        }
        self.r.read_at(self.pos, dst)?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl io::Seek for RangeRead<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let base = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.end.checked_add_signed(d),
        };
        // Positions are absolute in the reader; past `end` reads return nothing.
        self.pos = base.ok_or_else(|| bad("seek out of range"))?;
        Ok(self.pos)
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// The legacy LZ4 frame: magic, then blocks of `u32 LE compressed size` + data, each
/// decompressing independently to at most 8 MiB.
struct Lz4Legacy<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    /// A block size already read (by `skip`, looking one block ahead).
    pending: Option<usize>,
}

const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;
const LZ4_BLOCK: usize = 8 << 20;
/// LZ4_compressBound(8 MiB).
const LZ4_MAX_COMPRESSED: usize = LZ4_BLOCK + LZ4_BLOCK / 255 + 16;

/// Read exactly `buf.len()` bytes, or fewer only at end of input. Returns the count.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let Some(dst) = buf.get_mut(got..) else { break };
        match r.read(dst) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> Lz4Legacy<R> {
    fn new(mut inner: R) -> io::Result<Self> {
        let mut m = [0u8; 4];
        if read_full(&mut inner, &mut m)? != 4 || u32::from_le_bytes(m) != LZ4_LEGACY_MAGIC {
            return Err(bad("not an LZ4 legacy frame"));
        }
        Ok(Lz4Legacy {
            inner,
            out: Vec::new(),
            pos: 0,
            done: false,
            pending: None,
        })
    }

    /// The next block's compressed size, or `None` at the end of the frame.
    fn block_size(&mut self) -> io::Result<Option<usize>> {
        if let Some(n) = self.pending.take() {
            return Ok(Some(n));
        }
        loop {
            let mut s = [0u8; 4];
            let got = read_full(&mut self.inner, &mut s)?;
            if got < 4 {
                return Ok(None);
            }
            let size = u32::from_le_bytes(s);
            if size == LZ4_LEGACY_MAGIC {
                // Concatenated frames.
                continue;
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size == 0 || size > LZ4_MAX_COMPRESSED {
                // The kernel appends the decompressed size after the frame; a "block size"
                // that cannot be one ends the frame.
                return Ok(None);
            }
            return Ok(Some(size));
        }
    }

    fn next_block(&mut self) -> io::Result<()> {
        let Some(size) = self.block_size()? else {
            self.done = true;
            return Ok(());
        };
        // A fresh zeroed buffer (calloc: new pages need no memset).
        let mut input = vec![0u8; size];
        if read_full(&mut self.inner, &mut input)? != size {
            return Err(bad("LZ4 block truncated"));
        }
        self.out.resize(LZ4_BLOCK, 0);
        let n = lz4_flex::block::decompress_into(&input, &mut self.out)
            .map_err(|e| bad(format!("LZ4 block: {e}")))?;
        self.out.truncate(n);
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read + io::Seek> Decode for Lz4Legacy<R> {
    /// Whole blocks that are not the last are passed over undecoded, taken as the 8 MiB
    /// `lz4 -l` writes (the caller checks the result, see `decompress_and_scan_bounded`).
    fn skip(&mut self, n: u64) -> io::Result<(u64, bool)> {
        let mut done = 0u64;
        let mut undecoded = false;
        while done < n {
            let left_in_block = self.out.len().saturating_sub(self.pos);
            if left_in_block > 0 {
                let k = usize::try_from(n - done)
                    .unwrap_or(usize::MAX)
                    .min(left_in_block);
                self.pos += k;
                done = done.saturating_add(k as u64);
                continue;
            }
            if self.done {
                break;
            }
            let block = LZ4_BLOCK as u64;
            if n - done >= block {
                // Skip this block only if another follows it (so it is not the short last one).
                let Some(size) = self.block_size()? else {
                    self.done = true;
                    break;
                };
                let here = self.inner.stream_position()?;
                self.inner.seek(io::SeekFrom::Current(size as i64))?;
                match self.block_size()? {
                    Some(next) => {
                        self.pending = Some(next);
                        done = done.saturating_add(block);
                        undecoded = true;
                        continue;
                    }
                    None => {
                        // The last block: go back and decode it.
                        self.inner.seek(io::SeekFrom::Start(here))?;
                        self.pending = Some(size);
                    }
                }
            }
            self.next_block()?;
        }
        Ok((done, undecoded))
    }
}

impl<R: Read> Read for Lz4Legacy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.next_block()?;
        }
        let src = self.out.get(self.pos..).unwrap_or_default();
        let n = src.len().min(buf.len());
        if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        self.pos += n;
        Ok(n)
    }
}

/// An lzop file: header, then blocks of `u32 BE dst_len` (0 ends), `u32 BE src_len`, the
/// checksums the header flags announce, and LZO1X data (stored when src_len == dst_len).
struct Lzop<R> {
    inner: R,
    flags: u32,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

const LZOP_F_ADLER32_D: u32 = 0x1;
const LZOP_F_ADLER32_C: u32 = 0x2;
const LZOP_F_H_EXTRA_FIELD: u32 = 0x40;
const LZOP_F_CRC32_D: u32 = 0x100;
const LZOP_F_CRC32_C: u32 = 0x200;
const LZOP_F_H_FILTER: u32 = 0x800;
/// lzop writes 256 KiB blocks (the kernel's unlzo refuses more); allow some slack.
const LZOP_MAX_BLOCK: u32 = 8 << 20;

fn be32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    if read_full(r, &mut b)? != 4 {
        return Err(bad("lzop: truncated"));
    }
    Ok(u32::from_be_bytes(b))
}

fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    let got = io::copy(&mut r.take(n), &mut io::sink())?;
    if got != n {
        return Err(bad("lzop: truncated header"));
    }
    Ok(())
}

impl<R: Read> Lzop<R> {
    fn new(mut inner: R) -> io::Result<Self> {
        let mut h = [0u8; 9 + 7];
        if read_full(&mut inner, &mut h)? != h.len() {
            return Err(bad("lzop: truncated header"));
        }
        if h.get(..9) != Some(b"\x89LZO\x00\x0d\x0a\x1a\x0a".as_slice()) {
            return Err(bad("not an lzop file"));
        }
        // version (2), lib version (2), version needed (2), method (1).
        let version = u16::from_be_bytes([
            h.get(9).copied().unwrap_or(0),
            h.get(10).copied().unwrap_or(0),
        ]);
        if version >= 0x0940 {
            skip(&mut inner, 1)?; // level
        }
        let flags = be32(&mut inner)?;
        if flags & LZOP_F_H_FILTER != 0 {
            skip(&mut inner, 4)?;
        }
        // mode, mtime_low, mtime_high (0x0940+).
        skip(&mut inner, if version >= 0x0940 { 12 } else { 8 })?;
        let mut l = [0u8; 1];
        if read_full(&mut inner, &mut l)? != 1 {
            return Err(bad("lzop: truncated header"));
        }
        // file name, header checksum.
        skip(&mut inner, u64::from(l[0]) + 4)?;
        if flags & LZOP_F_H_EXTRA_FIELD != 0 {
            let len = be32(&mut inner)?;
            skip(&mut inner, u64::from(len) + 4)?;
        }
        Ok(Lzop {
            inner,
            flags,
            out: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    fn next_block(&mut self) -> io::Result<()> {
        let dst_len = be32(&mut self.inner)?;
        if dst_len == 0 {
            self.done = true;
            return Ok(());
        }
        if dst_len > LZOP_MAX_BLOCK {
            return Err(bad(format!("lzop: block of {dst_len} bytes")));
        }
        let src_len = be32(&mut self.inner)?;
        if src_len == 0 || src_len > dst_len {
            return Err(bad("lzop: bad block size"));
        }
        let mut sums = 0u64;
        if self.flags & LZOP_F_ADLER32_D != 0 {
            sums += 4;
        }
        if self.flags & LZOP_F_CRC32_D != 0 {
            sums += 4;
        }
        if src_len < dst_len {
            if self.flags & LZOP_F_ADLER32_C != 0 {
                sums += 4;
            }
            if self.flags & LZOP_F_CRC32_C != 0 {
                sums += 4;
            }
        }
        skip(&mut self.inner, sums)?;
        let (src_len, dst_len) = (src_len as usize, dst_len as usize);
        let mut input = vec![0u8; src_len];
        if read_full(&mut self.inner, &mut input)? != src_len {
            return Err(bad("lzop: block truncated"));
        }
        if src_len == dst_len {
            self.out = input;
        } else {
            self.out.resize(dst_len, 0);
            let n = lzokay::decompress::decompress(&input, &mut self.out)
                .map_err(|e| bad(format!("LZO block: {e:?}")))?;
            if n != dst_len {
                return Err(bad("LZO block: wrong decompressed size"));
            }
        }
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read> Read for Lzop<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.next_block()?;
        }
        let src = self.out.get(self.pos..).unwrap_or_default();
        let n = src.len().min(buf.len());
        if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        self.pos += n;
        Ok(n)
    }
}

/// A decompressed stream that can move forward without keeping what it passes.
trait Decode: Read {
    /// Pass over up to `n` bytes; returns how many (fewer only at the end of the stream) and
    /// whether any were passed without being decoded.
    fn skip(&mut self, n: u64) -> io::Result<(u64, bool)> {
        let mut scratch = vec![0u8; CHUNK];
        let mut done = 0u64;
        while done < n {
            let step = usize::try_from(n - done).unwrap_or(CHUNK).min(CHUNK);
            let Some(dst) = scratch.get_mut(..step) else {
                break;
            };
            match self.read(dst) {
                Ok(0) => break,
                Ok(k) => done = done.saturating_add(k as u64),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((done, false))
    }
}

/// A decoder that can only skip by decoding.
struct Plain<R>(R);

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Decode for Plain<R> {}

/// A decoder for `c` over `[offset, offset+len)` of `r`.
fn decoder<'a>(
    r: &'a dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
) -> io::Result<Box<dyn Decode + 'a>> {
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= r.size())
        .ok_or_else(|| bad("compressed data past the end of the file"))?;
    let end = end.min(offset.saturating_add(MAX_INPUT));
    let raw = io::BufReader::with_capacity(
        64 << 10,
        RangeRead {
            r,
            pos: offset,
            end,
        },
    );
    Ok(match c {
        Compression::Gzip => Box::new(Plain(flate2::read::GzDecoder::new(raw))),
        Compression::Bzip2 => Box::new(Plain(bzip2::read::BzDecoder::new(raw))),
        Compression::Xz => Box::new(Plain(lzma_rust2::XzReader::new_mem_limit(
            raw,
            // One stream: the kernel appends its 4-byte size after it.
            false,
            DECODER_MEM_KB,
        ))),
        Compression::Lzma => Box::new(Plain(
            lzma_rust2::LzmaReader::new_mem_limit(raw, DECODER_MEM_KB, None)
                .map_err(|e| bad(format!("lzma header: {e}")))?,
        )),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| bad(format!("zstd: {e}")))?
                .single_frame();
            // 128 MiB windows at most (the kernel's own decompressor allows no more).
            d.window_log_max(27)
                .map_err(|e| bad(format!("zstd: {e}")))?;
            Box::new(Plain(d))
        }
        Compression::Lz4 => Box::new(Lz4Legacy::new(raw)?),
        Compression::Lzo => Box::new(Plain(Lzop::new(raw)?)),
        Compression::None => Box::new(Plain(raw)),
    })
}

/// Decompress `[offset, offset+len)` of `r` as `c`, scanning the output for an ELF with Xen
/// notes; stop when the scan is done, at the end of the stream, on an error, or at
/// [`MAX_OUTPUT`].
pub(crate) fn decompress_and_scan(
    r: &dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
    problems: &mut Vec<String>,
) -> Decompressed {
    decompress_and_scan_bounded(r, offset, len, c, MAX_OUTPUT, problems)
}

/// A gap between what is kept and the next range the scan wants that is worth skipping
/// (decoding without keeping, or for LZ4 not decoding at all) instead of keeping.
const SKIP_MIN: u64 = 1 << 20;
/// Separate kept ranges at most; a scan that wants more is run again keeping everything.
const MAX_PIECES: usize = 16;

/// The ranges of a decompressed stream kept so far, as a scan [`Source`].
struct Pieces {
    /// `(start, bytes)`, in stream order, not overlapping; the last one is growing.
    kept: Vec<(u64, Vec<u8>)>,
    /// Stream position reached (kept or skipped).
    pos: u64,
    /// The stream ended (or failed) at `pos`.
    eof: bool,
    /// The most the caller will ever decompress.
    bound: u64,
    /// A scan asked for bytes that were skipped: only a run keeping everything can answer.
    skipped_needed: std::cell::Cell<bool>,
}

impl Source for Pieces {
    fn fetch(&self, offset: u64, len: u64) -> Fetch {
        let Some(end) = offset.checked_add(len) else {
            return Fetch::Missing("past the end of the decompressed data");
        };
        if end > self.bound {
            return Fetch::Missing("beyond the decompression bound");
        }
        for (start, bytes) in &self.kept {
            let have_end = start.saturating_add(bytes.len() as u64);
            if offset >= *start && end <= have_end {
                let (Ok(a), Ok(b)) = (usize::try_from(offset - start), usize::try_from(len)) else {
                    break;
                };
                if let Some(b) = a.checked_add(b).and_then(|z| bytes.get(a..z)) {
                    return Fetch::Bytes(b.to_vec());
                }
            }
        }
        if end <= self.pos {
            // Decompressed already, but not (all) kept.
            self.skipped_needed.set(true);
            return Fetch::Missing("skipped");
        }
        if self.eof {
            return Fetch::Missing("past the end of the decompressed data");
        }
        // Only the part not yet decompressed can still be kept.
        let tail_start = self.kept.last().map_or(self.pos, |(s, _)| *s);
        if offset < tail_start && !self.covers(offset, self.pos) {
            self.skipped_needed.set(true);
        }
        Fetch::Later(offset, end)
    }
}

impl Pieces {
    /// Whether `[from, to)` is inside one kept piece.
    fn covers(&self, from: u64, to: u64) -> bool {
        self.kept
            .iter()
            .any(|(s, b)| from >= *s && to <= s.saturating_add(b.len() as u64))
    }
}

pub(crate) fn decompress_and_scan_bounded(
    r: &dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
    bound: u64,
    problems: &mut Vec<String>,
) -> Decompressed {
    let first = run_scan(r, offset, len, c, bound, true);
    // A scan that needed skipped bytes, or a skipping LZ4 run that found no Xen note (an
    // LZ4 block shorter than 8 MiB before the last would have shifted the offsets), is run
    // again keeping every byte.
    let run = match first {
        Some(d) if !(d.skipped_lz4 && d.out.scan.xen.count == 0) => Some(d),
        _ => run_scan(r, offset, len, c, bound, false),
    };
    let Some(run) = run else {
        return Decompressed::default();
    };
    problems.extend(run.problems);
    run.out
}

struct Run {
    out: Decompressed,
    /// LZ4 blocks were skipped undecoded.
    skipped_lz4: bool,
    problems: Vec<String>,
}

/// One decompress-and-scan pass. With `skip`, ranges the scan does not ask for are skipped;
/// returns `None` if the scan then needed skipped bytes. Without it every byte up to the last
/// needed one is kept, as the scanner's ranges may go backwards.
fn run_scan(
    r: &dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
    bound: u64,
    skip: bool,
) -> Option<Run> {
    let mut dec = match decoder(r, offset, len, c) {
        Ok(d) => d,
        Err(e) => {
            return Some(Run {
                out: Decompressed::default(),
                skipped_lz4: false,
                problems: vec![format!("{}: {e}", c.name())],
            });
        }
    };
    let mut p = Pieces {
        kept: vec![(0, Vec::new())],
        pos: 0,
        eof: false,
        bound,
        skipped_needed: std::cell::Cell::new(false),
    };
    let mut chunk = vec![0u8; CHUNK];
    // Nothing to scan before the 52-byte ELF32 header exists.
    let mut want = (0u64, 52u64);
    let mut hit_bound = false;
    let mut skipped_lz4 = false;
    let mut error = None;
    loop {
        if p.pos >= want.1 {
            match scan(&p) {
                Scan::Done(scan) => {
                    if p.skipped_needed.get() {
                        return None;
                    }
                    return Some(Run {
                        out: Decompressed {
                            scan,
                            produced: p.pos,
                            hit_bound: false,
                        },
                        skipped_lz4,
                        problems: Vec::new(),
                    });
                }
                Scan::NeedMore(a, b) => {
                    if p.skipped_needed.get() {
                        return None;
                    }
                    want = (a, b.max(p.pos.saturating_add(1)));
                }
            }
        }
        let room = bound.saturating_sub(p.pos);
        if room == 0 {
            hit_bound = true;
            break;
        }
        if skip && want.0 > p.pos.saturating_add(SKIP_MIN) && p.kept.len() < MAX_PIECES {
            let gap = want.0 - p.pos;
            match dec.skip(gap) {
                Ok((n, undecoded)) => {
                    skipped_lz4 |= undecoded;
                    p.pos = p.pos.saturating_add(n);
                    if n < gap {
                        break;
                    }
                    p.kept.push((p.pos, Vec::new()));
                    continue;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let step = usize::try_from(room).unwrap_or(usize::MAX).min(CHUNK);
        let Some(dst) = chunk.get_mut(..step) else {
            break;
        };
        match dec.read(dst) {
            Ok(0) => break,
            Ok(n) => {
                if let Some((_, last)) = p.kept.last_mut() {
                    last.extend_from_slice(dst.get(..n).unwrap_or_default());
                }
                p.pos = p.pos.saturating_add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // End of stream, error or bound: scan what there is as final.
    p.eof = true;
    let scan = match scan(&p) {
        Scan::Done(s) => s,
        Scan::NeedMore(..) => ElfScan::default(),
    };
    if p.skipped_needed.get() {
        return None;
    }
    let mut problems = Vec::new();
    if let Some(e) = error {
        problems.push(format!(
            "{} data error after {} decompressed bytes: {e}",
            c.name(),
            p.pos
        ));
    }
    if hit_bound {
        problems.push(format!(
            "{}: stopped at the {} MiB decompression bound",
            c.name(),
            bound >> 20
        ));
    }
    Some(Run {
        out: Decompressed {
            scan,
            produced: p.pos,
            hit_bound,
        },
        skipped_lz4,
        problems,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn put(b: &mut [u8], off: usize, v: &[u8]) {
        b[off..off + v.len()].copy_from_slice(v);
    }

    /// A note named `name` of type 6 with a 4-byte descriptor.
    fn note(name: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend((name.len() as u32 + 1).to_le_bytes());
        n.extend(4u32.to_le_bytes());
        n.extend(6u32.to_le_bytes());
        n.extend(name);
        n.push(0);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n.extend(b"lin\0");
        n
    }

    /// An ELF64 whose PT_NOTE segment (12 MiB in) has no Xen note, whose section headers
    /// (13 MiB in) point back to an SHT_NOTE section 4 MiB in with the Xen note: the scan asks
    /// for a range behind what a skipping run has passed.
    fn backwards_elf() -> Vec<u8> {
        let mut b = vec![0u8; (13 << 20) + 2 * 64];
        put(&mut b, 0, b"\x7fELF\x02\x01\x01");
        put(&mut b, 16, &2u16.to_le_bytes()); // ET_EXEC
        put(&mut b, 18, &62u16.to_le_bytes()); // x86-64
        put(&mut b, 32, &64u64.to_le_bytes()); // e_phoff
        put(&mut b, 40, &(13u64 << 20).to_le_bytes()); // e_shoff
        put(&mut b, 54, &56u16.to_le_bytes());
        put(&mut b, 56, &1u16.to_le_bytes());
        put(&mut b, 58, &64u16.to_le_bytes());
        put(&mut b, 60, &2u16.to_le_bytes());
        let gnu = note(b"GNU");
        put(&mut b, 64, &4u32.to_le_bytes()); // PT_NOTE
        put(&mut b, 64 + 8, &(12u64 << 20).to_le_bytes());
        put(&mut b, 64 + 32, &(gnu.len() as u64).to_le_bytes());
        put(&mut b, 12 << 20, &gnu);
        let xen = note(b"Xen");
        let sh = (13 << 20) + 64;
        put(&mut b, sh + 4, &7u32.to_le_bytes()); // SHT_NOTE
        put(&mut b, sh + 24, &(4u64 << 20).to_le_bytes());
        put(&mut b, sh + 32, &(xen.len() as u64).to_le_bytes());
        put(&mut b, 4 << 20, &xen);
        b
    }

    #[test]
    fn a_scan_that_goes_back_is_answered_by_a_run_that_keeps_everything() {
        let b = backwards_elf();
        let mut problems = Vec::new();
        let d = decompress_and_scan(&b, 0, b.len() as u64, Compression::None, &mut problems);
        assert_eq!(d.scan.xen.count, 1, "{problems:?}");
        assert_eq!(
            d.scan.elf.unwrap().xen_notes_in,
            Some(crate::NoteSource::Section)
        );
        assert!(problems.is_empty(), "{problems:?}");
        // The skipping run alone gives up rather than answer from bytes it did not keep.
        assert!(run_scan(&b, 0, b.len() as u64, Compression::None, MAX_OUTPUT, true).is_none());
        let full = run_scan(&b, 0, b.len() as u64, Compression::None, MAX_OUTPUT, false).unwrap();
        assert_eq!(full.out.scan.xen.count, 1);
    }

    #[test]
    fn a_skipping_run_reads_a_far_note_segment() {
        // A GNU-only note segment far in: the skipping run reaches it without keeping the gap.
        let mut b = backwards_elf();
        b.truncate((12 << 20) + 64);
        put(&mut b, 40, &0u64.to_le_bytes()); // no section headers
        let r = run_scan(&b, 0, b.len() as u64, Compression::None, MAX_OUTPUT, true).unwrap();
        assert_eq!(r.out.scan.xen.count, 0);
        assert_eq!(r.out.scan.xen.notes_seen, 1);
        assert!(!r.skipped_lz4, "only LZ4 skips undecoded");
    }
}
