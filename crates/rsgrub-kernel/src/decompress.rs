//! Bounded decompression of kernel payloads, stopping as soon as the ELF scanner has what it
//! needs.
//!
//! Formats are recognised by the magic numbers the kernel's own decompressors
//! (`lib/decompress.c`) use. Decoders: flate2 (miniz_oxide) for gzip, bzip2 (its pure-Rust
//! libbz2-rs-sys back end), lzma-rust2 without its `optimization` feature (so 100 % safe
//! Rust, with a memory limit) for xz (incl. the x86 BCJ filter the kernel's xz_wrap.sh uses)
//! and legacy lzma, ruzstd for zstd (128 MiB window cap), lz4_flex's safe block decoder for
//! the legacy LZ4 frames `lz4 -l` writes, and lzokay for the LZO1X blocks of lzop files.
//! The lz4-legacy and lzop containers are parsed here (about 100 lines; no crate reads the
//! legacy LZ4 frame or the lzop container without a C library).

use crate::elf::{scan, ElfScan, PrefixSource, Scan};
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
        })
    }

    fn next_block(&mut self) -> io::Result<()> {
        loop {
            let mut s = [0u8; 4];
            let got = read_full(&mut self.inner, &mut s)?;
            if got < 4 {
                self.done = true;
                return Ok(());
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
                self.done = true;
                return Ok(());
            }
            let mut input = vec![0u8; size];
            if read_full(&mut self.inner, &mut input)? != size {
                return Err(bad("LZ4 block truncated"));
            }
            self.out.resize(LZ4_BLOCK, 0);
            let n = lz4_flex::block::decompress_into(&input, &mut self.out)
                .map_err(|e| bad(format!("LZ4 block: {e}")))?;
            self.out.truncate(n);
            self.pos = 0;
            return Ok(());
        }
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

/// A decoder for `c` over `[offset, offset+len)` of `r`.
fn decoder<'a>(
    r: &'a dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
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
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(raw)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(raw)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            raw,
            // One stream: the kernel appends its 4-byte size after it.
            false,
            DECODER_MEM_KB,
        )),
        Compression::Lzma => Box::new(
            lzma_rust2::LzmaReader::new_mem_limit(raw, DECODER_MEM_KB, None)
                .map_err(|e| bad(format!("lzma header: {e}")))?,
        ),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(raw)
                .map_err(|e| bad(format!("zstd frame header: {e}")))?,
        ),
        Compression::Lz4 => Box::new(Lz4Legacy::new(raw)?),
        Compression::Lzo => Box::new(Lzop::new(raw)?),
        Compression::None => Box::new(raw),
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

pub(crate) fn decompress_and_scan_bounded(
    r: &dyn ReadAt,
    offset: u64,
    len: u64,
    c: Compression,
    bound: u64,
    problems: &mut Vec<String>,
) -> Decompressed {
    let mut dec = match decoder(r, offset, len, c) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{}: {e}", c.name()));
            return Decompressed::default();
        }
    };
    let mut data: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    // Nothing to scan before the 52-byte ELF32 header exists.
    let mut need: u64 = 52;
    let mut hit_bound = false;
    loop {
        let have = data.len() as u64;
        let room = usize::try_from(bound.saturating_sub(have)).unwrap_or(usize::MAX);
        if room == 0 {
            hit_bound = true;
            break;
        }
        let want = room.min(CHUNK);
        let Some(dst) = chunk.get_mut(..want) else {
            break;
        };
        match dec.read(dst) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(dst.get(..n).unwrap_or_default());
                if data.len() as u64 >= need {
                    let src = PrefixSource {
                        data: &data,
                        eof: false,
                        bound,
                    };
                    match scan(&src) {
                        Scan::Done(scan) => {
                            return Decompressed {
                                scan,
                                produced: data.len() as u64,
                                hit_bound: false,
                            }
                        }
                        Scan::NeedMore(n) => need = n,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                problems.push(format!(
                    "{} data error after {} decompressed bytes: {e}",
                    c.name(),
                    data.len()
                ));
                break;
            }
        }
    }
    // End of stream, error or bound: scan what there is as final.
    let src = PrefixSource {
        data: &data,
        eof: true,
        bound,
    };
    let scan = match scan(&src) {
        Scan::Done(s) => s,
        Scan::NeedMore(_) => ElfScan::default(),
    };
    if hit_bound {
        problems.push(format!(
            "{}: stopped at the {} MiB decompression bound",
            c.name(),
            bound >> 20
        ));
    }
    Decompressed {
        scan,
        produced: data.len() as u64,
        hit_bound,
    }
}
