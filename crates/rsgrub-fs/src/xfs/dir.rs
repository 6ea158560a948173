//! Directory v2/v3 formats.
//!
//! * shortform: entries packed in the inode's data fork (4- or 8-byte inode numbers);
//! * block: one directory block (`XD2B`/`XDB3`) holding entries, a hash leaf and a tail;
//! * leaf and node: data blocks (`XD2D`/`XDD3`) below the 32 GiB leaf offset, plus leaf,
//!   node and free-index blocks above it, which we never need: names are found by reading
//!   the data blocks linearly.
//!
//! With `ftype`, each entry carries a file-type byte after its name. Every entry length is
//! checked against its block; each step advances by at least 8 bytes.
use super::corrupt;
use crate::{FileType, Result};
use rsgrub_io::be;

/// Byte offset of the leaf section in a directory's address space.
pub(crate) const LEAF_OFFSET: u64 = 32 << 30;

const XD2B: u32 = 0x5844_3242;
const XDB3: u32 = 0x5844_4233;
const XD2D: u32 = 0x5844_3244;
const XDD3: u32 = 0x5844_4433;

/// One live entry.
pub(crate) struct RawEntry<'a> {
    pub name: &'a [u8],
    pub ino: u64,
    pub ftype: Option<FileType>,
}

fn ftype_of(b: u8) -> Option<FileType> {
    match b {
        1 => Some(FileType::Regular),
        2 => Some(FileType::Directory),
        3..=6 => Some(FileType::Other),
        7 => Some(FileType::Symlink),
        _ => None,
    }
}

pub(crate) type Visit<'f> = dyn FnMut(&RawEntry<'_>) -> Result<bool> + 'f;

/// Shortform directory in `fork`. Returns `true` if `f` stopped the scan.
pub(crate) fn scan_shortform(fork: &[u8], ftype: bool, f: &mut Visit<'_>) -> Result<bool> {
    let bad = || corrupt("shortform directory is truncated");
    let count = *fork.first().ok_or_else(bad)?;
    let i8count = *fork.get(1).ok_or_else(bad)?;
    let inum = if i8count > 0 { 8 } else { 4 };
    let mut pos = 2 + inum;
    for _ in 0..count {
        let namelen = usize::from(*fork.get(pos).ok_or_else(bad)?);
        if namelen == 0 {
            return Err(corrupt("shortform directory entry with an empty name"));
        }
        let name_at = pos + 3;
        let name = fork.get(name_at..name_at + namelen).ok_or_else(bad)?;
        let mut p = name_at + namelen;
        let ft = if ftype {
            let b = *fork.get(p).ok_or_else(bad)?;
            p += 1;
            ftype_of(b)
        } else {
            None
        };
        let ino = if inum == 8 {
            be::u64(fork, p).ok_or_else(bad)?
        } else {
            u64::from(be::u32(fork, p).ok_or_else(bad)?)
        };
        pos = p + inum;
        if f(&RawEntry {
            name,
            ino,
            ftype: ft,
        })? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One directory block (block form or data block). Returns `true` if `f` stopped the scan.
pub(crate) fn scan_block(blk: &[u8], v5: bool, ftype: bool, f: &mut Visit<'_>) -> Result<bool> {
    let magic = be::u32(blk, 0).ok_or_else(|| corrupt("directory block truncated"))?;
    let hdr = if v5 { 64 } else { 16 };
    let end = match (magic, v5) {
        (XD2B, false) | (XDB3, true) => {
            let tail = blk.len().saturating_sub(8);
            let count = be::u32(blk, tail).ok_or_else(|| corrupt("directory block truncated"))?;
            let leaf = usize::try_from(count)
                .ok()
                .and_then(|c| c.checked_mul(8))
                .and_then(|b| tail.checked_sub(b))
                .filter(|&l| l >= hdr)
                .ok_or_else(|| corrupt(format!("block directory leaf count {count} is too big")))?;
            leaf
        }
        (XD2D, false) | (XDD3, true) => blk.len(),
        _ => {
            return Err(corrupt(format!(
                "directory block has a bad magic {magic:#x}"
            )))
        }
    };
    let mut pos = hdr;
    while pos + 8 <= end {
        let tag = be::u16(blk, pos).unwrap_or(0);
        if tag == 0xffff {
            let len = usize::from(be::u16(blk, pos + 2).unwrap_or(0));
            if len < 8 || len % 8 != 0 || pos + len > end {
                return Err(corrupt(format!(
                    "free directory space of {len} bytes at {pos} is invalid"
                )));
            }
            pos += len;
            continue;
        }
        let ino = be::u64(blk, pos).ok_or_else(|| corrupt("directory entry truncated"))?;
        let namelen = usize::from(*blk.get(pos + 8).unwrap_or(&0));
        if namelen == 0 {
            return Err(corrupt(format!(
                "directory entry at {pos} has an empty name"
            )));
        }
        let ft = usize::from(ftype);
        let size = (8 + 1 + namelen + ft + 2).div_ceil(8) * 8;
        if pos + size > end {
            return Err(corrupt(format!(
                "directory entry at {pos} of {size} bytes runs past its block"
            )));
        }
        let name = blk
            .get(pos + 9..pos + 9 + namelen)
            .ok_or_else(|| corrupt("directory entry truncated"))?;
        let kind = if ftype {
            ftype_of(*blk.get(pos + 9 + namelen).unwrap_or(&0))
        } else {
            None
        };
        pos += size;
        if name == b"." || name == b".." {
            continue;
        }
        if f(&RawEntry {
            name,
            ino,
            ftype: kind,
        })? {
            return Ok(true);
        }
    }
    Ok(false)
}
