//! VHD (Virtual PC / Hyper-V "vpc"): fixed, dynamic and differencing disks, read-only.
//!
//! The 512-byte footer (`conectix`, big-endian, one's-complement checksum) is at the end of
//! the file; dynamic disks also keep a copy at offset 0, which is tried when the last sector
//! is not a footer. The virtual size follows QEMU: the CHS geometry for images made by
//! Virtual PC (`vpc `) or older QEMU (`qemu`), unless the geometry is the maximum; otherwise
//! `current_size`.
//!
//! * Fixed: the first `size` bytes of the file are the disk.
//! * Dynamic: a dynamic header (`cxsparse`) points at the block allocation table (BAT); each
//!   allocated block is a sector bitmap then the block's data. Sectors whose bitmap bit is
//!   clear, and unallocated blocks, read as zeros.
//! * Differencing: the same, but those bytes come from the parent, which must be passed as
//!   an open reader; otherwise the error names the parent (nothing is opened).
//!
//! Checked: footer checksum; data offset, BAT (`max_table_entries` × 4 bytes) inside the
//! file; block size a power of two ≥ 512; the BAT covers the size; at most
//! [`MAX_BAT_ENTRIES`] entries are loaded; every block used lies inside the file.
use crate::{DiskError, Result};
use rsgrub_io::{be, check_range, BlockCache, DynReader, ReadAt, Slice};
use std::io;
use std::sync::Arc;

/// Footer cookie.
pub const COOKIE: &[u8; 8] = b"conectix";
/// Dynamic header cookie.
pub const DYN_COOKIE: &[u8; 8] = b"cxsparse";
/// Most BAT entries loaded (4 M entries: 8 TiB with 2 MiB blocks).
pub const MAX_BAT_ENTRIES: u64 = 1 << 22;
/// Largest block size accepted.
pub const MAX_BLOCK_SIZE: u64 = 256 << 20;
/// Most pieces a `physical_range` query walks.
pub const MAX_PHYSICAL_PIECES: u64 = 1 << 16;

const FORMAT: &str = "VHD";
const SECTOR: u64 = 512;
const UNALLOCATED: u32 = 0xFFFF_FFFF;

fn bad(what: impl Into<String>) -> DiskError {
    DiskError::Image {
        format: FORMAT,
        what: what.into(),
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{FORMAT}: {what}"))
}

/// Disk type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskType {
    /// 2.
    Fixed,
    /// 3.
    Dynamic,
    /// 4.
    Differencing,
}

/// A checked footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Where it was read.
    pub at: u64,
    /// Disk type.
    pub disk_type: DiskType,
    /// Offset of the dynamic header.
    pub data_offset: u64,
    /// `current_size`.
    pub current_size: u64,
    /// (cylinders, heads, sectors per track).
    pub geometry: (u16, u8, u8),
    /// Creator application.
    pub creator: [u8; 4],
}

impl Footer {
    /// The virtual disk size, as QEMU computes it.
    pub fn virtual_size(&self) -> u64 {
        let (c, h, s) = self.geometry;
        let chs = u64::from(c) * u64::from(h) * u64::from(s) * SECTOR;
        let chs_creator = &self.creator == b"vpc " || &self.creator == b"qemu";
        if chs_creator && self.geometry != (65535, 16, 255) {
            chs
        } else {
            self.current_size
        }
    }
}

/// One's complement of the byte sum, the checksum field (`at`..`at+4`) excluded.
pub fn checksum(b: &[u8], at: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(at..at + 4).contains(i))
        .fold(0u32, |s, (_, x)| s.wrapping_add(u32::from(*x)));
    !sum
}

/// Parse a footer sector read at `at`; `None` without the cookie.
pub fn parse_footer(b: &[u8; 512], at: u64) -> Option<Result<Footer>> {
    if b.get(0..8)? != COOKIE {
        return None;
    }
    Some((|| {
        let short = || bad("footer is short");
        let stored = be::u32(b, 64).ok_or_else(short)?;
        let computed = checksum(b, 64);
        if stored != computed {
            return Err(bad(format!(
                "footer at {at}: checksum mismatch (stored 0x{stored:08x}, computed \
                 0x{computed:08x})"
            )));
        }
        let disk_type = match be::u32(b, 60).ok_or_else(short)? {
            2 => DiskType::Fixed,
            3 => DiskType::Dynamic,
            4 => DiskType::Differencing,
            t => return Err(bad(format!("disk type {t} (2, 3 or 4 are read)"))),
        };
        let mut creator = [0u8; 4];
        creator.copy_from_slice(b.get(28..32).ok_or_else(short)?);
        Ok(Footer {
            at,
            disk_type,
            data_offset: be::u64(b, 16).ok_or_else(short)?,
            current_size: be::u64(b, 48).ok_or_else(short)?,
            geometry: (
                be::u16(b, 56).ok_or_else(short)?,
                *b.get(58).ok_or_else(short)?,
                *b.get(59).ok_or_else(short)?,
            ),
            creator,
        })
    })())
}

/// The footer of `file`: the last sector, else (dynamic disks) the copy at offset 0.
/// `Ok(None)`: not a VHD.
pub fn find_footer(file: &DynReader) -> Result<Option<Footer>> {
    let size = file.size();
    if size < SECTOR {
        return Ok(None);
    }
    let mut b = [0u8; 512];
    file.read_at(size - SECTOR, &mut b)?;
    if let Some(f) = parse_footer(&b, size - SECTOR) {
        return f.map(Some);
    }
    file.read_at(0, &mut b)?;
    match parse_footer(&b, 0) {
        Some(Ok(f)) if f.disk_type == DiskType::Fixed => Err(bad(
            "a fixed-disk footer at offset 0 but none at the end of the file",
        )),
        Some(f) => f.map(Some),
        None => Ok(None),
    }
}

/// Whether `file` has a VHD footer (cookie) at its end or start.
pub fn is_vhd(file: &DynReader) -> bool {
    let size = file.size();
    if size < SECTOR {
        return false;
    }
    [size - SECTOR, 0].into_iter().any(|at| {
        let mut c = [0u8; 8];
        file.read_at(at, &mut c).is_ok() && &c == COOKIE
    })
}

/// The parent name of a differencing disk's dynamic header (UTF-16BE, up to NUL).
fn parent_name(h: &[u8]) -> String {
    let units: Vec<u16> = h
        .get(64..576)
        .unwrap_or(&[])
        .chunks_exact(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Open a VHD given its footer. Fixed disks become a [`Slice`] of the file.
pub fn open(file: DynReader, backing: Option<DynReader>) -> Result<DynReader> {
    let footer = find_footer(&file)?.ok_or_else(|| bad("no footer"))?;
    let size = footer.virtual_size();
    let fsize = file.size();
    if footer.disk_type == DiskType::Fixed {
        if size.checked_add(SECTOR).is_none_or(|e| e > fsize) {
            return Err(bad(format!(
                "fixed disk of {size} bytes does not fit in a {fsize}-byte file"
            )));
        }
        return Ok(Arc::new(Slice::new(file, 0, size)?));
    }
    Ok(Arc::new(Dynamic::open(file, &footer, backing)?))
}

/// A dynamic or differencing VHD.
pub struct Dynamic {
    file: DynReader,
    parent: Option<DynReader>,
    size: u64,
    block_size: u64,
    bitmap_size: u64,
    bat: Vec<u32>,
    bitmaps: BlockCache<DynReader>,
}

impl Dynamic {
    /// Open from a checked footer (dynamic or differencing).
    pub fn open(file: DynReader, footer: &Footer, parent: Option<DynReader>) -> Result<Dynamic> {
        let fsize = file.size();
        let ho = footer.data_offset;
        if ho.checked_add(1024).is_none_or(|e| e > fsize) {
            return Err(bad(format!(
                "dynamic header at {ho} is not inside the file ({fsize} bytes)"
            )));
        }
        let mut h = vec![0u8; 1024];
        file.read_at(ho, &mut h)?;
        if h.get(0..8) != Some(&DYN_COOKIE[..]) {
            return Err(bad(format!("no \"cxsparse\" dynamic header at {ho}")));
        }
        let short = || bad("dynamic header is short");
        let table_offset = be::u64(&h, 16).ok_or_else(short)?;
        let max_entries = u64::from(be::u32(&h, 28).ok_or_else(short)?);
        let block_size = u64::from(be::u32(&h, 32).ok_or_else(short)?);
        if block_size < SECTOR || !block_size.is_power_of_two() || block_size > MAX_BLOCK_SIZE {
            return Err(bad(format!(
                "block size {block_size} is not a power of two within 512..={MAX_BLOCK_SIZE}"
            )));
        }
        if footer.disk_type == DiskType::Differencing && parent.is_none() {
            return Err(DiskError::BackingFile {
                format: FORMAT,
                name: parent_name(&h),
            });
        }
        let size = footer.virtual_size();
        let needed = size.div_ceil(block_size);
        if needed > max_entries {
            return Err(bad(format!(
                "BAT of {max_entries} entries is too small for a {size}-byte disk \
                 ({needed} needed)"
            )));
        }
        if needed > MAX_BAT_ENTRIES {
            return Err(bad(format!(
                "{needed} BAT entries needed; at most {MAX_BAT_ENTRIES} are read"
            )));
        }
        let bat_end = max_entries
            .checked_mul(4)
            .and_then(|b| b.checked_add(table_offset))
            .ok_or_else(|| bad("BAT end overflows"))?;
        if bat_end > fsize {
            return Err(bad(format!(
                "BAT at {table_offset}..{bat_end} ({max_entries} entries) is past the end of \
                 the file ({fsize} bytes)"
            )));
        }
        let mut raw = vec![0u8; usize::try_from(needed * 4).map_err(|_| short())?];
        file.read_at(table_offset, &mut raw)?;
        let bat = raw
            .chunks_exact(4)
            .map(|c| be::u32(c, 0).unwrap_or(UNALLOCATED))
            .collect();
        let bitmap_size = (block_size / SECTOR).div_ceil(8).div_ceil(SECTOR) * SECTOR;
        Ok(Dynamic {
            bitmaps: BlockCache::new(file.clone(), 4096, 64),
            file,
            parent: if footer.disk_type == DiskType::Differencing {
                parent
            } else {
                None
            },
            size,
            block_size,
            bitmap_size,
            bat,
        })
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// For the byte at `pos`: its block's data offset in the file (`None` = unallocated)
    /// and the bytes from `pos` to the end of the block.
    fn block(&self, pos: u64) -> io::Result<(Option<u64>, u64)> {
        let i = pos / self.block_size;
        let within = pos % self.block_size;
        let e = *self
            .bat
            .get(usize::try_from(i).map_err(|_| invalid("block index".into()))?)
            .ok_or_else(|| invalid(format!("offset {pos} is beyond the BAT")))?;
        let left = self.block_size - within;
        if e == UNALLOCATED {
            return Ok((None, left));
        }
        let start = u64::from(e) * SECTOR;
        let end = start + self.bitmap_size + self.block_size;
        if end > self.file.size() {
            return Err(invalid(format!(
                "block {i} at {start}..{end} is past the end of the file ({} bytes)",
                self.file.size()
            )));
        }
        Ok((Some(start), left))
    }

    fn unallocated(&self, pos: u64, dst: &mut [u8]) -> io::Result<()> {
        dst.fill(0);
        if let Some(p) = &self.parent {
            let n = usize::try_from(p.size().saturating_sub(pos))
                .unwrap_or(usize::MAX)
                .min(dst.len());
            if let Some(d) = dst.get_mut(..n) {
                if !d.is_empty() {
                    p.read_at(pos, d)?;
                }
            }
        }
        Ok(())
    }

    /// Runs of equal bitmap bits for sectors `[first, first + count)` of the block at `start`.
    fn runs(&self, start: u64, first: u64, count: u64) -> io::Result<Vec<(bool, u64)>> {
        let b0 = first / 8;
        let b1 = (first + count).div_ceil(8);
        let mut bits = vec![0u8; usize::try_from(b1 - b0).map_err(|_| invalid("bitmap".into()))?];
        self.bitmaps.read_at(start + b0, &mut bits)?;
        let mut out: Vec<(bool, u64)> = Vec::new();
        for s in first..first + count {
            let byte = bits
                .get(usize::try_from(s / 8 - b0).unwrap_or(0))
                .copied()
                .unwrap_or(0);
            let set = byte & (0x80 >> (s % 8)) != 0;
            match out.last_mut() {
                Some((v, n)) if *v == set => *n += 1,
                _ => out.push((set, 1)),
            }
        }
        Ok(out)
    }
}

impl ReadAt for Dynamic {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (blk, left) = self.block(pos)?;
            let n = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            let dst = buf
                .get_mut(done..done + n)
                .ok_or_else(|| invalid("buffer".into()))?;
            match blk {
                None => self.unallocated(pos, dst)?,
                Some(start) => {
                    let within = pos % self.block_size;
                    let first = within / SECTOR;
                    let last = (within + n as u64).div_ceil(SECTOR);
                    let mut at = 0usize; // in dst
                    let mut sector = first;
                    for (set, count) in self.runs(start, first, last - first)? {
                        let run_end = (sector + count) * SECTOR; // in block
                        let from = within + at as u64;
                        let len = usize::try_from(run_end.min(within + n as u64) - from)
                            .map_err(|_| invalid("run".into()))?;
                        let d = dst
                            .get_mut(at..at + len)
                            .ok_or_else(|| invalid("buffer".into()))?;
                        if set {
                            self.file.read_at(start + self.bitmap_size + from, d)?;
                        } else {
                            self.unallocated(pos + at as u64, d)?;
                        }
                        at += len;
                        sector += count;
                    }
                }
            }
            done += n;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        if offset.checked_add(len)? > self.size {
            return None;
        }
        let (blk, left) = self.block(offset).ok()?;
        let start = blk?;
        let within = offset % self.block_size;
        // Only within one block: the next block's bitmap sits in between.
        if len > left {
            return None;
        }
        if len > 0 {
            let first = within / SECTOR;
            let last = (within + len).div_ceil(SECTOR);
            let runs = self.runs(start, first, last - first).ok()?;
            if runs.len() != 1 || !runs.first()?.0 {
                return None;
            }
        }
        let _ = MAX_PHYSICAL_PIECES;
        self.file
            .physical_range(start + self.bitmap_size + within, len)
    }
}
