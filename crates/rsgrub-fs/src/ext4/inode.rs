//! Inodes: type, size, flags, and the 60-byte `i_block` that holds the data mapping (or a
//! fast symlink's target, or the start of inline data).
use super::corrupt;
use super::superblock::{incompat, ro_compat, Superblock};
use crate::{FileType, Result};
use rsgrub_io::le;

/// Size of `i_block`.
pub(crate) const I_BLOCK_LEN: usize = 60;
/// The fixed part of every inode.
pub(crate) const GOOD_OLD_SIZE: usize = 128;

/// `i_flags` bits.
pub(crate) mod flags {
    pub const ENCRYPT: u32 = 0x800;
    pub const HUGE_FILE: u32 = 0x4_0000;
    pub const EXTENTS: u32 = 0x8_0000;
    pub const EA_INODE: u32 = 0x20_0000;
    pub const INLINE_DATA: u32 = 0x1000_0000;
}

/// A parsed inode.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    /// Inode number.
    pub ino: u64,
    pub mode: u16,
    pub size: u64,
    pub flags: u32,
    /// `i_blocks` in 512-byte units (normalised from huge_file's block units).
    pub sectors: u64,
    /// Extended attribute block (`i_file_acl`).
    pub file_acl: u64,
    pub i_block: [u8; I_BLOCK_LEN],
    /// The whole on-disk inode (for in-inode extended attributes).
    pub raw: Vec<u8>,
}

impl Inode {
    pub(crate) fn parse(ino: u64, raw: Vec<u8>, sb: &Superblock) -> Result<Self> {
        let short = || corrupt(format!("inode {ino} truncated"));
        let mode = le::u16(&raw, 0x00).ok_or_else(short)?;
        let size_lo = u64::from(le::u32(&raw, 0x04).ok_or_else(short)?);
        let size_hi = u64::from(le::u32(&raw, 0x6C).ok_or_else(short)?);
        let blocks_lo = u64::from(le::u32(&raw, 0x1C).ok_or_else(short)?);
        let flags = le::u32(&raw, 0x20).ok_or_else(short)?;
        let acl_lo = u64::from(le::u32(&raw, 0x68).ok_or_else(short)?);
        let blocks_hi = u64::from(le::u16(&raw, 0x74).ok_or_else(short)?);
        let acl_hi = u64::from(le::u16(&raw, 0x76).ok_or_else(short)?);
        let i_block: [u8; I_BLOCK_LEN] = raw
            .get(0x28..0x28 + I_BLOCK_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(short)?;

        let kind = kind_of(mode);
        // i_size_high is only the size's top half for files (and for directories with
        // large_dir); old ext2 used the field for directory ACLs.
        let size = if kind == FileType::Regular || sb.has_incompat(incompat::LARGEDIR) {
            (size_hi << 32) | size_lo
        } else {
            size_lo
        };
        let huge = sb.has_ro_compat(ro_compat::HUGE_FILE);
        let mut sectors = if huge {
            (blocks_hi << 32) | blocks_lo
        } else {
            blocks_lo
        };
        if huge && flags & flags::HUGE_FILE != 0 {
            sectors = sectors.saturating_mul(sb.block_size / 512);
        }
        let file_acl = if sb.has_incompat(incompat::BIT64) {
            (acl_hi << 32) | acl_lo
        } else {
            acl_lo
        };
        Ok(Inode {
            ino,
            mode,
            size,
            flags,
            sectors,
            file_acl,
            i_block,
            raw,
        })
    }

    pub(crate) fn kind(&self) -> FileType {
        kind_of(self.mode)
    }

    pub(crate) fn has_flag(&self, bit: u32) -> bool {
        self.flags & bit != 0
    }

    pub(crate) fn is_inline(&self) -> bool {
        self.has_flag(flags::INLINE_DATA)
    }

    /// A symlink whose target lives in `i_block` itself: short, and owning no data blocks
    /// (an extended-attribute block, e.g. a security label, does not count).
    pub(crate) fn is_fast_symlink(&self, sb: &Superblock) -> bool {
        if self.kind() != FileType::Symlink || self.is_inline() {
            return false;
        }
        if self.has_flag(flags::EA_INODE) {
            return self.size < I_BLOCK_LEN as u64;
        }
        let ea_sectors = if self.file_acl != 0 {
            sb.cluster_size / 512
        } else {
            0
        };
        self.size < I_BLOCK_LEN as u64 && self.sectors.saturating_sub(ea_sectors) == 0
    }

    /// `i_extra_isize`: bytes used past the fixed 128, where in-inode attributes begin after.
    pub(crate) fn extra_isize(&self) -> Result<usize> {
        if self.raw.len() <= GOOD_OLD_SIZE {
            return Ok(0);
        }
        let extra = usize::from(
            le::u16(&self.raw, GOOD_OLD_SIZE)
                .ok_or_else(|| corrupt(format!("inode {} truncated", self.ino)))?,
        );
        if extra & 3 != 0 || GOOD_OLD_SIZE + extra > self.raw.len() {
            return Err(corrupt(format!(
                "inode {} extra size {extra} does not fit its {} bytes",
                self.ino,
                self.raw.len()
            )));
        }
        Ok(extra)
    }
}

pub(crate) fn kind_of(mode: u16) -> FileType {
    match mode & 0xF000 {
        0x4000 => FileType::Directory,
        0x8000 => FileType::Regular,
        0xA000 => FileType::Symlink,
        _ => FileType::Other,
    }
}
