//! The superblock (1 KiB at byte 1024): geometry, feature flags, identity.
//!
//! Everything the rest of the driver trusts about the layout is checked here once: block
//! size, group geometry, inode and descriptor sizes, and the group count (computed with
//! checked arithmetic and bounded before anything is sized from it).
use super::{corrupt, csum, FS};
use crate::{FsError, Result};
use rsgrub_io::le;

/// Byte offset of the superblock on the volume.
pub(crate) const OFFSET: u64 = 1024;
/// Size of the on-disk superblock.
pub(crate) const SIZE: usize = 1024;
/// `s_magic`.
pub(crate) const MAGIC: u16 = 0xEF53;
/// Offset of `s_magic` inside the superblock.
pub(crate) const MAGIC_OFFSET: usize = 0x38;

/// `s_feature_compat` bits.
pub(crate) mod compat {
    /// ext3 journal.
    pub const HAS_JOURNAL: u32 = 0x4;
    /// Backups only in the two groups named by `s_backup_bgs`.
    pub const SPARSE_SUPER2: u32 = 0x200;
}

/// `s_feature_incompat` bits.
pub(crate) mod incompat {
    pub const COMPRESSION: u32 = 0x1;
    pub const FILETYPE: u32 = 0x2;
    pub const RECOVER: u32 = 0x4;
    pub const JOURNAL_DEV: u32 = 0x8;
    pub const META_BG: u32 = 0x10;
    pub const EXTENTS: u32 = 0x40;
    pub const BIT64: u32 = 0x80;
    pub const MMP: u32 = 0x100;
    pub const FLEX_BG: u32 = 0x200;
    pub const EA_INODE: u32 = 0x400;
    pub const DIRDATA: u32 = 0x1000;
    pub const CSUM_SEED: u32 = 0x2000;
    pub const LARGEDIR: u32 = 0x4000;
    pub const INLINE_DATA: u32 = 0x8000;
    pub const ENCRYPT: u32 = 0x10000;
    pub const CASEFOLD: u32 = 0x20000;

    /// Bits this driver reads correctly.
    pub const SUPPORTED: u32 = FILETYPE
        | RECOVER
        | META_BG
        | EXTENTS
        | BIT64
        | MMP
        | FLEX_BG
        | EA_INODE
        | CSUM_SEED
        | LARGEDIR
        | INLINE_DATA
        | CASEFOLD;

    /// Known bits this driver refuses, with their names.
    pub const REFUSED: &[(u32, &str)] = &[
        (COMPRESSION, "compression"),
        (
            JOURNAL_DEV,
            "journal_dev (external journal device, no filesystem)",
        ),
        (DIRDATA, "dirdata"),
        (ENCRYPT, "encrypt"),
    ];
}

/// `s_feature_ro_compat` bits (none stop a reader; a few change how fields are read).
pub(crate) mod ro_compat {
    pub const SPARSE_SUPER: u32 = 0x1;
    pub const HUGE_FILE: u32 = 0x8;
    pub const GDT_CSUM: u32 = 0x10;
    pub const BIGALLOC: u32 = 0x200;
    pub const METADATA_CSUM: u32 = 0x400;
}

/// Largest group count accepted: group numbers are 32-bit on disk.
const MAX_GROUPS: u64 = 1 << 32;

/// Validated superblock fields the driver uses.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u64,
    pub first_data_block: u32,
    /// Bytes per block, 1 KiB ..= 64 KiB.
    pub block_size: u64,
    /// Bytes per allocation cluster (block size unless bigalloc).
    pub cluster_size: u64,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    /// Bytes per on-disk inode (128 for revision 0).
    pub inode_size: u32,
    /// Bytes per group descriptor (32, or `s_desc_size` with 64bit).
    pub desc_size: u32,
    pub group_count: u32,
    pub compat: u32,
    pub incompat: u32,
    pub ro_compat: u32,
    pub first_meta_bg: u32,
    pub backup_bgs: [u32; 2],
    pub uuid: [u8; 16],
    pub volume_name: [u8; 16],
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

fn u16_at(raw: &[u8], off: usize) -> Result<u16> {
    le::u16(raw, off).ok_or_else(|| corrupt(format!("superblock too short for field at {off:#x}")))
}

fn u32_at(raw: &[u8], off: usize) -> Result<u32> {
    le::u32(raw, off).ok_or_else(|| corrupt(format!("superblock too short for field at {off:#x}")))
}

fn bytes16(raw: &[u8], off: usize) -> Result<[u8; 16]> {
    raw.get(off..off.saturating_add(16))
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .ok_or_else(|| corrupt(format!("superblock too short for field at {off:#x}")))
}

impl Superblock {
    pub(crate) fn has_incompat(&self, bit: u32) -> bool {
        self.incompat & bit != 0
    }

    pub(crate) fn has_ro_compat(&self, bit: u32) -> bool {
        self.ro_compat & bit != 0
    }

    /// Parse and validate the 1 KiB superblock.
    pub(crate) fn parse(raw: &[u8]) -> Result<Self> {
        if raw.len() < SIZE {
            return Err(corrupt(format!(
                "superblock is {} bytes, need {SIZE}",
                raw.len()
            )));
        }
        let magic = u16_at(raw, MAGIC_OFFSET)?;
        if magic != MAGIC {
            return Err(corrupt(format!("bad superblock magic {magic:#06x}")));
        }
        let mut warnings = Vec::new();

        let rev_level = u32_at(raw, 0x4C)?;
        if rev_level > 1 {
            return Err(FsError::Unsupported {
                fs: FS,
                what: format!("revision level {rev_level}"),
            });
        }
        // Revision 0 has no feature fields; they read as zero there anyway on real images,
        // but ignore them to be exact.
        let (compat, incompat, ro) = if rev_level == 0 {
            (0, 0, 0)
        } else {
            (u32_at(raw, 0x5C)?, u32_at(raw, 0x60)?, u32_at(raw, 0x64)?)
        };

        for (bit, name) in incompat::REFUSED {
            if incompat & bit != 0 {
                return Err(FsError::Unsupported {
                    fs: FS,
                    what: (*name).to_string(),
                });
            }
        }
        let unknown = incompat & !incompat::SUPPORTED;
        if unknown != 0 {
            return Err(FsError::Unsupported {
                fs: FS,
                what: format!("unknown incompatible features {unknown:#x}"),
            });
        }

        let log_block = u32_at(raw, 0x18)?;
        if log_block > 6 {
            return Err(corrupt(format!(
                "block size 2^(10+{log_block}) is outside 1 KiB..64 KiB"
            )));
        }
        let block_size: u64 = 1024u64 << log_block;

        let cluster_size = if ro & ro_compat::BIGALLOC != 0 {
            let log_cluster = u32_at(raw, 0x1C)?;
            if log_cluster < log_block || log_cluster > 20 {
                return Err(corrupt(format!(
                    "cluster size 2^(10+{log_cluster}) with block size {block_size}"
                )));
            }
            1024u64 << log_cluster
        } else {
            block_size
        };
        let cluster_ratio = cluster_size / block_size;

        let inodes_count = u32_at(raw, 0x00)?;
        let blocks_lo = u32_at(raw, 0x04)?;
        let blocks_hi = if incompat & incompat::BIT64 != 0 {
            u32_at(raw, 0x150)?
        } else {
            0
        };
        let blocks_count = (u64::from(blocks_hi) << 32) | u64::from(blocks_lo);
        let first_data_block = u32_at(raw, 0x14)?;
        let blocks_per_group = u32_at(raw, 0x20)?;
        let inodes_per_group = u32_at(raw, 0x28)?;

        if block_size > 1024 && first_data_block != 0 {
            return Err(corrupt(format!(
                "first data block {first_data_block} with block size {block_size} (must be 0)"
            )));
        }
        if block_size == 1024 && first_data_block > 1 {
            return Err(corrupt(format!(
                "first data block {first_data_block} with 1 KiB blocks (must be 0 or 1)"
            )));
        }
        if blocks_count <= u64::from(first_data_block) {
            return Err(corrupt(format!(
                "block count {blocks_count} is not above the first data block {first_data_block}"
            )));
        }

        let bits_per_block = block_size
            .checked_mul(8)
            .ok_or_else(|| corrupt("block size overflow"))?;
        let max_bpg = bits_per_block
            .checked_mul(cluster_ratio)
            .ok_or_else(|| corrupt("blocks per group limit overflows"))?;
        if blocks_per_group == 0 || u64::from(blocks_per_group) > max_bpg {
            return Err(corrupt(format!(
                "{blocks_per_group} blocks per group (must be 1..={max_bpg})"
            )));
        }

        let inode_size: u32 = if rev_level == 0 {
            128
        } else {
            u32::from(u16_at(raw, 0x58)?)
        };
        if inode_size < 128 || !inode_size.is_power_of_two() || u64::from(inode_size) > block_size {
            return Err(corrupt(format!(
                "inode size {inode_size} (must be a power of two from 128 to the block size {block_size})"
            )));
        }
        let inodes_per_block = block_size / u64::from(inode_size);
        if inodes_per_group == 0
            || u64::from(inodes_per_group) > bits_per_block
            || u64::from(inodes_per_group) < inodes_per_block
        {
            return Err(corrupt(format!(
                "{inodes_per_group} inodes per group (must be {inodes_per_block}..={bits_per_block})"
            )));
        }

        let desc_size: u32 = if incompat & incompat::BIT64 != 0 {
            let d = u32::from(u16_at(raw, 0xFE)?);
            if !(64..=1024).contains(&d) || !d.is_power_of_two() {
                return Err(corrupt(format!(
                    "group descriptor size {d} (must be a power of two from 64 to 1024)"
                )));
            }
            d
        } else {
            32
        };

        // Group count: ceil((blocks - first_data_block) / blocks_per_group), bounded before
        // anything depends on it.
        let data_blocks = blocks_count - u64::from(first_data_block);
        let groups = data_blocks.div_ceil(u64::from(blocks_per_group));
        let descs_per_block = block_size / u64::from(desc_size);
        if groups == 0 || groups > MAX_GROUPS.saturating_sub(descs_per_block) {
            return Err(corrupt(format!(
                "{groups} block groups ({blocks_count} blocks, {blocks_per_group} per group)"
            )));
        }
        let group_count = u32::try_from(groups)
            .map_err(|_| corrupt(format!("{groups} block groups do not fit 32 bits")))?;
        let max_inodes = groups
            .checked_mul(u64::from(inodes_per_group))
            .ok_or_else(|| corrupt("inode count overflows"))?;
        if inodes_count < 2 || u64::from(inodes_count) > max_inodes {
            return Err(corrupt(format!(
                "{inodes_count} inodes, but {groups} groups of {inodes_per_group} hold {max_inodes}"
            )));
        }
        // The descriptor table must fit in the filesystem (it is contiguous without meta_bg,
        // and spread over groups with it; either way it is at most this many bytes).
        let table_bytes = groups
            .checked_mul(u64::from(desc_size))
            .ok_or_else(|| corrupt("group descriptor table size overflows"))?;
        let fs_bytes = blocks_count.checked_mul(block_size).ok_or_else(|| {
            corrupt(format!(
                "{blocks_count} blocks of {block_size} bytes overflow"
            ))
        })?;
        if table_bytes >= fs_bytes {
            return Err(corrupt(format!(
                "group descriptor table of {table_bytes} bytes does not fit in {fs_bytes} bytes"
            )));
        }

        let first_meta_bg = u32_at(raw, 0x104)?;
        let backup_bgs = [u32_at(raw, 0x24C)?, u32_at(raw, 0x250)?];
        let state = u16_at(raw, 0x3A)?;

        if incompat & incompat::RECOVER != 0 {
            warnings.push(
                "journal needs recovery; reading the filesystem as is, without replaying it \
                 (recently written files may be stale)"
                    .to_string(),
            );
        }
        if state & 0x2 != 0 {
            warnings.push("filesystem is marked as having errors".to_string());
        }
        if ro & ro_compat::METADATA_CSUM != 0 {
            let kind = raw.get(0x175).copied().unwrap_or(0);
            if kind != 1 {
                warnings.push(format!("unknown metadata checksum type {kind}"));
            } else {
                let stored = u32_at(raw, 0x3FC)?;
                let body = raw.get(..0x3FC).unwrap_or_default();
                let computed = csum::update(!0, body);
                if stored != computed {
                    warnings.push(format!(
                        "superblock checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                    ));
                }
            }
        }

        Ok(Superblock {
            inodes_count,
            blocks_count,
            first_data_block,
            block_size,
            cluster_size,
            blocks_per_group,
            inodes_per_group,
            inode_size,
            desc_size,
            group_count,
            compat,
            incompat,
            ro_compat: ro,
            first_meta_bg,
            backup_bgs,
            uuid: bytes16(raw, 0x68)?,
            volume_name: bytes16(raw, 0x78)?,
            warnings,
        })
    }

    /// UUID as GRUB prints it: lower-case 8-4-4-4-12. `None` when all zero.
    pub(crate) fn uuid_string(&self) -> Option<String> {
        if self.uuid.iter().all(|&b| b == 0) {
            return None;
        }
        let mut s = String::with_capacity(36);
        for (i, b) in self.uuid.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push_str(&format!("{b:02x}"));
        }
        Some(s)
    }

    /// `s_volume_name` up to its first NUL, `None` when empty.
    pub(crate) fn label_string(&self) -> Option<String> {
        let end = self
            .volume_name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.volume_name.len());
        let name = self.volume_name.get(..end).unwrap_or_default();
        if name.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(name).into_owned())
        }
    }

    /// Whether group `g` holds a superblock backup (and so a descriptor copy).
    pub(crate) fn group_has_super(&self, g: u64) -> bool {
        if g == 0 {
            return true;
        }
        if self.compat & compat::SPARSE_SUPER2 != 0 {
            return self.backup_bgs.iter().any(|&b| u64::from(b) == g);
        }
        if self.ro_compat & ro_compat::SPARSE_SUPER == 0 || g == 1 {
            return true;
        }
        if g & 1 == 0 {
            return false;
        }
        [3u64, 5, 7].iter().any(|&base| is_power_of(g, base))
    }

    /// ext2 / ext3 / ext4, for [`crate::Filesystem::name`].
    pub(crate) fn flavour(&self) -> &'static str {
        let ext4_incompat = incompat::EXTENTS
            | incompat::BIT64
            | incompat::FLEX_BG
            | incompat::INLINE_DATA
            | incompat::META_BG
            | incompat::LARGEDIR;
        let ext4_ro = ro_compat::HUGE_FILE
            | ro_compat::GDT_CSUM
            | ro_compat::METADATA_CSUM
            | ro_compat::BIGALLOC;
        if self.incompat & ext4_incompat != 0 || self.ro_compat & ext4_ro != 0 {
            "ext4"
        } else if self.compat & compat::HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }
}

fn is_power_of(mut n: u64, base: u64) -> bool {
    while n > 1 {
        let rem = n % base;
        if rem != 0 {
            return false;
        }
        n /= base;
    }
    n == 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn minimal() -> Vec<u8> {
        let mut raw = vec![0u8; SIZE];
        let put32 = |raw: &mut Vec<u8>, off: usize, v: u32| {
            raw[off..off + 4].copy_from_slice(&v.to_le_bytes());
        };
        put32(&mut raw, 0x00, 2048); // inodes
        put32(&mut raw, 0x04, 8192); // blocks
        put32(&mut raw, 0x14, 1); // first data block
        put32(&mut raw, 0x18, 0); // 1 KiB
        put32(&mut raw, 0x20, 8192);
        put32(&mut raw, 0x28, 2048);
        put32(&mut raw, 0x4C, 1);
        raw[0x58..0x5A].copy_from_slice(&128u16.to_le_bytes());
        raw[0x38..0x3A].copy_from_slice(&MAGIC.to_le_bytes());
        raw
    }

    #[test]
    fn minimal_parses() {
        let sb = Superblock::parse(&minimal()).unwrap();
        assert_eq!(sb.block_size, 1024);
        assert_eq!(sb.group_count, 1);
        assert_eq!(sb.uuid_string(), None);
        assert_eq!(sb.label_string(), None);
    }

    #[test]
    fn bad_geometry_rejected() {
        let mut r = minimal();
        r[0x18] = 20;
        assert!(Superblock::parse(&r).is_err());
        let mut r = minimal();
        r[0x28..0x2C].fill(0);
        assert!(Superblock::parse(&r).is_err());
        let mut r = minimal();
        r[0x20..0x24].copy_from_slice(&1u32.to_le_bytes());
        r[0x04..0x08].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Superblock::parse(&r).is_err());
        let mut r = minimal();
        r[0x60] = 0x01; // compression
        assert!(matches!(
            Superblock::parse(&r),
            Err(FsError::Unsupported { .. })
        ));
    }

    #[test]
    fn sparse_groups() {
        let mut r = minimal();
        r[0x64] = 1;
        let sb = Superblock::parse(&r).unwrap();
        let with: Vec<u64> = (0..60).filter(|&g| sb.group_has_super(g)).collect();
        assert_eq!(with, vec![0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }
}
