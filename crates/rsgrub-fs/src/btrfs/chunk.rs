//! Logical → physical mapping: the chunks of `sys_chunk_array` and the chunk tree.
//!
//! Read: SINGLE, DUP, RAID1/1C3/1C4 (any copy on this device), RAID0 and RAID10 (the stripe
//! holding the byte must be on this device). RAID5/6 and stripes on other devices are errors.
use super::{corrupt, unsupported, Key};
use crate::Result;
use rsgrub_io::le;

pub(crate) const CHUNK_ITEM: u8 = 228;
/// Bytes of a chunk item before its stripes.
const HEAD: usize = 48;
const STRIPE: usize = 32;
/// Most chunks a filesystem may have (1 GiB chunks: a petabyte).
pub(crate) const MAX_CHUNKS: usize = 1 << 20;

mod flags {
    pub const RAID0: u64 = 1 << 3;
    pub const RAID10: u64 = 1 << 6;
    pub const RAID5: u64 = 1 << 7;
    pub const RAID6: u64 = 1 << 8;
}

/// Bytes of a chunk item with `n` stripes.
pub(crate) fn item_len(n: u16) -> usize {
    HEAD + usize::from(n) * STRIPE
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub logical: u64,
    pub length: u64,
    pub stripe_len: u64,
    pub ty: u64,
    pub sub_stripes: u16,
    /// (devid, physical offset)
    pub stripes: Vec<(u64, u64)>,
}

impl Chunk {
    pub(crate) fn parse(key: &Key, b: &[u8]) -> Result<Chunk> {
        let bad = || corrupt(format!("chunk item at logical {} is short", key.offset));
        let length = le::u64(b, 0).ok_or_else(bad)?;
        let stripe_len = le::u64(b, 16).ok_or_else(bad)?;
        let ty = le::u64(b, 24).ok_or_else(bad)?;
        let num = le::u16(b, 44).ok_or_else(bad)?;
        let sub_stripes = le::u16(b, 46).ok_or_else(bad)?;
        if num == 0 {
            return Err(corrupt(format!(
                "chunk at logical {} has no stripes",
                key.offset
            )));
        }
        if b.len() < item_len(num) {
            return Err(corrupt(format!(
                "chunk at logical {} has {num} stripes but only {} bytes",
                key.offset,
                b.len()
            )));
        }
        if length == 0 || key.offset.checked_add(length).is_none() {
            return Err(corrupt(format!(
                "chunk at logical {} has length {length}",
                key.offset
            )));
        }
        if ty & (flags::RAID0 | flags::RAID10) != 0
            && (stripe_len < 4096 || !stripe_len.is_power_of_two() || stripe_len > 1 << 30)
        {
            return Err(corrupt(format!(
                "chunk at logical {} has stripe length {stripe_len}",
                key.offset
            )));
        }
        if ty & flags::RAID10 != 0 && (sub_stripes == 0 || num % sub_stripes != 0) {
            return Err(corrupt(format!(
                "RAID10 chunk at logical {} has {num} stripes in groups of {sub_stripes}",
                key.offset
            )));
        }
        let mut stripes = Vec::with_capacity(usize::from(num));
        for i in 0..usize::from(num) {
            let o = HEAD + i * STRIPE;
            stripes.push((
                le::u64(b, o).ok_or_else(bad)?,
                le::u64(b, o + 8).ok_or_else(bad)?,
            ));
        }
        Ok(Chunk {
            logical: key.offset,
            length,
            stripe_len,
            ty,
            sub_stripes,
            stripes,
        })
    }
}

/// All known chunks, sorted by logical address, not overlapping.
#[derive(Default)]
pub(crate) struct ChunkMap {
    chunks: Vec<Chunk>,
}

/// Where a logical byte is on this device.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// Physical offsets of every copy on this device (DUP/RAID1: several).
    pub copies: Vec<u64>,
    /// Bytes that stay contiguous from there.
    pub len: u64,
}

impl ChunkMap {
    /// Add a chunk; an identical duplicate is ignored, an overlapping one is an error.
    pub(crate) fn insert(&mut self, c: Chunk) -> Result<()> {
        let i = self.chunks.partition_point(|x| x.logical < c.logical);
        if let Some(x) = self.chunks.get(i) {
            if *x == c {
                return Ok(());
            }
            if x.logical < c.logical + c.length {
                return Err(corrupt(format!(
                    "chunks at logical {} and {} overlap",
                    c.logical, x.logical
                )));
            }
        }
        if let Some(p) = i.checked_sub(1).and_then(|j| self.chunks.get(j)) {
            if p.logical + p.length > c.logical {
                return Err(corrupt(format!(
                    "chunks at logical {} and {} overlap",
                    p.logical, c.logical
                )));
            }
        }
        if self.chunks.len() >= MAX_CHUNKS {
            return Err(crate::FsError::Limit(format!(
                "more than {MAX_CHUNKS} chunks"
            )));
        }
        self.chunks.insert(i, c);
        Ok(())
    }

    /// Map logical address `l` for this device `devid`.
    pub(crate) fn map(&self, l: u64, devid: u64) -> Result<Mapping> {
        let i = self.chunks.partition_point(|x| x.logical <= l);
        let c = i
            .checked_sub(1)
            .and_then(|j| self.chunks.get(j))
            .filter(|c| l - c.logical < c.length)
            .ok_or_else(|| corrupt(format!("logical address {l} is in no chunk")))?;
        let off = l - c.logical;
        let chunk_left = c.length - off;
        if c.ty & (flags::RAID5 | flags::RAID6) != 0 {
            return Err(unsupported("RAID5/6 chunks"));
        }
        let n = c.stripes.len() as u64;
        let (candidates, within, len): (Vec<usize>, u64, u64) = if c.ty & flags::RAID0 != 0 {
            let nr = off / c.stripe_len;
            let in_stripe = off % c.stripe_len;
            let idx = usize::try_from(nr % n).map_err(|_| corrupt("stripe index"))?;
            let within = (nr / n) * c.stripe_len + in_stripe;
            (
                vec![idx],
                within,
                (c.stripe_len - in_stripe).min(chunk_left),
            )
        } else if c.ty & flags::RAID10 != 0 {
            let sub = u64::from(c.sub_stripes);
            let factor = n / sub;
            let nr = off / c.stripe_len;
            let in_stripe = off % c.stripe_len;
            let first = (nr % factor) * sub;
            let within = (nr / factor) * c.stripe_len + in_stripe;
            let idx: Vec<usize> = (first..first + sub)
                .filter_map(|x| usize::try_from(x).ok())
                .collect();
            (idx, within, (c.stripe_len - in_stripe).min(chunk_left))
        } else {
            // SINGLE, DUP, RAID1*: every stripe is a full copy.
            ((0..c.stripes.len()).collect(), off, chunk_left)
        };
        let mut copies = Vec::new();
        for i in candidates {
            if let Some(&(dev, phys)) = c.stripes.get(i) {
                if dev == devid {
                    let p = phys
                        .checked_add(within)
                        .ok_or_else(|| corrupt("physical address overflows"))?;
                    copies.push(p);
                }
            }
        }
        if copies.is_empty() {
            return Err(unsupported(format!(
                "logical address {l} is only on other devices of a multi-device filesystem"
            )));
        }
        Ok(Mapping { copies, len })
    }
}
