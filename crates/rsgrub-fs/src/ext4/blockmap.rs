//! ext2/ext3 block maps: 12 direct pointers, then single, double and triple indirect blocks.
//!
//! `i_block` holds 15 little-endian 32-bit block numbers. A zero pointer is a hole covering
//! everything below it. The walk only reads indirect blocks whose span overlaps the request,
//! and its depth is fixed at three, so it always ends.
use super::corrupt;
use super::volume::{Runs, Volume};
use crate::Result;
use rsgrub_io::le;

const DIRECT: u64 = 12;

struct Walk<'a> {
    vol: &'a Volume,
    /// Pointers per indirect block.
    per_block: u64,
    start: u64,
    end: u64,
    runs: &'a mut Runs,
}

/// Add the mapping of logical blocks `[start, end)` to `runs` (holes are left as gaps).
pub(crate) fn map(
    vol: &Volume,
    i_block: &[u8],
    start: u64,
    end: u64,
    runs: &mut Runs,
) -> Result<()> {
    if start >= end {
        return Ok(());
    }
    let mut w = Walk {
        vol,
        per_block: vol.bs / 4,
        start,
        end,
        runs,
    };
    let ptr = |i: usize| le::u32(i_block, i * 4).ok_or_else(|| corrupt("i_block truncated"));

    for i in 0..DIRECT.min(end) {
        if i >= start {
            w.data(ptr(i as usize)?, i)?;
        }
    }
    let mut base = DIRECT;
    let mut span = w.per_block;
    for level in 1..=3u32 {
        if base >= end {
            break;
        }
        let top = base
            .checked_add(span)
            .ok_or_else(|| corrupt("block map span overflows"))?;
        let p = ptr(11 + level as usize)?;
        if top > start && p != 0 {
            w.indirect(p, level, base)?;
        }
        base = top;
        span = span
            .checked_mul(w.per_block)
            .ok_or_else(|| corrupt("block map span overflows"))?;
    }
    Ok(())
}

impl Walk<'_> {
    fn data(&mut self, ptr: u32, lblk: u64) -> Result<()> {
        if ptr == 0 {
            return Ok(());
        }
        let p = u64::from(ptr);
        self.vol.check_blocks(p, 1, "data block")?;
        self.runs.push(lblk, 1, Some(p))
    }

    /// An indirect block at `level` (1 = points at data) whose first logical block is `base`.
    fn indirect(&mut self, ptr: u32, level: u32, base: u64) -> Result<()> {
        let block = self.vol.read_block(u64::from(ptr), "indirect block")?;
        let child_span = self
            .per_block
            .checked_pow(level - 1)
            .ok_or_else(|| corrupt("block map span overflows"))?;
        let first = self.start.saturating_sub(base) / child_span;
        // Children that start before `end`: ceil((end - base) / child_span), at most a block.
        let last = self
            .end
            .saturating_sub(base)
            .div_ceil(child_span)
            .min(self.per_block);
        for i in first..last {
            let off = usize::try_from(i * 4).map_err(|_| corrupt("indirect offset"))?;
            let p = le::u32(&block, off).ok_or_else(|| corrupt("indirect block truncated"))?;
            if p == 0 {
                continue;
            }
            let child_base = base
                .checked_add(i * child_span)
                .ok_or_else(|| corrupt("block map span overflows"))?;
            if level == 1 {
                self.data(p, child_base)?;
            } else {
                self.indirect(p, level - 1, child_base)?;
            }
        }
        Ok(())
    }
}
