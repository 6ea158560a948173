//! File block maps: 128-bit extent records (in the inode, or in the leaves of a `bmbt`
//! B+tree whose root sits in the inode).
//!
//! Record layout (big-endian bits): 1 unwritten flag, 54 file offset, 52 start block
//! (`agno << agblklog | agbno`), 21 block count. Every record is checked against the
//! allocation groups and must start after the previous one ends. The tree walk checks node
//! magic, that levels decrease by exactly one per step (so depth is bounded by the root's
//! level, itself ≤ [`MAX_LEVEL`]), and reads at most [`MAX_NODES`] nodes: a node that points to
//! itself or a shared subtree ends with an error, never a loop.
use super::corrupt;
use super::sb::Superblock;
use crate::{FsError, Result};
use rsgrub_io::be;

/// Deepest bmbt accepted (XFS needs at most 9 even for 2^54 blocks).
pub(crate) const MAX_LEVEL: u16 = 10;
/// Most btree nodes read for one mapping.
const MAX_NODES: usize = 1 << 16;
/// Most extents in one file's map.
pub(crate) const MAX_EXTENTS: u64 = 1 << 18;

const BMAP_MAGIC: u32 = 0x424d_4150; // "BMAP"
const BMA3_MAGIC: u32 = 0x424d_4133; // "BMA3"

/// One mapping: file blocks `[off, off+len)` at linear volume block `pblk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ext {
    pub off: u64,
    pub len: u64,
    pub pblk: u64,
    pub unwritten: bool,
}

/// Decode one 16-byte record.
pub(crate) fn decode(rec: &[u8], sb: &Superblock) -> Result<Ext> {
    let l0 = be::u64(rec, 0).ok_or_else(|| corrupt("extent record truncated"))?;
    let l1 = be::u64(rec, 8).ok_or_else(|| corrupt("extent record truncated"))?;
    let unwritten = l0 >> 63 != 0;
    let off = (l0 & ((1u64 << 63) - 1)) >> 9;
    let start = ((l0 & 0x1ff) << 43) | (l1 >> 21);
    let len = l1 & ((1u64 << 21) - 1);
    if len == 0 {
        return Err(corrupt("extent of zero blocks"));
    }
    let pblk = sb.fsb_to_linear(start, len)?;
    // The end of the extent in bytes must be representable.
    off.checked_add(len)
        .and_then(|e| e.checked_mul(sb.block_size))
        .ok_or_else(|| corrupt(format!("extent at file block {off} is past 2^64 bytes")))?;
    Ok(Ext {
        off,
        len,
        pblk,
        unwritten,
    })
}

/// Collects extents in file order.
struct List {
    v: Vec<Ext>,
    max: u64,
}

impl List {
    fn push(&mut self, e: Ext) -> Result<()> {
        if let Some(last) = self.v.last() {
            if e.off < last.off + last.len {
                return Err(corrupt(format!(
                    "extent at file block {} overlaps or is out of order",
                    e.off
                )));
            }
        }
        if self.v.len() as u64 >= self.max {
            return Err(corrupt(format!(
                "more extents than the inode's count of {}",
                self.max
            )));
        }
        self.v.push(e);
        Ok(())
    }
}

fn cap(nextents: u64) -> Result<u64> {
    if nextents > MAX_EXTENTS {
        return Err(FsError::Limit(format!(
            "file has {nextents} extents, more than {MAX_EXTENTS}"
        )));
    }
    Ok(nextents)
}

/// Extents stored in the inode fork.
pub(crate) fn from_fork(fork: &[u8], nextents: u64, sb: &Superblock) -> Result<Vec<Ext>> {
    let n = cap(nextents)?;
    if n.saturating_mul(16) > fork.len() as u64 {
        return Err(corrupt(format!(
            "{n} extents do not fit a {}-byte fork",
            fork.len()
        )));
    }
    let mut list = List {
        v: Vec::with_capacity(n as usize),
        max: n,
    };
    for rec in fork.chunks_exact(16).take(n as usize) {
        list.push(decode(rec, sb)?)?;
    }
    Ok(list.v)
}

/// Extents of a btree-format fork. `read_block(linear)` returns one filesystem block.
pub(crate) fn from_btree(
    fork: &[u8],
    nextents: u64,
    sb: &Superblock,
    read_block: &dyn Fn(u64) -> Result<Vec<u8>>,
) -> Result<Vec<Ext>> {
    let n = cap(nextents)?;
    let level = be::u16(fork, 0).ok_or_else(|| corrupt("bmbt root truncated"))?;
    let numrecs = usize::from(be::u16(fork, 2).ok_or_else(|| corrupt("bmbt root truncated"))?);
    if level == 0 || level > MAX_LEVEL {
        return Err(corrupt(format!("bmbt root level {level} is invalid")));
    }
    let maxrecs = fork.len().saturating_sub(4) / 16;
    if numrecs == 0 || numrecs > maxrecs {
        return Err(corrupt(format!(
            "bmbt root has {numrecs} records (at most {maxrecs})"
        )));
    }
    let mut list = List {
        v: Vec::with_capacity(n.min(4096) as usize),
        max: n,
    };
    let mut budget = MAX_NODES;
    let ptrs = 4 + maxrecs * 8;
    for i in 0..numrecs {
        let p = be::u64(fork, ptrs + i * 8).ok_or_else(|| corrupt("bmbt root truncated"))?;
        walk(p, level - 1, sb, read_block, &mut list, &mut budget)?;
    }
    if (list.v.len() as u64) != n {
        return Err(corrupt(format!(
            "bmbt holds {} extents, the inode says {n}",
            list.v.len()
        )));
    }
    Ok(list.v)
}

fn walk(
    fsbno: u64,
    level: u16,
    sb: &Superblock,
    read_block: &dyn Fn(u64) -> Result<Vec<u8>>,
    list: &mut List,
    budget: &mut usize,
) -> Result<()> {
    if *budget == 0 {
        return Err(corrupt("bmbt has too many nodes (loop or shared subtree)"));
    }
    *budget -= 1;
    let blk = read_block(sb.fsb_to_linear(fsbno, 1)?)?;
    let (magic, hdr) = if sb.version == 5 {
        (BMA3_MAGIC, 72)
    } else {
        (BMAP_MAGIC, 24)
    };
    if be::u32(&blk, 0) != Some(magic) {
        return Err(corrupt(format!("bmbt block {fsbno} has a bad magic")));
    }
    let got_level = be::u16(&blk, 4).unwrap_or(u16::MAX);
    let numrecs = usize::from(be::u16(&blk, 6).unwrap_or(0));
    if got_level != level {
        return Err(corrupt(format!(
            "bmbt block {fsbno} is at level {got_level}, expected {level}"
        )));
    }
    let body = blk.len().saturating_sub(hdr);
    if level == 0 {
        if numrecs == 0 || numrecs > body / 16 {
            return Err(corrupt(format!("bmbt leaf {fsbno} has {numrecs} records")));
        }
        for i in 0..numrecs {
            let rec = blk
                .get(hdr + i * 16..hdr + i * 16 + 16)
                .ok_or_else(|| corrupt("bmbt leaf truncated"))?;
            list.push(decode(rec, sb)?)?;
        }
        return Ok(());
    }
    let maxrecs = body / 16;
    if numrecs == 0 || numrecs > maxrecs {
        return Err(corrupt(format!("bmbt node {fsbno} has {numrecs} records")));
    }
    let ptrs = hdr + maxrecs * 8;
    for i in 0..numrecs {
        let p = be::u64(&blk, ptrs + i * 8).ok_or_else(|| corrupt("bmbt node truncated"))?;
        walk(p, level - 1, sb, read_block, list, budget)?;
    }
    Ok(())
}
