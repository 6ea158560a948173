//! Extent trees (`EXT4_EXTENTS_FL`): logical → physical mapping in `i_block` and tree blocks.
//!
//! Every node starts with a 12-byte header (magic 0xF30A, entries, max, depth) followed by
//! 12-byte entries: index entries (first logical block, child block) above depth 0, leaf
//! extents (first logical block, length, start block) at depth 0. A leaf length above 32768
//! marks an uninitialised (preallocated) extent, which reads as zeros.
//!
//! The walk only descends into children that overlap the requested range, checks that each
//! child's depth is its parent's minus one (so it ends), and refuses to visit a block twice
//! (so a hostile tree that shares blocks between branches cannot multiply the work).
use super::corrupt;
use super::volume::{Runs, Volume};
use crate::{FsError, Result};
use rsgrub_io::le;
use std::collections::HashSet;

const MAGIC: u16 = 0xF30A;
/// Deepest tree accepted (the kernel's limit).
const MAX_DEPTH: u16 = 5;
/// Most tree blocks one walk reads.
const MAX_NODES: usize = 1 << 16;
/// Leaf lengths above this mark uninitialised extents.
const INIT_MAX_LEN: u16 = 32768;
/// Logical block numbers are 32-bit.
const LOGICAL_END: u64 = 1 << 32;
const HEADER: usize = 12;
const ENTRY: usize = 12;

struct Walk<'a> {
    vol: &'a Volume,
    start: u64,
    end: u64,
    visited: HashSet<u64>,
    runs: &'a mut Runs,
}

/// Add the mapping of logical blocks `[start, end)` to `runs` (holes are left as gaps).
pub(crate) fn map(vol: &Volume, root: &[u8], start: u64, end: u64, runs: &mut Runs) -> Result<()> {
    let end = end.min(LOGICAL_END);
    if start >= end {
        return Ok(());
    }
    let mut w = Walk {
        vol,
        start,
        end,
        visited: HashSet::new(),
        runs,
    };
    w.node(root, None, 0, LOGICAL_END)
}

fn field16(node: &[u8], off: usize) -> Result<u16> {
    le::u16(node, off).ok_or_else(|| corrupt("extent node truncated"))
}

fn field32(node: &[u8], off: usize) -> Result<u32> {
    le::u32(node, off).ok_or_else(|| corrupt("extent node truncated"))
}

impl Walk<'_> {
    /// Walk one node covering logical blocks `[lo, hi)` (as its parent says).
    fn node(&mut self, node: &[u8], want_depth: Option<u16>, lo: u64, hi: u64) -> Result<()> {
        let magic = field16(node, 0)?;
        if magic != MAGIC {
            return Err(corrupt(format!("extent header magic {magic:#06x}")));
        }
        let entries = usize::from(field16(node, 2)?);
        let max = usize::from(field16(node, 4)?);
        let depth = field16(node, 6)?;
        let capacity = node.len().saturating_sub(HEADER) / ENTRY;
        if max > capacity || entries > max {
            return Err(corrupt(format!(
                "extent node has {entries} entries, max {max}, room for {capacity}"
            )));
        }
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("extent tree depth {depth}")));
        }
        if let Some(want) = want_depth {
            if depth != want {
                return Err(corrupt(format!(
                    "extent node at depth {depth} where {want} was expected"
                )));
            }
        }
        let lo = lo.max(self.start);
        let hi = hi.min(self.end);
        if lo >= hi {
            return Ok(());
        }
        if depth == 0 {
            self.leaf(node, entries, lo, hi)
        } else {
            self.index(node, entries, depth, lo, hi)
        }
    }

    fn leaf(&mut self, node: &[u8], entries: usize, lo: u64, hi: u64) -> Result<()> {
        let mut prev_end = 0u64;
        for i in 0..entries {
            let e = HEADER + i * ENTRY;
            let first = u64::from(field32(node, e)?);
            let raw_len = field16(node, e + 4)?;
            let start_hi = u64::from(field16(node, e + 6)?);
            let start_lo = u64::from(field32(node, e + 8)?);
            let (len, uninit) = if raw_len > INIT_MAX_LEN {
                (u64::from(raw_len - INIT_MAX_LEN), true)
            } else {
                (u64::from(raw_len), false)
            };
            if len == 0 {
                return Err(corrupt(format!("zero-length extent at file block {first}")));
            }
            if first < prev_end {
                return Err(corrupt(format!(
                    "extent at file block {first} overlaps the previous one"
                )));
            }
            let last_end = first + len; // both < 2^33: cannot overflow
            prev_end = last_end;
            if last_end <= lo {
                continue;
            }
            if first >= hi {
                break;
            }
            let s = first.max(lo);
            let t = last_end.min(hi);
            if uninit {
                self.runs.push(s, t - s, None)?;
            } else {
                let phys = (start_hi << 32) | start_lo;
                self.vol.check_blocks(phys, len, "extent")?;
                self.runs.push(s, t - s, Some(phys + (s - first)))?;
            }
        }
        Ok(())
    }

    fn index(&mut self, node: &[u8], entries: usize, depth: u16, lo: u64, hi: u64) -> Result<()> {
        for i in 0..entries {
            let e = HEADER + i * ENTRY;
            let first = u64::from(field32(node, e)?);
            let next = if i + 1 < entries {
                let n = u64::from(field32(node, e + ENTRY)?);
                if n <= first {
                    return Err(corrupt(format!(
                        "extent index entries out of order ({first} then {n})"
                    )));
                }
                n
            } else {
                LOGICAL_END
            };
            if next <= lo {
                continue;
            }
            if first >= hi {
                break;
            }
            let child_lo = u64::from(field32(node, e + 4)?);
            let child_hi = u64::from(field16(node, e + 8)?);
            let child = (child_hi << 32) | child_lo;
            self.vol.check_blocks(child, 1, "extent index block")?;
            if !self.visited.insert(child) {
                return Err(corrupt(format!("extent tree reaches block {child} twice")));
            }
            if self.visited.len() > MAX_NODES {
                return Err(FsError::Limit(format!(
                    "extent tree has more than {MAX_NODES} blocks"
                )));
            }
            let block = self.vol.read_block(child, "extent index block")?;
            self.node(&block, Some(depth - 1), first.max(lo), next.min(hi))?;
        }
        Ok(())
    }
}
