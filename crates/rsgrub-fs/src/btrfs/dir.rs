//! DIR_ITEM (keyed by name hash, for lookups) and DIR_INDEX (keyed by index, for listings).
use super::{corrupt, crc32c_raw, Key};
use crate::{FileType, Result};
use rsgrub_io::le;

pub(crate) const DIR_ITEM: u8 = 84;
pub(crate) const DIR_INDEX: u8 = 96;
const HEAD: usize = 30;

/// btrfs's name hash: crc32c register seeded with `!1`, not inverted at the end.
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    u64::from(crc32c_raw(!1, name))
}

/// One entry of a directory item.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub location: Key,
    pub ty: u8,
    pub name: &'a [u8],
}

impl Entry<'_> {
    pub(crate) fn kind(&self) -> Option<FileType> {
        Some(match self.ty {
            1 => FileType::Regular,
            2 => FileType::Directory,
            7 => FileType::Symlink,
            3..=6 => FileType::Other,
            _ => return None,
        })
    }
}

/// Every entry packed in one item (a DIR_ITEM holds several on a hash collision).
pub(crate) fn entries(b: &[u8]) -> Result<Vec<Entry<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < b.len() {
        let bad = || corrupt("directory entry runs past its item");
        let location = Key::parse(b, pos).ok_or_else(bad)?;
        let data_len = usize::from(le::u16(b, pos + 25).ok_or_else(bad)?);
        let name_len = usize::from(le::u16(b, pos + 27).ok_or_else(bad)?);
        let ty = *b.get(pos + 29).ok_or_else(bad)?;
        let ns = pos + HEAD;
        let name = b.get(ns..ns + name_len).ok_or_else(bad)?;
        let next = ns + name_len + data_len;
        if next > b.len() {
            return Err(bad());
        }
        out.push(Entry { location, ty, name });
        pos = next;
    }
    Ok(out)
}
