//! Directory entries: 32-byte short (8.3) entries and the VFAT long-name entries before them.
//!
//! A long name is a run of entries with attribute `0x0F`, highest sequence number first (its
//! `0x40` bit marks the start), each holding 13 UTF-16LE units and the checksum of the short
//! name it belongs to. As GRUB does, the long name is used only when the sequence is complete
//! and in order and its checksum matches the short entry that follows; otherwise the short
//! name stands. Short names are shown with the NT lower-case flags (byte 12) applied, as
//! Linux and Windows show them; lookups are case-insensitive anyway.
use super::corrupt;
use crate::Result;
use rsgrub_io::le;

pub(crate) const ENTRY: usize = 32;
pub(crate) const ATTR_VOLUME_ID: u8 = 0x08;
pub(crate) const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_LONG_NAME: u8 = 0x0F;
const ATTR_LONG_MASK: u8 = 0x3F;
/// A long name has at most 255 characters: 20 entries of 13 units.
const MAX_SLOTS: usize = 20;

/// The fields of a short entry that locate and size its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short {
    pub attr: u8,
    pub cluster: u32,
    pub size: u32,
}

impl Short {
    /// Parse 32 bytes. The high cluster word is used on FAT32 only (FAT12/16 put an OS/2
    /// extended-attribute handle there).
    pub(crate) fn parse(e: &[u8], fat32: bool) -> Result<Short> {
        let attr = *e.get(11).ok_or_else(|| corrupt("short directory entry"))?;
        let lo = le::u16(e, 26).ok_or_else(|| corrupt("short directory entry"))?;
        let hi = if fat32 {
            le::u16(e, 20).ok_or_else(|| corrupt("short directory entry"))?
        } else {
            0
        };
        let size = le::u32(e, 28).ok_or_else(|| corrupt("short directory entry"))?;
        Ok(Short {
            attr,
            cluster: (u32::from(hi) << 16) | u32::from(lo),
            size,
        })
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }
}

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Long name (UTF-8) if there is a valid one, else the short name.
    pub name: Vec<u8>,
    pub short: Short,
    /// Volume offset of the short entry: the node id.
    pub offset: u64,
}

/// What a directory holds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// The volume-label entry's text (only meaningful for the root).
    pub label: Option<String>,
}

/// Checksum of an 11-byte short name (the rotate-right-and-add of the VFAT spec).
pub(crate) fn checksum(name: &[u8]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// The 8.3 name as shown: `BASE.EXT` without padding, lower-cased per the NT flags.
fn short_name(raw: &[u8], nt: u8) -> Vec<u8> {
    let mut n: Vec<u8> = raw.to_vec();
    if n.first() == Some(&0x05) {
        if let Some(b) = n.first_mut() {
            *b = 0xE5;
        }
    }
    let base_end = n
        .get(..8)
        .unwrap_or_default()
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(0, |p| p + 1);
    let ext_end = n
        .get(8..11)
        .unwrap_or_default()
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(0, |p| p + 1);
    let mut out: Vec<u8> = n.get(..base_end).unwrap_or_default().to_vec();
    if nt & 0x08 != 0 {
        out.make_ascii_lowercase();
    }
    if ext_end > 0 {
        out.push(b'.');
        let mut ext = n.get(8..8 + ext_end).unwrap_or_default().to_vec();
        if nt & 0x10 != 0 {
            ext.make_ascii_lowercase();
        }
        out.extend_from_slice(&ext);
    }
    out
}

fn label_text(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let s = raw.get(..end).unwrap_or_default();
    let trimmed_len = s.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
    String::from_utf8_lossy(s.get(..trimmed_len).unwrap_or_default()).into_owned()
}

/// Long-name assembly state.
struct Lfn {
    units: [u16; MAX_SLOTS * 13],
    slots: usize,
    /// Next sequence number expected (counting down to 0), with the sequence's checksum.
    expect: Option<(usize, u8)>,
}

impl Lfn {
    fn reset(&mut self) {
        self.expect = None;
    }

    fn add(&mut self, e: &[u8]) {
        let (Some(&id), Some(&sum)) = (e.first(), e.get(13)) else {
            self.reset();
            return;
        };
        let mut seq = usize::from(id & 0x3F);
        if id & 0x40 != 0 {
            if seq == 0 || seq > MAX_SLOTS {
                self.reset();
                return;
            }
            self.slots = seq;
            self.units = [0xFFFF; MAX_SLOTS * 13];
            self.expect = Some((seq, sum));
        }
        match self.expect {
            Some((want, s)) if want == seq && seq > 0 && s == sum => {
                seq -= 1;
                let base = seq * 13;
                let pos = (1..11)
                    .step_by(2)
                    .chain((14..26).step_by(2))
                    .chain((28..32).step_by(2));
                for (i, off) in pos.enumerate() {
                    if let (Some(u), Some(slot)) = (le::u16(e, off), self.units.get_mut(base + i)) {
                        *slot = u;
                    }
                }
                self.expect = Some((seq, sum));
            }
            _ => self.reset(),
        }
    }

    /// The long name for a short entry with checksum `sums` (raw or 0x05-substituted).
    fn take(&mut self, sums: [u8; 2]) -> Option<Vec<u8>> {
        let ok = matches!(self.expect, Some((0, s)) if sums.contains(&s));
        self.reset();
        if !ok {
            return None;
        }
        let n = self.slots.saturating_mul(13).min(self.units.len());
        let units = self.units.get(..n)?;
        let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
        let s: String = char::decode_utf16(units.get(..end)?.iter().copied())
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        (!s.is_empty()).then(|| s.into_bytes())
    }
}

/// Parse a whole directory's bytes. `locate` maps a byte position in `buf` to its volume
/// offset. Parsing stops at the first entry whose first byte is 0 (end of directory).
pub(crate) fn parse(
    buf: &[u8],
    fat32: bool,
    locate: &dyn Fn(usize) -> Result<u64>,
) -> Result<Listing> {
    let mut out = Listing::default();
    let mut lfn = Lfn {
        units: [0xFFFF; MAX_SLOTS * 13],
        slots: 0,
        expect: None,
    };
    for (i, e) in buf.chunks_exact(ENTRY).enumerate() {
        let first = *e.first().ok_or_else(|| corrupt("directory entry"))?;
        if first == 0 {
            break;
        }
        let attr = *e.get(11).ok_or_else(|| corrupt("directory entry"))?;
        if first == 0xE5 {
            lfn.reset();
            continue;
        }
        if attr & ATTR_LONG_MASK == ATTR_LONG_NAME {
            lfn.add(e);
            continue;
        }
        if attr & !ATTR_LONG_MASK != 0 {
            lfn.reset();
            continue;
        }
        let raw = e.get(..11).ok_or_else(|| corrupt("directory entry"))?;
        if attr & ATTR_VOLUME_ID != 0 {
            lfn.reset();
            if out.label.is_none() && attr & !ATTR_ARCHIVE == ATTR_VOLUME_ID {
                out.label = Some(label_text(raw));
            }
            continue;
        }
        let mut alt = [0u8; 11];
        alt.copy_from_slice(raw);
        if alt[0] == 0x05 {
            alt[0] = 0xE5;
        }
        let long = lfn.take([checksum(raw), checksum(&alt)]);
        let nt = e.get(12).copied().unwrap_or(0);
        let short_nm = short_name(raw, nt);
        if short_nm == b"." || short_nm == b".." {
            continue;
        }
        let name = long.unwrap_or(short_nm);
        if name.is_empty() {
            continue;
        }
        let pos = i
            .checked_mul(ENTRY)
            .ok_or_else(|| corrupt("directory offset overflows"))?;
        out.entries.push(Entry {
            name,
            short: Short::parse(e, fat32)?,
            offset: locate(pos)?,
        });
    }
    Ok(out)
}

/// Case-insensitive name equality as FAT lookups need: simple Unicode lower-casing when both
/// names are UTF-8, ASCII case folding otherwise.
pub(crate) fn fold_eq(a: &[u8], b: &[u8]) -> bool {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(x), Ok(y)) => x
            .chars()
            .flat_map(char::to_lowercase)
            .eq(y.chars().flat_map(char::to_lowercase)),
        _ => a.eq_ignore_ascii_case(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn short(name: &[u8; 11], attr: u8, nt: u8, cluster: u16, size: u32) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[11] = attr;
        e[12] = nt;
        e[26..28].copy_from_slice(&cluster.to_le_bytes());
        e[28..32].copy_from_slice(&size.to_le_bytes());
        e
    }

    fn long(seq: u8, sum: u8, units: &[u16]) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[0] = seq;
        e[11] = ATTR_LONG_NAME;
        e[13] = sum;
        let offs: Vec<usize> = (1..11)
            .step_by(2)
            .chain((14..26).step_by(2))
            .chain((28..32).step_by(2))
            .collect();
        for (i, off) in offs.iter().enumerate() {
            let u = units
                .get(i)
                .copied()
                .unwrap_or(if i == units.len() { 0 } else { 0xFFFF });
            e[*off..*off + 2].copy_from_slice(&u.to_le_bytes());
        }
        e
    }

    fn names(buf: &[u8]) -> Vec<String> {
        parse(buf, false, &|p| Ok(p as u64))
            .unwrap()
            .entries
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect()
    }

    #[test]
    fn checksum_of_known_name() {
        // Computed by hand from the spec's algorithm for "README  TXT".
        let mut s = 0u8;
        for &b in b"README  TXT" {
            s = (if s & 1 == 1 { 0x80u8 } else { 0 })
                .wrapping_add(s >> 1)
                .wrapping_add(b);
        }
        assert_eq!(checksum(b"README  TXT"), s);
    }

    #[test]
    fn long_names_need_a_matching_checksum() {
        let sn = b"LONGFI~1TXT";
        let sum = checksum(sn);
        let text: Vec<u16> = "Long file name.txt".encode_utf16().collect();
        let mut buf = Vec::new();
        buf.extend_from_slice(&long(0x42, sum, &text[13..]));
        buf.extend_from_slice(&long(0x01, sum, &text[..13]));
        buf.extend_from_slice(&short(sn, 0x20, 0, 3, 10));
        assert_eq!(names(&buf), ["Long file name.txt"]);
        // Wrong checksum: the short name stands.
        let mut bad = buf.clone();
        bad[13] ^= 1;
        bad[32 + 13] ^= 1;
        assert_eq!(names(&bad), ["LONGFI~1.TXT"]);
        // Out of order: the short name stands.
        let mut swapped = Vec::new();
        swapped.extend_from_slice(&buf[32..64]);
        swapped.extend_from_slice(&buf[..32]);
        swapped.extend_from_slice(&buf[64..]);
        assert_eq!(names(&swapped), ["LONGFI~1.TXT"]);
    }

    #[test]
    fn nt_case_flags_dot_entries_label_and_end() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&short(b"MYLABEL    ", 0x08, 0, 0, 0));
        buf.extend_from_slice(&short(b".          ", 0x10, 0, 0, 0));
        buf.extend_from_slice(&short(b"..         ", 0x10, 0, 0, 0));
        buf.extend_from_slice(&short(b"GRUB    CFG", 0x20, 0x18, 5, 1));
        buf.extend_from_slice(&short(b"README     ", 0x20, 0, 6, 1));
        buf.extend_from_slice(&short(b"\xE5ELETED    ", 0x20, 0, 7, 1));
        buf.extend_from_slice(&short(b"\x05ABC    TXT", 0x20, 0, 7, 1));
        buf.extend_from_slice(&[0u8; 32]);
        buf.extend_from_slice(&short(b"AFTEREND   ", 0x20, 0, 8, 1));
        let l = parse(&buf, false, &|p| Ok(p as u64)).unwrap();
        assert_eq!(l.label.as_deref(), Some("MYLABEL"));
        let n: Vec<Vec<u8>> = l.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(
            n,
            vec![
                b"grub.cfg".to_vec(),
                b"README".to_vec(),
                b"\xE5ABC.TXT".to_vec()
            ]
        );
        assert_eq!(l.entries[0].offset, 96);
    }

    #[test]
    fn folding() {
        assert!(fold_eq(b"GRUB.CFG", b"grub.cfg"));
        assert!(fold_eq("ÜNÏCÖDÉ".as_bytes(), "ünïcödé".as_bytes()));
        assert!(fold_eq(b"A\xFF", b"a\xFF"));
        assert!(!fold_eq(b"grub.cfg", b"grub.cf"));
    }
}
