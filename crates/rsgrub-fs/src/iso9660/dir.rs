//! Directory records (ECMA-119 §9.1) and plain ISO 9660 names.
//!
//! A record is `len` bytes: 33 fixed bytes, the file identifier, a pad byte when the
//! identifier's length is even, then the System Use area (Rock Ridge lives there). A length
//! byte of 0 means "no more records in this sector". Every length is checked against the
//! record and the record against the directory's bytes; the System Use length is computed
//! without underflow (a record too short for it simply has none).
use super::corrupt;
use crate::Result;
use rsgrub_io::le;

/// Fixed part of a record, before the identifier.
pub(crate) const FIXED: usize = 33;

pub(crate) const FLAG_DIRECTORY: u8 = 0x02;
/// An associated file (e.g. a resource fork), which shares its name with the main file.
pub(crate) const FLAG_ASSOCIATED: u8 = 0x04;
pub(crate) const FLAG_MORE_EXTENTS: u8 = 0x80;

/// A parsed directory record borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub len: usize,
    pub ext_attr: u8,
    pub extent: u32,
    pub size: u32,
    pub flags: u8,
    /// File unit size and interleave gap (interleaved files when non-zero).
    pub unit: u8,
    pub gap: u8,
    pub name: &'a [u8],
    pub sua: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parse the record at the start of `b` (which may extend past it).
    pub(crate) fn parse(b: &'a [u8]) -> Result<Record<'a>> {
        let len = usize::from(*b.first().ok_or_else(|| corrupt("empty directory record"))?);
        if len < FIXED + 1 {
            return Err(corrupt(format!(
                "directory record of {len} bytes is shorter than {}",
                FIXED + 1
            )));
        }
        let rec = b.get(..len).ok_or_else(|| {
            corrupt(format!(
                "directory record of {len} bytes runs past its directory"
            ))
        })?;
        let name_len = usize::from(*rec.get(32).ok_or_else(|| corrupt("directory record"))?);
        let name = rec.get(FIXED..FIXED + name_len).ok_or_else(|| {
            corrupt(format!(
                "directory record of {len} bytes has a {name_len}-byte identifier"
            ))
        })?;
        let sua_start = FIXED + name_len + usize::from(name_len % 2 == 0);
        let sua = rec.get(sua_start..).unwrap_or_default();
        let field = |off| le::u32(rec, off).ok_or_else(|| corrupt("directory record"));
        let byte = |off: usize| rec.get(off).copied().unwrap_or(0);
        Ok(Record {
            len,
            ext_attr: byte(1),
            extent: field(2)?,
            size: field(10)?,
            flags: byte(25),
            unit: byte(26),
            gap: byte(27),
            name,
            sua,
        })
    }

    /// `.` (identifier 0x00) or `..` (identifier 0x01).
    pub(crate) fn is_dot(&self) -> bool {
        matches!(self.name, [0] | [1])
    }

    pub(crate) fn is_associated(&self) -> bool {
        self.flags & FLAG_ASSOCIATED != 0
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.flags & FLAG_DIRECTORY != 0
    }

    pub(crate) fn more(&self) -> bool {
        self.flags & FLAG_MORE_EXTENTS != 0
    }

    /// Logical block where the data starts (after any extended attribute record).
    pub(crate) fn data_block(&self) -> u64 {
        u64::from(self.extent) + u64::from(self.ext_attr)
    }
}

/// Call `f(position, record)` for every record in a directory's bytes, in order.
///
/// A zero length byte skips to the next 2048-byte sector. `f` returns `true` to stop.
pub(crate) fn each_record(
    data: &[u8],
    f: &mut dyn FnMut(usize, &Record<'_>) -> Result<bool>,
) -> Result<()> {
    let block = super::volume::BLOCK as usize;
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(&len) = data.get(pos) else { break };
        if len == 0 {
            pos = (pos / block + 1) * block;
            continue;
        }
        let rest = data.get(pos..).unwrap_or_default();
        let rec = Record::parse(rest)?;
        if f(pos, &rec)? {
            break;
        }
        pos += rec.len;
    }
    Ok(())
}

/// A plain ISO 9660 name as GRUB shows it: the `;version` cut off, lower-cased, and one
/// trailing `.` (an empty extension) removed.
pub(crate) fn plain_name(id: &[u8]) -> Vec<u8> {
    let base = match id.iter().rposition(|&b| b == b';') {
        Some(p) => id.get(..p).unwrap_or_default(),
        None => id,
    };
    let mut n = base.to_ascii_lowercase();
    if n.last() == Some(&b'.') {
        n.pop();
    }
    n
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn record(name: &[u8], sua: &[u8], len_override: Option<u8>) -> Vec<u8> {
        let mut r = vec![0u8; FIXED];
        r.extend_from_slice(name);
        if name.len().is_multiple_of(2) {
            r.push(0);
        }
        r.extend_from_slice(sua);
        r[0] = len_override.unwrap_or(r.len() as u8);
        r[2..6].copy_from_slice(&20u32.to_le_bytes());
        r[10..14].copy_from_slice(&5u32.to_le_bytes());
        r[32] = name.len() as u8;
        r
    }

    #[test]
    fn parse_and_bounds() {
        let r = record(b"GRUB.CFG;1", b"PX", None);
        let p = Record::parse(&r).unwrap();
        assert_eq!(p.name, b"GRUB.CFG;1");
        assert_eq!(p.sua, b"PX");
        assert_eq!((p.extent, p.size), (20, 5));
        // Too short, name longer than the record, record past its buffer.
        assert!(Record::parse(&record(b"A", b"", Some(20))).is_err());
        let mut r2 = record(b"ABCDEF", b"", None);
        r2[32] = 200;
        assert!(Record::parse(&r2).is_err());
        let r3 = record(b"ABC", b"", Some(100));
        assert!(Record::parse(&r3).is_err());
        // A record exactly as long as its name leaves no System Use area.
        let r4 = record(b"AB", b"", Some(35));
        assert_eq!(Record::parse(&r4).unwrap().sua, b"");
    }

    #[test]
    fn zero_length_skips_to_next_sector() {
        let mut d = vec![0u8; 4096];
        let a = record(b"A;1", b"", None);
        d[..a.len()].copy_from_slice(&a);
        let b = record(b"B;1", b"", None);
        d[2048..2048 + b.len()].copy_from_slice(&b);
        let mut seen = Vec::new();
        each_record(&d, &mut |pos, r| {
            seen.push((pos, r.name.to_vec()));
            Ok(false)
        })
        .unwrap();
        assert_eq!(seen, vec![(0, b"A;1".to_vec()), (2048, b"B;1".to_vec())]);
    }

    #[test]
    fn plain_names() {
        assert_eq!(plain_name(b"GRUB.CFG;1"), b"grub.cfg");
        assert_eq!(plain_name(b"VMLINUZ.;1"), b"vmlinuz");
        assert_eq!(plain_name(b"BOOT"), b"boot");
        assert_eq!(plain_name(b"A;B;1"), b"a;b");
    }
}
