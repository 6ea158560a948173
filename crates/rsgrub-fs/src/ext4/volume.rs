//! Block access shared by the on-disk structures, and the run list file mappings produce.
//!
//! Metadata goes through a bounded [`BlockCache`]; every block number is checked against the
//! blocks that exist both in the filesystem and on the volume before it is read. A file's
//! mapping (extent tree or indirect blocks) is turned into [`Run`]s: maximal stretches of
//! logical blocks that are either one contiguous physical range or a hole.
use super::corrupt;
use crate::{FsError, Result};
use rsgrub_io::{BlockCache, DynReader, ReadAt};

/// The volume as the driver sees it.
pub(crate) struct Volume {
    cache: BlockCache<DynReader>,
    /// Bytes per filesystem block.
    pub bs: u64,
    /// Blocks that are both inside the filesystem and present on the volume.
    pub limit: u64,
}

impl Volume {
    pub(crate) fn new(dev: DynReader, bs: u64, fs_blocks: u64) -> Self {
        let dev_blocks = dev.size() / bs;
        let bs_usize = usize::try_from(bs).unwrap_or(4096);
        // A few hundred blocks, at most ~8 MiB of cache whatever the block size.
        let capacity = (8usize << 20)
            .checked_div(bs_usize)
            .unwrap_or(64)
            .clamp(64, 256);
        Volume {
            cache: BlockCache::new(dev, bs_usize, capacity),
            bs,
            limit: fs_blocks.min(dev_blocks),
        }
    }

    /// Fail unless blocks `[pblk, pblk+count)` exist.
    pub(crate) fn check_blocks(&self, pblk: u64, count: u64, what: &str) -> Result<()> {
        let end = pblk
            .checked_add(count)
            .ok_or_else(|| corrupt(format!("{what} at block {pblk}+{count} overflows")))?;
        if end > self.limit {
            return Err(corrupt(format!(
                "{what} at blocks {pblk}..{end} is past the end of the volume ({} blocks)",
                self.limit
            )));
        }
        Ok(())
    }

    /// Byte offset of block `pblk`.
    pub(crate) fn byte_offset(&self, pblk: u64) -> Result<u64> {
        pblk.checked_mul(self.bs)
            .ok_or_else(|| corrupt(format!("block {pblk} byte offset overflows")))
    }

    /// One whole block (metadata; cached).
    pub(crate) fn read_block(&self, pblk: u64, what: &str) -> Result<Vec<u8>> {
        self.check_blocks(pblk, 1, what)?;
        let len = usize::try_from(self.bs).map_err(|_| corrupt("block size"))?;
        let mut buf = vec![0u8; len];
        self.cache.read_at(self.byte_offset(pblk)?, &mut buf)?;
        Ok(buf)
    }

    /// Bytes at a volume offset. Reads of four blocks or more bypass the cache.
    pub(crate) fn read_bytes(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.cache.read_at(offset, buf)?;
        Ok(())
    }
}

/// Logical blocks `[lblk, lblk+len)`: at `phys..` on the volume, or a hole when `None`.
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
}

impl Runs {
    /// Runs starting at logical block `start`, at most `max` of them.
    pub(crate) fn new(start: u64, max: usize) -> Self {
        Runs {
            v: Vec::new(),
            next: start,
            max,
        }
    }

    /// Add a mapping; it must not start before the end of the previous one.
    pub(crate) fn push(&mut self, lblk: u64, len: u64, phys: Option<u64>) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        if lblk < self.next {
            return Err(corrupt(format!(
                "file block {lblk} is mapped twice or out of order"
            )));
        }
        if lblk > self.next {
            self.add(self.next, lblk - self.next, None)?;
        }
        self.add(lblk, len, phys)
    }

    fn add(&mut self, lblk: u64, len: u64, phys: Option<u64>) -> Result<()> {
        let end = lblk
            .checked_add(len)
            .ok_or_else(|| corrupt("file block range overflows"))?;
        if let Some(last) = self.v.last_mut() {
            let joins = match (last.phys, phys) {
                (None, None) => true,
                (Some(a), Some(b)) => a.checked_add(last.len) == Some(b),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_and_fill() {
        let mut r = Runs::new(0, 10);
        r.push(0, 2, Some(100)).unwrap();
        r.push(2, 3, Some(102)).unwrap();
        r.push(7, 1, Some(50)).unwrap();
        assert!(r.push(6, 1, Some(1)).is_err());
        let v = r.finish(10).unwrap();
        assert_eq!(
            v,
            vec![
                Run {
                    lblk: 0,
                    len: 5,
                    phys: Some(100)
                },
                Run {
                    lblk: 5,
                    len: 2,
                    phys: None
                },
                Run {
                    lblk: 7,
                    len: 1,
                    phys: Some(50)
                },
                Run {
                    lblk: 8,
                    len: 2,
                    phys: None
                },
            ]
        );
        let mut r = Runs::new(0, 1);
        r.push(0, 1, Some(1)).unwrap();
        assert!(matches!(r.push(1, 1, Some(9)), Err(FsError::Limit(_))));
    }
}
