//! Directory entries (`struct direct`): `{d_ino u32, d_reclen u16, d_type u8, d_namlen u8,
//! name}` in the 4.4BSD format, `{d_ino u32, d_reclen u16, d_namlen u16, name}` in the old
//! format (4.2BSD, and Solaris).
//!
//! Entries are chained by `d_reclen` inside 512-byte chunks (`DIRBLKSIZ`) and never cross
//! one. Every record is checked before its name is looked at: a `d_reclen` of zero, not a
//! multiple of four, too short for its name or running past its chunk is an error, never a
//! loop.
use super::corrupt;
use super::superblock::Endian;
use crate::{FileType, Result};

/// Directory chunk size; records never cross one.
pub(crate) const DIRBLKSIZ: usize = 512;
/// Header bytes before the name.
const HEADER: usize = 8;
/// Whiteout entries (`DT_WHT`) of union mounts point at inode 1 and are not files.
const DT_WHT: u8 = 14;

/// How to read records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Format {
    pub endian: Endian,
    /// 4.4BSD (`d_type` + 8-bit `d_namlen`), else the old 16-bit `d_namlen`.
    pub bsd44: bool,
}

/// One live entry, borrowed from its chunk.
pub(crate) struct RawEntry<'a> {
    pub ino: u32,
    pub name: &'a [u8],
    /// `d_type`, 0 (unknown) in the old format.
    pub d_type: u8,
}

impl RawEntry<'_> {
    pub(crate) fn kind(&self) -> Option<FileType> {
        match self.d_type {
            8 => Some(FileType::Regular),
            4 => Some(FileType::Directory),
            10 => Some(FileType::Symlink),
            0 => None,
            _ => Some(FileType::Other),
        }
    }
}

/// Call `f` on every live entry of `data` (whole chunks; a short tail is parsed as far as
/// it goes), skipping `.`, `..`, free slots, whiteouts and names no path can reach. `f`
/// returns `true` to stop; the result says whether it did.
pub(crate) fn scan(
    data: &[u8],
    fmt: Format,
    f: &mut dyn FnMut(&RawEntry<'_>) -> Result<bool>,
) -> Result<bool> {
    for chunk in data.chunks(DIRBLKSIZ) {
        if scan_chunk(chunk, fmt, f)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn scan_chunk(
    chunk: &[u8],
    fmt: Format,
    f: &mut dyn FnMut(&RawEntry<'_>) -> Result<bool>,
) -> Result<bool> {
    let e = fmt.endian;
    let mut pos = 0usize;
    // Each step advances by at least HEADER bytes, so this ends.
    while pos < chunk.len() {
        let hdr = chunk
            .get(pos..pos + HEADER)
            .ok_or_else(|| corrupt(format!("directory record at {pos} is truncated")))?;
        let ino = e.u32(hdr, 0).unwrap_or(0);
        let reclen = usize::from(e.u16(hdr, 4).unwrap_or(0));
        let (d_type, namlen) = if fmt.bsd44 {
            (
                hdr.get(6).copied().unwrap_or(0),
                usize::from(hdr.get(7).copied().unwrap_or(0)),
            )
        } else {
            (0, usize::from(e.u16(hdr, 6).unwrap_or(0)))
        };
        if reclen < HEADER || reclen % 4 != 0 || reclen > chunk.len() - pos {
            return Err(corrupt(format!(
                "directory record at {pos} has length {reclen} ({} bytes left in its chunk)",
                chunk.len() - pos
            )));
        }
        if ino != 0 {
            if namlen > 255 || HEADER + namlen > reclen {
                return Err(corrupt(format!(
                    "directory record at {pos}: name of {namlen} bytes in a {reclen}-byte record"
                )));
            }
            let name = chunk
                .get(pos + HEADER..pos + HEADER + namlen)
                .ok_or_else(|| corrupt("directory name truncated"))?;
            let skip = name.is_empty()
                || name == b"."
                || name == b".."
                || d_type == DT_WHT
                || name.iter().any(|&b| b == b'/' || b == 0);
            if !skip && f(&RawEntry { ino, name, d_type })? {
                return Ok(true);
            }
        }
        pos += reclen;
    }
    Ok(false)
}

/// Whether a directory's first chunk is in the old format, judged by its `.` entry: in the
/// 4.4BSD format byte 7 is `d_namlen` (1), in the old little-endian format it is the high
/// byte of the 16-bit length (0) and byte 6 is 1. Big-endian old records read the same in
/// both formats, except that `d_type` comes out 0 (unknown), so they count as 4.4BSD.
pub(crate) fn looks_old_format(first_chunk: &[u8], endian: Endian) -> bool {
    endian == Endian::Little && first_chunk.get(6..9) == Some(&[1u8, 0, b'.'][..])
}
