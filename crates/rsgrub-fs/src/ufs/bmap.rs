//! Block maps: 12 direct pointers, then single, double and triple indirect blocks.
//!
//! Pointers are fragment addresses (32-bit in UFS1, 64-bit in UFS2); a file block spans
//! `frag` fragments from its pointer, except the last block of a small file, which may be a
//! run of fewer fragments (the reader never goes past `di_size`, so the same mapping serves).
//! A zero pointer is a hole. The walk only reads indirect blocks whose span overlaps the
//! request and its depth is fixed at three, so an indirect block pointing at itself (or any
//! other loop) costs no more than a well-formed file of the same size.
use super::corrupt;
use super::inode::NDADDR;
use super::superblock::{Superblock, Version};
use super::Volume;
use crate::{FsError, Result};

/// Logical blocks `[lblk, lblk+len)`: from fragment `phys` on, or a hole when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub lblk: u64,
    pub len: u64,
    pub phys: Option<u64>,
}

/// Collects runs in logical order, filling gaps with holes and merging neighbours.
pub(crate) struct Runs {
    v: Vec<Run>,
    next: u64,
    max: usize,
    /// Fragments per block (physical step between contiguous blocks).
    frag: u64,
}

impl Runs {
    pub(crate) fn new(start: u64, max: usize, frag: u64) -> Self {
        Runs {
            v: Vec::new(),
            next: start,
            max,
            frag,
        }
    }

    fn push(&mut self, lblk: u64, phys: Option<u64>) -> Result<()> {
        if lblk < self.next {
            return Err(corrupt(format!("file block {lblk} is mapped out of order")));
        }
        if lblk > self.next {
            self.add(self.next, lblk - self.next, None)?;
        }
        self.add(lblk, 1, phys)
    }

    fn add(&mut self, lblk: u64, len: u64, phys: Option<u64>) -> Result<()> {
        let end = lblk
            .checked_add(len)
            .ok_or_else(|| corrupt("file block range overflows"))?;
        if let Some(last) = self.v.last_mut() {
            let joins = match (last.phys, phys) {
                (None, None) => true,
                (Some(a), Some(b)) => {
                    last.len
                        .checked_mul(self.frag)
                        .and_then(|d| a.checked_add(d))
                        == Some(b)
                }
                _ => false,
            };
            if joins {
                last.len = last
                    .len
                    .checked_add(len)
                    .ok_or_else(|| corrupt("file block range overflows"))?;
                self.next = end;
                return Ok(());
            }
        }
        if self.v.len() >= self.max {
            return Err(FsError::Limit(format!(
                "file is split into more than {} pieces",
                self.max
            )));
        }
        self.v.push(Run { lblk, len, phys });
        self.next = end;
        Ok(())
    }

    /// The runs, with a trailing hole up to `end`.
    pub(crate) fn finish(mut self, end: u64) -> Result<Vec<Run>> {
        if end > self.next {
            self.add(self.next, end - self.next, None)?;
        }
        Ok(self.v)
    }
}

struct Walk<'a> {
    vol: &'a Volume,
    sb: &'a Superblock,
    start: u64,
    end: u64,
    runs: &'a mut Runs,
}

/// Runs covering logical blocks `[start, end)` of a file whose pointers are `addrs`
/// (`db[0..12]`, `ib[0..3]`), at most `max` of them.
pub(crate) fn map(
    vol: &Volume,
    sb: &Superblock,
    addrs: &[u64; 15],
    start: u64,
    end: u64,
    max: usize,
) -> Result<Vec<Run>> {
    let mut runs = Runs::new(start, max, sb.frag);
    if start < end {
        let mut w = Walk {
            vol,
            sb,
            start,
            end,
            runs: &mut runs,
        };
        w.walk(addrs)?;
    }
    runs.finish(end)
}

impl Walk<'_> {
    fn walk(&mut self, addrs: &[u64; 15]) -> Result<()> {
        let direct = NDADDR as u64;
        for (i, &p) in addrs.iter().take(NDADDR).enumerate() {
            let i = i as u64;
            if i >= self.start && i < self.end {
                self.data(p, i)?;
            }
        }
        let n = self.sb.nindir;
        let mut base = direct;
        let mut span = n;
        for level in 1..=3u32 {
            if base >= self.end {
                return Ok(());
            }
            let top = base
                .checked_add(span)
                .ok_or_else(|| corrupt("block map span overflows"))?;
            let p = addrs.get(NDADDR - 1 + level as usize).copied().unwrap_or(0);
            if top > self.start && p != 0 {
                self.indirect(p, level, base)?;
            }
            base = top;
            span = span
                .checked_mul(n)
                .ok_or_else(|| corrupt("block map span overflows"))?;
        }
        if self.end > base {
            return Err(corrupt(format!(
                "file block {} is beyond the triple indirect range ({base} blocks)",
                self.end - 1
            )));
        }
        Ok(())
    }

    fn data(&mut self, p: u64, lblk: u64) -> Result<()> {
        if p == 0 {
            return Ok(());
        }
        // The last block may be a short fragment run at the very end of the filesystem, so
        // only its first fragment is checked here; reads check their exact byte range.
        if p >= self.vol.limit_frags {
            return Err(corrupt(format!(
                "data block at fragment {p} is past the end ({} fragments)",
                self.vol.limit_frags
            )));
        }
        self.runs.push(lblk, Some(p))
    }

    /// Indirect block at `level` (1 = points at data) whose first logical block is `base`.
    fn indirect(&mut self, p: u64, level: u32, base: u64) -> Result<()> {
        let block = self.vol.read_fs_block(p, "indirect block")?;
        let n = self.sb.nindir;
        let child_span = n
            .checked_pow(level - 1)
            .ok_or_else(|| corrupt("block map span overflows"))?;
        let first = self.start.saturating_sub(base) / child_span;
        let last = self.end.saturating_sub(base).div_ceil(child_span).min(n);
        let e = self.sb.endian;
        for i in first..last {
            let ptr = match self.sb.version {
                Version::Ufs1 => usize::try_from(i * 4)
                    .ok()
                    .and_then(|o| e.u32(&block, o))
                    .map(u64::from),
                Version::Ufs2 => usize::try_from(i * 8).ok().and_then(|o| e.u64(&block, o)),
            }
            .ok_or_else(|| corrupt("indirect block truncated"))?;
            if ptr == 0 {
                continue;
            }
            let child_base = base
                .checked_add(i * child_span)
                .ok_or_else(|| corrupt("block map span overflows"))?;
            if level == 1 {
                self.data(ptr, child_base)?;
            } else {
                self.indirect(ptr, level - 1, child_base)?;
            }
        }
        Ok(())
    }
}
