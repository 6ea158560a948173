//! BSD disklabels, as GRUB reads them.
//!
//! The label (magic `0x82564557`, little-endian) is in sector 1 of its container (also found
//! at byte 64 or 128 of sector 0, as on some ports). Its partition entries follow the
//! 148-byte header; `d_npartitions` is bounded to the entries that fit in the label sector
//! ([`MAX_PARTITIONS`]). GRUB's conventions decide where partitions are and what they are
//! called:
//!
//! * FreeBSD (MBR type 0xA5): offsets are relative to the label's own base, which is the
//!   offset of the raw partition `c` (index 2: the slice itself, absolute on old labels, 0 on
//!   new ones) — so `start = slice + p_offset - c.p_offset`. Named `msdosN,bsdM`.
//! * NetBSD (0xA9) and OpenBSD (0xA6): the label describes the whole disk; offsets are
//!   absolute. Named `netbsdM` / `openbsdM` (top level, not nested under `msdosN`); only the
//!   first such MBR partition's label is read, as GRUB does.
//! * No partition table (a "dangerously dedicated" disk): a label at sector 1 of the disk,
//!   offsets absolute, named `bsdM`.
//!
//! In all cases `M` is the entry index + 1 (`a` = 1), entry 2 (`c`, the raw partition) and
//! empty entries are skipped.
use crate::{window, DynReader, Scheme, Volume};
use rsgrub_io::{le, ReadAt};

/// `d_magic` and `d_magic2`.
pub const MAGIC: u32 = 0x8256_4557;
/// Size of the label header before the partition entries.
pub const HEADER: usize = 148;
/// Bytes per partition entry.
pub const ENTRY: usize = 16;
/// Entries that fit in a 512-byte label sector.
pub const MAX_PARTITIONS: usize = (512 - HEADER) / ENTRY;
/// The raw partition (`c`), skipped.
pub const RAW_PARTITION: usize = 2;
/// Where a label may be: byte offsets in its container, tried in order.
pub const LABEL_OFFSETS: [u64; 3] = [512, 64, 128];

const SECTOR: u64 = 512;

/// MBR types that hold a BSD label: FreeBSD 0xA5, OpenBSD 0xA6, NetBSD 0xA9.
pub fn is_bsd_type(kind: u8) -> bool {
    matches!(kind, 0xA5 | 0xA6 | 0xA9)
}

/// Partition letter of entry `i` (`0` → `a`); `?` past `z`.
pub fn letter(i: u32) -> char {
    u8::try_from(i)
        .ok()
        .filter(|i| *i < 26)
        .map(|i| char::from(b'a' + i))
        .unwrap_or('?')
}

/// One used partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Index (0 = `a`).
    pub index: u32,
    /// Size in sectors.
    pub size: u32,
    /// Offset in sectors (absolute or relative, see the module docs).
    pub offset: u32,
    /// `p_fstype` (7 = 4.2BSD FFS, 1 = swap).
    pub fstype: u8,
}

/// A parsed label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Byte offset of the label in its container.
    pub at: u64,
    /// `d_npartitions` as stored.
    pub npartitions: u16,
    /// `d_secsize`.
    pub secsize: u32,
    /// All entries read (at most [`MAX_PARTITIONS`]), including empty ones.
    pub entries: Vec<Entry>,
    /// Problems that do not stop us (bad checksum, too many partitions).
    pub warnings: Vec<String>,
}

/// Parse a label from the 512 bytes at its position (`at` is only recorded).
pub fn parse(b: &[u8; 512], at: u64) -> Option<Label> {
    if le::u32(b, 0)? != MAGIC {
        return None;
    }
    let mut warnings = Vec::new();
    if le::u32(b, 132) != Some(MAGIC) {
        warnings.push("d_magic2 is wrong".to_string());
    }
    let npartitions = le::u16(b, 138)?;
    let secsize = le::u32(b, 40)?;
    let n = usize::from(npartitions);
    if n > MAX_PARTITIONS {
        warnings.push(format!(
            "label claims {n} partitions; only the {MAX_PARTITIONS} that fit in the label \
             sector are read"
        ));
    }
    let n = n.min(MAX_PARTITIONS);
    // XOR of the label's 16-bit words is 0 when d_checksum is right.
    let words = (HEADER + n * ENTRY) / 2;
    let sum = (0..words).fold(0u16, |acc, i| acc ^ le::u16(b, 2 * i).unwrap_or(0));
    if sum != 0 {
        warnings.push("label checksum is wrong".to_string());
    }
    if secsize != 512 && secsize != 0 {
        warnings.push(format!(
            "d_secsize is {secsize}; offsets are read in 512-byte sectors, as GRUB does"
        ));
    }
    let entries = (0..n)
        .filter_map(|i| {
            let o = HEADER + i * ENTRY;
            Some(Entry {
                index: u32::try_from(i).ok()?,
                size: le::u32(b, o)?,
                offset: le::u32(b, o + 4)?,
                fstype: *b.get(o + 12)?,
            })
        })
        .collect();
    Some(Label {
        at,
        npartitions,
        secsize,
        entries,
        warnings,
    })
}

/// Find a label in `container` at one of [`LABEL_OFFSETS`].
pub fn find(container: &DynReader) -> Option<Label> {
    for at in LABEL_OFFSETS {
        let mut b = [0u8; 512];
        if container.read_at(at, &mut b).is_err() {
            continue;
        }
        if let Some(l) = parse(&b, at) {
            return Some(l);
        }
    }
    None
}

/// How offsets in a label map to the image.
enum Base {
    /// FreeBSD in a slice: relative to the slice, minus `c`'s offset.
    Slice { delta: u64 },
    /// NetBSD/OpenBSD/dedicated: absolute on the disk.
    Disk,
}

fn volumes_of(
    image: &DynReader,
    label: &Label,
    base: Base,
    parent: Option<&Volume>,
    prefix: &str,
    ctx: &str,
    warnings: &mut Vec<String>,
) -> Vec<Volume> {
    for w in &label.warnings {
        warnings.push(format!("BSD label {ctx}: {w}"));
    }
    let mut out = Vec::new();
    for e in &label.entries {
        if e.index as usize == RAW_PARTITION || e.size == 0 {
            continue;
        }
        let number = e.index + 1;
        let name = format!("{prefix}{number}");
        let size = u64::from(e.size) * SECTOR;
        let (reader, start) = match (&base, parent) {
            (Base::Slice { delta }, Some(p)) => {
                let Some(rel) = u64::from(e.offset).checked_sub(*delta) else {
                    warnings.push(format!(
                        "BSD label {ctx}: partition {} ({name}) at sector {} is before the \
                         label's base {delta}; skipped",
                        letter(e.index),
                        e.offset
                    ));
                    continue;
                };
                let off = rel * SECTOR; // < 2^32 * 512: no overflow
                match window(&p.reader, off, size) {
                    Ok(r) => (r, p.start.saturating_add(off)),
                    Err(err) => {
                        warnings.push(format!(
                            "BSD label {ctx}: partition {} ({name}): {err}; skipped",
                            letter(e.index)
                        ));
                        continue;
                    }
                }
            }
            _ => {
                let off = u64::from(e.offset) * SECTOR;
                match window(image, off, size) {
                    Ok(r) => (r, off),
                    Err(err) => {
                        warnings.push(format!(
                            "BSD label {ctx}: partition {} ({name}): {err}; skipped",
                            letter(e.index)
                        ));
                        continue;
                    }
                }
            }
        };
        let mut v = Volume::partition(
            Scheme::Bsd,
            name,
            number,
            start,
            size,
            format!("0x{:02x}", e.fstype),
            parent.is_some_and(|p| p.active),
            reader,
        );
        if let Some(p) = parent {
            v.parents.push(p.name.clone());
        }
        out.push(v);
    }
    out
}

/// The partitions of the BSD label in MBR partition `parent` of type `kind` (0xA5, 0xA6,
/// 0xA9); `next_netbsd`/`next_openbsd` numbering is GRUB's (see the module docs).
pub fn scan_in_partition(
    image: &DynReader,
    parent: &Volume,
    kind: u8,
) -> (Vec<Volume>, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(label) = find(&parent.reader) else {
        return (Vec::new(), warnings);
    };
    let ctx = format!("in {}", parent.describe());
    let vols = match kind {
        0xA5 => {
            let delta = if usize::from(label.npartitions) > RAW_PARTITION {
                label
                    .entries
                    .get(RAW_PARTITION)
                    .map(|c| u64::from(c.offset))
                    .unwrap_or(0)
            } else {
                0
            };
            let prefix = format!("{},bsd", parent.name);
            volumes_of(
                image,
                &label,
                Base::Slice { delta },
                Some(parent),
                &prefix,
                &ctx,
                &mut warnings,
            )
        }
        _ => {
            let prefix = if kind == 0xA6 { "openbsd" } else { "netbsd" };
            volumes_of(
                image,
                &label,
                Base::Disk,
                Some(parent),
                prefix,
                &ctx,
                &mut warnings,
            )
        }
    };
    (vols, warnings)
}

/// A BSD label at sector 1 of a disk with no partition table (`bsdN`, absolute offsets).
pub fn scan_whole_disk(image: &DynReader) -> (Vec<Volume>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut b = [0u8; 512];
    if image.read_at(SECTOR, &mut b).is_err() {
        return (Vec::new(), warnings);
    }
    let Some(label) = parse(&b, SECTOR) else {
        return (Vec::new(), warnings);
    };
    let v = volumes_of(
        image,
        &label,
        Base::Disk,
        None,
        "bsd",
        "on the whole disk",
        &mut warnings,
    );
    (v, warnings)
}
