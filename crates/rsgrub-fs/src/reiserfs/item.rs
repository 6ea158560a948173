//! Item bodies: stat data (v1 32 bytes, v2 44 bytes), directory items (entry headers, names
//! packed from the end), indirect items (block pointers, 0 = hole) and direct items (file
//! tails, bytes as is).
use super::corrupt;
use crate::{FileType, Result};
use rsgrub_io::le;

/// Directory entry header size.
const DEH: usize = 16;
/// `deh_state` bit: the entry is visible (not a deleted or being-created name).
const DEH_VISIBLE: u16 = 1 << 2;

/// What the driver needs of a stat-data item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub mode: u16,
    pub size: u64,
}

impl Stat {
    /// Parse a stat-data body; the v2 layout is 44 bytes, v1 32.
    pub(crate) fn parse(body: &[u8], v2: bool) -> Result<Stat> {
        let mode = le::u16(body, 0).ok_or_else(|| corrupt("stat data truncated"))?;
        let size = if v2 {
            if body.len() < 44 {
                return Err(corrupt(format!("v2 stat data of {} bytes", body.len())));
            }
            le::u64(body, 8)
        } else {
            if body.len() < 32 {
                return Err(corrupt(format!("v1 stat data of {} bytes", body.len())));
            }
            le::u32(body, 8).map(u64::from)
        }
        .ok_or_else(|| corrupt("stat data truncated"))?;
        Ok(Stat { mode, size })
    }

    pub(crate) fn kind(&self) -> FileType {
        match self.mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}

/// One visible directory entry.
pub(crate) struct Entry<'a> {
    /// Hash and generation (`deh_offset`).
    pub offset: u32,
    pub dir_id: u32,
    pub objectid: u32,
    pub name: &'a [u8],
}

/// Call `f` on each visible entry of a directory item with `count` entries, in order, until
/// it returns `true`. Names run from their own location to the previous entry's (the first
/// entry's name ends the item), and trailing NUL padding is dropped.
pub(crate) fn entries(
    body: &[u8],
    count: u16,
    f: &mut dyn FnMut(&Entry<'_>) -> Result<bool>,
) -> Result<bool> {
    let count = usize::from(count);
    let heads = count
        .checked_mul(DEH)
        .filter(|&h| h <= body.len())
        .ok_or_else(|| {
            corrupt(format!(
                "directory item of {} bytes claims {count} entries",
                body.len()
            ))
        })?;
    let mut end = body.len();
    for i in 0..count {
        let h = body
            .get(i * DEH..(i + 1) * DEH)
            .ok_or_else(|| corrupt("directory entry header truncated"))?;
        let offset = le::u32(h, 0).unwrap_or(0);
        let dir_id = le::u32(h, 4).unwrap_or(0);
        let objectid = le::u32(h, 8).unwrap_or(0);
        let loc = usize::from(le::u16(h, 12).unwrap_or(0));
        let state = le::u16(h, 14).unwrap_or(0);
        if loc < heads || loc > end {
            return Err(corrupt(format!(
                "directory entry {i}: name at {loc} is outside {heads}..{end}"
            )));
        }
        let raw = body.get(loc..end).unwrap_or_default();
        end = loc;
        if state & DEH_VISIBLE == 0 {
            continue;
        }
        let name_len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let name = raw.get(..name_len).unwrap_or_default();
        if f(&Entry {
            offset,
            dir_id,
            objectid,
            name,
        })? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `i`th block pointer of an indirect item.
pub(crate) fn pointer(body: &[u8], i: usize) -> Option<u32> {
    le::u32(body, i.checked_mul(4)?)
}
