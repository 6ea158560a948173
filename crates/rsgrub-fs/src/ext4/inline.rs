//! Inline data (`inline_data`): small files and directories kept inside the inode.
//!
//! The first 60 bytes live in `i_block`; anything longer continues in the value of the
//! `system.data` extended attribute, stored in the inode's own attribute area (after
//! `128 + i_extra_isize`). That area is a 4-byte magic followed by entries of
//! `{name_len u8, name_index u8, value_offs u16, value_inum u32, value_size u32, hash u32,
//! name}`, each padded to 4 bytes, ending at a zero word. Value offsets count from the first
//! entry.
use super::corrupt;
use super::inode::{Inode, GOOD_OLD_SIZE};
use crate::{FsError, Result};
use rsgrub_io::le;

const IBODY_MAGIC: u32 = 0xEA02_0000;
/// `name_index` of the `system.` namespace.
const INDEX_SYSTEM: u8 = 7;
const ENTRY_HEADER: usize = 16;

/// The value of `system.data` from the inode's attribute area, if present.
pub(crate) fn system_data(inode: &Inode) -> Result<Option<&[u8]>> {
    let raw = inode.raw.as_slice();
    let start = GOOD_OLD_SIZE + inode.extra_isize()?;
    if raw.len() < start + 4 || le::u32(raw, start) != Some(IBODY_MAGIC) {
        return Ok(None);
    }
    let area = raw.get(start + 4..).unwrap_or_default();
    let bad = |what: &str| corrupt(format!("inode {} attributes: {what}", inode.ino));
    let mut off = 0usize;
    // Each step advances by at least 16 bytes, so this ends.
    while off + 4 <= area.len() {
        if le::u32(area, off) == Some(0) {
            break;
        }
        let header = area
            .get(off..off + ENTRY_HEADER)
            .ok_or_else(|| bad("entry header truncated"))?;
        let name_len = usize::from(header.first().copied().unwrap_or(0));
        let index = header.get(1).copied().unwrap_or(0);
        let value_offs = usize::from(le::u16(header, 2).unwrap_or(0));
        let value_inum = le::u32(header, 4).unwrap_or(0);
        let value_size =
            usize::try_from(le::u32(header, 8).unwrap_or(0)).map_err(|_| bad("value size"))?;
        let name_start = off + ENTRY_HEADER;
        let name = area
            .get(name_start..name_start + name_len)
            .ok_or_else(|| bad("name runs past the inode"))?;
        if index == INDEX_SYSTEM && name == b"data" {
            if value_inum != 0 {
                return Err(FsError::Unsupported {
                    fs: super::FS,
                    what: format!("inode {}: inline data in an attribute inode", inode.ino),
                });
            }
            let end = value_offs
                .checked_add(value_size)
                .ok_or_else(|| bad("value range overflows"))?;
            let value = area
                .get(value_offs..end)
                .ok_or_else(|| bad("system.data value runs past the inode"))?;
            return Ok(Some(value));
        }
        off = (name_start + name_len + 3) & !3;
    }
    Ok(None)
}

/// A file's inline bytes: `i_block` then `system.data`, cut to `i_size`.
pub(crate) fn file_bytes(inode: &Inode) -> Result<Vec<u8>> {
    let extra = system_data(inode)?.unwrap_or_default();
    let size = usize::try_from(inode.size).unwrap_or(usize::MAX);
    let avail = inode.i_block.len() + extra.len();
    if size > avail {
        return Err(corrupt(format!(
            "inode {}: inline file of {} bytes holds only {avail}",
            inode.ino, inode.size
        )));
    }
    let mut out = Vec::with_capacity(size);
    out.extend(inode.i_block.iter().chain(extra.iter()).take(size));
    Ok(out)
}
