//! Dnodes (`dnode_phys_t`): 512-byte slots (more with large dnodes) holding the object's
//! type, block tree shape (levels, indirect block shift, data block size, up to three
//! top-level block pointers), the bonus buffer and an optional spill block pointer.
use super::blkptr::{self, BlkPtr};
use super::{corrupt, Bo};
use crate::Result;

pub(crate) const SLOT: usize = 512;
/// Most slots one dnode spans (large_dnode: 16 KiB).
pub(crate) const MAX_SLOTS: usize = 32;
/// Deepest block tree accepted: 6 levels of 128-pointer indirect blocks address more than any
/// 64-bit file; ZFS itself never exceeds this.
pub(crate) const MAX_LEVELS: u8 = 10;
const FLAG_SPILL_BLKPTR: u8 = 1 << 2;

pub(crate) const OT_NONE: u8 = 0;
pub(crate) const OT_ZNODE: u8 = 17;
pub(crate) const OT_SA: u8 = 44;

#[derive(Debug, Clone)]
pub(crate) struct Dnode {
    pub ty: u8,
    pub indblkshift: u8,
    pub nlevels: u8,
    pub bonustype: u8,
    pub datablksz: u64,
    pub maxblkid: u64,
    pub bps: Vec<BlkPtr>,
    pub bonus: Vec<u8>,
    pub spill: Option<BlkPtr>,
    /// Byte order of this dnode (and its bonus buffer).
    pub bo: Bo,
}

/// Extra slots a dnode at `b[off..]` claims (0 for a plain 512-byte dnode).
pub(crate) fn extra_slots(b: &[u8], off: usize) -> usize {
    usize::from(*b.get(off.saturating_add(12)).unwrap_or(&0))
}

impl Dnode {
    /// Parse the dnode in `b` (its slots, 512 bytes or more), stored in order `bo`.
    pub(crate) fn parse(b: &[u8], bo: Bo, what: &dyn Fn() -> String) -> Result<Dnode> {
        let bad = |m: &str| corrupt(format!("{}: {m}", what()));
        if b.len() < SLOT {
            return Err(bad("dnode is short"));
        }
        let ty = *b.first().unwrap_or(&0);
        let indblkshift = *b.get(1).unwrap_or(&0);
        let nlevels = *b.get(2).unwrap_or(&0);
        let nblkptr = *b.get(3).unwrap_or(&0);
        let bonustype = *b.get(4).unwrap_or(&0);
        let flags = *b.get(7).unwrap_or(&0);
        let datablkszsec = bo.u16(b, 8).unwrap_or(0);
        let bonuslen = usize::from(bo.u16(b, 10).unwrap_or(0));
        let maxblkid = bo.u64(b, 16).unwrap_or(0);
        if ty == OT_NONE {
            return Ok(Dnode {
                ty,
                indblkshift,
                nlevels: 0,
                bonustype: 0,
                datablksz: 0,
                maxblkid: 0,
                bps: Vec::new(),
                bonus: Vec::new(),
                spill: None,
                bo,
            });
        }
        if nlevels == 0 || nlevels > MAX_LEVELS {
            return Err(bad(&format!(
                "{nlevels} block tree levels (at most {MAX_LEVELS})"
            )));
        }
        if !(1..=3).contains(&nblkptr) {
            return Err(bad(&format!("{nblkptr} block pointers")));
        }
        if nlevels > 1 && !(10..=17).contains(&indblkshift) {
            return Err(bad(&format!("indirect block shift {indblkshift}")));
        }
        let datablksz = u64::from(datablkszsec) << 9;
        if datablksz == 0 || datablksz > blkptr::MAX_BLOCK {
            return Err(bad(&format!("data block size {datablksz}")));
        }
        let size = b.len();
        let mut bps = Vec::with_capacity(usize::from(nblkptr));
        for i in 0..usize::from(nblkptr) {
            bps.push(BlkPtr::parse(b, 64 + i * blkptr::LEN, bo)?);
        }
        let bonus_off = 64 + usize::from(nblkptr) * blkptr::LEN;
        let spill = if flags & FLAG_SPILL_BLKPTR != 0 {
            Some(BlkPtr::parse(b, size - blkptr::LEN, bo)?)
        } else {
            None
        };
        let bonus_end = if spill.is_some() {
            size - blkptr::LEN
        } else {
            size
        };
        let bonus = bonus_off
            .checked_add(bonuslen)
            .filter(|&e| e <= bonus_end)
            .and_then(|e| b.get(bonus_off..e))
            .ok_or_else(|| bad(&format!("bonus buffer of {bonuslen} bytes does not fit")))?
            .to_vec();
        Ok(Dnode {
            ty,
            indblkshift,
            nlevels,
            bonustype,
            datablksz,
            maxblkid,
            bps,
            bonus,
            spill,
            bo,
        })
    }
}
