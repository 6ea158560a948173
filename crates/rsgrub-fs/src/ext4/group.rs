//! Block group descriptors: where each group's inode table lives.
//!
//! Without `meta_bg` the descriptors form one table right after the superblock's block. With
//! `meta_bg`, groups are gathered into meta-groups of one descriptor block each, and from
//! `s_first_meta_bg` on that block sits at the start of the meta-group's first group (after
//! its superblock backup, if it has one).
use super::corrupt;
use super::superblock::{incompat, ro_compat, Superblock};
use crate::Result;
use rsgrub_io::le;

/// `bg_flags`: the group's inode table has not been initialised.
const INODE_UNINIT: u16 = 0x1;

/// The parts of a group descriptor the reader needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupDesc {
    /// First block of the inode table.
    pub inode_table: u64,
    /// `bg_flags`.
    pub flags: u16,
}

impl GroupDesc {
    /// Bytes of a descriptor the parser looks at (the 64-bit fields end at 0x2C).
    pub(crate) fn read_len(sb: &Superblock) -> usize {
        if sb.desc_size >= 64 {
            0x2C
        } else {
            0x20
        }
    }

    pub(crate) fn parse(raw: &[u8], sb: &Superblock) -> Result<Self> {
        let short = || corrupt("group descriptor truncated");
        let lo = le::u32(raw, 0x08).ok_or_else(short)?;
        let hi = if sb.has_incompat(incompat::BIT64) && sb.desc_size >= 64 {
            le::u32(raw, 0x28).ok_or_else(short)?
        } else {
            0
        };
        let flags = le::u16(raw, 0x12).ok_or_else(short)?;
        Ok(GroupDesc {
            inode_table: (u64::from(hi) << 32) | u64::from(lo),
            flags,
        })
    }

    /// `true` when the flags say the inode table holds no inodes yet. The flag is only
    /// trustworthy when descriptors are checksummed, as the kernel assumes.
    pub(crate) fn inodes_uninit(&self, sb: &Superblock) -> bool {
        let csummed = sb.has_ro_compat(ro_compat::GDT_CSUM | ro_compat::METADATA_CSUM);
        csummed && self.flags & INODE_UNINIT != 0
    }
}

/// Byte offset on the volume of group `g`'s descriptor.
pub(crate) fn desc_offset(sb: &Superblock, g: u32) -> Result<u64> {
    let overflow = || corrupt(format!("group {g} descriptor location overflows"));
    let bs = sb.block_size;
    let ds = u64::from(sb.desc_size);
    let per_block = bs / ds;
    let g = u64::from(g);
    let meta_group = g / per_block;
    let index = g % per_block;
    // The block holding the primary superblock: 1 with 1 KiB blocks, else 0.
    let sb_block: u64 = if bs == 1024 { 1 } else { 0 };

    let block = if !sb.has_incompat(incompat::META_BG) || meta_group < u64::from(sb.first_meta_bg) {
        sb_block
            .checked_add(1)
            .and_then(|b| b.checked_add(meta_group))
            .ok_or_else(overflow)?
    } else {
        let first_group = meta_group.checked_mul(per_block).ok_or_else(overflow)?;
        let mut skip = u64::from(sb.group_has_super(first_group));
        if bs == 1024 && meta_group == 0 && sb.first_data_block == 0 {
            skip += 1;
        }
        first_group
            .checked_mul(u64::from(sb.blocks_per_group))
            .and_then(|b| b.checked_add(u64::from(sb.first_data_block)))
            .and_then(|b| b.checked_add(skip))
            .ok_or_else(overflow)?
    };
    block
        .checked_mul(bs)
        .and_then(|b| b.checked_add(index.checked_mul(ds)?))
        .ok_or_else(overflow)
}
