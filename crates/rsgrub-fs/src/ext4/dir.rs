//! Directory entries: `{inode u32, rec_len u16, name_len u8, file_type u8, name}` records
//! chained by `rec_len` through each directory block.
//!
//! htree (`dir_index`) directories are read linearly: their index blocks look like one
//! deleted entry spanning the block (and the root's index hides inside `..`'s record), and
//! the metadata_csum tail is an entry with inode 0. Every record is validated before its name
//! is looked at, so a zero or oversized `rec_len` is an error rather than a loop.
use super::corrupt;
use crate::{FileType, Result};
use rsgrub_io::le;

/// Smallest record: the 8-byte header.
const HEADER: usize = 8;

/// One live entry, borrowed from its block.
pub(crate) struct RawEntry<'a> {
    pub inode: u32,
    pub name: &'a [u8],
    /// `file_type` byte, 0 when the filesystem does not record types.
    pub file_type: u8,
}

impl RawEntry<'_> {
    pub(crate) fn kind(&self) -> Option<FileType> {
        match self.file_type {
            1 => Some(FileType::Regular),
            2 => Some(FileType::Directory),
            7 => Some(FileType::Symlink),
            3..=6 => Some(FileType::Other),
            _ => None,
        }
    }
}

/// How to read records.
#[derive(Clone, Copy)]
pub(crate) struct Format {
    /// `filetype` feature: byte 7 is the type (else it is the high byte of an old 16-bit
    /// name length, which is never above 255 in practice, so it is ignored).
    pub filetype: bool,
    /// 64 KiB blocks: `rec_len` encodes 65536 as 0 or 65535, and its low bits as bits 16-17.
    pub big_blocks: bool,
}

fn rec_len(raw: u16, fmt: Format) -> usize {
    let raw = usize::from(raw);
    if fmt.big_blocks {
        if raw == 0 || raw == 0xFFFF {
            return 1 << 16;
        }
        return (raw & 0xFFFC) | ((raw & 3) << 16);
    }
    raw
}

/// Call `f` on each live entry of one block (or inline region), skipping `.`, `..`, deleted
/// entries and names no path can reach (containing `/` or NUL). `f` returns `true` to stop
/// early; the result says whether it did.
pub(crate) fn scan_block(
    block: &[u8],
    fmt: Format,
    f: &mut dyn FnMut(&RawEntry<'_>) -> Result<bool>,
) -> Result<bool> {
    let mut off = 0usize;
    while off < block.len() {
        let rest = block.get(off..).unwrap_or_default();
        let bad = |what: String| corrupt(format!("directory entry at byte {off}: {what}"));
        if rest.len() < HEADER {
            return Err(bad(format!(
                "{} bytes left, too few for a header",
                rest.len()
            )));
        }
        let inode = le::u32(rest, 0).unwrap_or(0);
        let len = rec_len(le::u16(rest, 4).unwrap_or(0), fmt);
        let name_len = usize::from(rest.get(6).copied().unwrap_or(0));
        let file_type = if fmt.filetype {
            rest.get(7).copied().unwrap_or(0)
        } else {
            0
        };
        if len < HEADER || len & 3 != 0 || len > rest.len() {
            return Err(bad(format!(
                "record length {len} (block has {} bytes left)",
                rest.len()
            )));
        }
        if name_len > len - HEADER {
            return Err(bad(format!(
                "name of {name_len} bytes in a {len}-byte record"
            )));
        }
        let name = rest.get(HEADER..HEADER + name_len).unwrap_or_default();
        let live = inode != 0
            && !name.is_empty()
            && name != b"."
            && name != b".."
            && !name.iter().any(|&b| b == b'/' || b == 0);
        if live
            && f(&RawEntry {
                inode,
                name,
                file_type,
            })?
        {
            return Ok(true);
        }
        off += len;
    }
    Ok(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn entry(buf: &mut Vec<u8>, ino: u32, rec: u16, name: &[u8], ty: u8) {
        let start = buf.len();
        buf.extend_from_slice(&ino.to_le_bytes());
        buf.extend_from_slice(&rec.to_le_bytes());
        buf.push(name.len() as u8);
        buf.push(ty);
        buf.extend_from_slice(name);
        buf.resize(start + usize::from(rec), 0);
    }

    const FMT: Format = Format {
        filetype: true,
        big_blocks: false,
    };

    fn names(block: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut v = Vec::new();
        scan_block(block, FMT, &mut |e| {
            v.push(e.name.to_vec());
            Ok(false)
        })?;
        Ok(v)
    }

    #[test]
    fn parses_and_skips() {
        let mut b = Vec::new();
        entry(&mut b, 2, 12, b".", 2);
        entry(&mut b, 2, 12, b"..", 2);
        entry(&mut b, 0, 16, b"gone", 1);
        entry(&mut b, 12, 16, b"file", 1);
        entry(&mut b, 13, 8, b"", 0);
        assert_eq!(names(&b).unwrap(), vec![b"file".to_vec()]);
    }

    #[test]
    fn rejects_bad_rec_len() {
        for rec in [0u16, 6, 10, 64] {
            let mut b = Vec::new();
            entry(&mut b, 12, 12, b"a", 1);
            b.extend_from_slice(&12u32.to_le_bytes());
            b.extend_from_slice(&rec.to_le_bytes());
            b.extend_from_slice(&[1, 1, b'b', 0]);
            b.resize(32, 0);
            assert!(names(&b).is_err(), "rec_len {rec}");
        }
        let mut b = Vec::new();
        entry(&mut b, 12, 12, b"abcd", 1);
        b[6] = 9; // name longer than the record
        assert!(names(&b).is_err());
    }
}
