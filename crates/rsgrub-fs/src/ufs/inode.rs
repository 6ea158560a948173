//! On-disk inodes: UFS1 `struct ufs1_dinode` (128 bytes; Solaris `struct icommon` has the same
//! offsets for the fields read here) and UFS2 `struct ufs2_dinode` (256 bytes).
//!
//! | field        | UFS1        | UFS2        |
//! |--------------|-------------|-------------|
//! | mode         | 0 (u16)     | 0 (u16)     |
//! | size         | 8 (u64)     | 16 (u64)    |
//! | blocks       | 104 (u32)   | 24 (u64)    |
//! | db[12]+ib[3] | 40 (u32 ×15)| 112 (u64 ×15)|
use super::corrupt;
use super::superblock::{Superblock, Version};
use crate::{FileType, Result};

/// `di_mode` type bits.
const IFMT: u16 = 0o170000;
const IFDIR: u16 = 0o040000;
const IFREG: u16 = 0o100000;
const IFLNK: u16 = 0o120000;

/// Direct block pointers.
pub(crate) const NDADDR: usize = 12;

/// The fields of an inode the driver uses.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub size: u64,
    /// 512-byte sectors held (0 for a fast symlink).
    pub blocks: u64,
    /// `db[0..12]` then `ib[0..3]`, in fragments.
    pub addrs: [u64; 15],
    /// The raw pointer area (a short symlink's target lives here).
    pub area: Vec<u8>,
}

impl Inode {
    pub(crate) fn parse(ino: u64, raw: &[u8], sb: &Superblock) -> Result<Self> {
        let e = sb.endian;
        let (size_off, blocks_off, area_off) = match sb.version {
            Version::Ufs1 => (8, 104, 40),
            Version::Ufs2 => (16, 24, 112),
        };
        let trunc = || corrupt(format!("inode {ino} truncated"));
        let mode = e.u16(raw, 0).ok_or_else(trunc)?;
        let size = e.u64(raw, size_off).ok_or_else(trunc)?;
        let blocks = match sb.version {
            Version::Ufs1 => u64::from(e.u32(raw, blocks_off).ok_or_else(trunc)?),
            Version::Ufs2 => e.u64(raw, blocks_off).ok_or_else(trunc)?,
        };
        let ps = usize::try_from(sb.ptr_size()).map_err(|_| trunc())?;
        let area = raw
            .get(area_off..area_off + 15 * ps)
            .ok_or_else(trunc)?
            .to_vec();
        let mut addrs = [0u64; 15];
        for (i, a) in addrs.iter_mut().enumerate() {
            *a = match sb.version {
                Version::Ufs1 => u64::from(e.u32(&area, i * 4).ok_or_else(trunc)?),
                Version::Ufs2 => e.u64(&area, i * 8).ok_or_else(trunc)?,
            };
        }
        if mode & IFMT == 0 {
            return Err(corrupt(format!("inode {ino} is not allocated (mode 0)")));
        }
        Ok(Inode {
            ino,
            mode,
            size,
            blocks,
            addrs,
            area,
        })
    }

    pub(crate) fn kind(&self) -> FileType {
        match self.mode & IFMT {
            IFREG => FileType::Regular,
            IFDIR => FileType::Directory,
            IFLNK => FileType::Symlink,
            _ => FileType::Other,
        }
    }

    /// A symlink whose target is stored in the pointer area: shorter than the recorded
    /// `fs_maxsymlinklen` (4.4BSD), or one that holds no blocks and fits (Solaris and 4.2BSD
    /// record no limit) — FreeBSD's rule in `ufs_readlink`.
    pub(crate) fn is_short_symlink(&self, sb: &Superblock) -> bool {
        if self.kind() != FileType::Symlink {
            return false;
        }
        self.size < sb.maxsymlinklen || (self.blocks == 0 && self.size <= sb.inline_area())
    }
}
