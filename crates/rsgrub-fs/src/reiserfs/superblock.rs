//! The superblock at 64 KiB (`struct reiserfs_super_block`, little-endian).
//!
//! | offset | field |
//! |---|---|
//! | 0 | `s_block_count` |
//! | 8 | `s_root_block` |
//! | 12..44 | journal parameters (not used: the journal is not replayed) |
//! | 44 | `s_blocksize` (u16) |
//! | 50 | `s_umount_state` (1 = cleanly unmounted) |
//! | 52 | `s_magic[10]`: `ReIsErFs` (3.5), `ReIsEr2Fs` (3.6), `ReIsEr3Fs` (relocated journal) |
//! | 64 | `s_hash_function_code` (1 tea, 2 rupasov, 3 r5) |
//! | 68 | `s_tree_height` (root level + 1) |
//! | 72 | `s_version` (0 = 3.5, 2 = 3.6) |
//! | 84 | `s_uuid[16]`, 100: `s_label[16]` (3.6 superblock only: 3.5 keeps its objectid map there) |
use super::corrupt;
use super::hash::Hash;
use crate::Result;
use rsgrub_io::le;

/// Byte offset of the superblock.
pub(crate) const OFFSET: u64 = 65536;
/// Bytes read.
pub(crate) const SIZE: usize = 204;
const MAGIC_OFF: usize = 52;
const MAGICS: [&[u8; 10]; 3] = [b"ReIsErFs\0\0", b"ReIsEr2Fs\0", b"ReIsEr3Fs\0"];
/// Highest node level (`MAX_HEIGHT`); leaves are level 1.
pub(crate) const MAX_LEVEL: u16 = 5;

/// Validated superblock fields.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub block_count: u64,
    pub root_block: u64,
    pub block_size: u64,
    /// Level of the root node (1 = the root is a leaf).
    pub root_level: u16,
    /// `None` when not recorded or unknown: lookups then scan the whole directory.
    pub hash: Option<Hash>,
    pub hash_code: u32,
    pub clean: bool,
    pub uuid: [u8; 16],
    pub label: [u8; 16],
}

/// `true` if `raw` (the superblock bytes) carries a ReiserFS magic.
pub(crate) fn has_magic(raw: &[u8]) -> bool {
    raw.get(MAGIC_OFF..MAGIC_OFF + 10)
        .is_some_and(|m| MAGICS.iter().any(|k| m == &k[..]))
}

impl Superblock {
    pub(crate) fn parse(raw: &[u8]) -> Result<Self> {
        if !has_magic(raw) {
            return Err(corrupt("bad superblock magic"));
        }
        let u32_ = |o: usize| le::u32(raw, o).ok_or_else(|| corrupt("superblock truncated"));
        let u16_ = |o: usize| le::u16(raw, o).ok_or_else(|| corrupt("superblock truncated"));
        let block_size = u64::from(u16_(44)?);
        if !block_size.is_power_of_two() || block_size < 512 {
            return Err(corrupt(format!(
                "block size {block_size} is not a power of two of at least 512"
            )));
        }
        let block_count = u64::from(u32_(0)?);
        let sb_block = OFFSET / block_size;
        if block_count <= sb_block + 1 {
            return Err(corrupt(format!(
                "{block_count} blocks cannot hold the superblock at block {sb_block}"
            )));
        }
        let root_block = u64::from(u32_(8)?);
        if root_block <= sb_block || root_block >= block_count {
            return Err(corrupt(format!(
                "root block {root_block} is outside {}..{block_count}",
                sb_block + 1
            )));
        }
        let height = u16_(68)?;
        if !(2..=MAX_LEVEL + 1).contains(&height) {
            return Err(corrupt(format!(
                "tree height {height} is outside 2..={}",
                MAX_LEVEL + 1
            )));
        }
        let hash_code = u32_(64)?;
        // Only the 3.6 superblock has these; in 3.5 the objectid map starts at byte 76.
        let mut uuid = [0u8; 16];
        let mut label = [0u8; 16];
        if u16_(72)? == 2 {
            uuid.copy_from_slice(
                raw.get(84..100)
                    .ok_or_else(|| corrupt("superblock truncated"))?,
            );
            label.copy_from_slice(
                raw.get(100..116)
                    .ok_or_else(|| corrupt("superblock truncated"))?,
            );
        }
        Ok(Superblock {
            block_count,
            root_block,
            block_size,
            root_level: height - 1,
            hash: Hash::from_code(hash_code),
            hash_code,
            clean: u16_(50)? == 1,
            uuid,
            label,
        })
    }

    /// As GRUB prints it: the 16 bytes in order, 8-4-4-4-12; `None` when all zero.
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

    /// `s_label` up to its first NUL, `None` when empty.
    pub(crate) fn label_string(&self) -> Option<String> {
        let end = self
            .label
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.label.len());
        let name = self.label.get(..end).unwrap_or_default();
        (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
    }
}
