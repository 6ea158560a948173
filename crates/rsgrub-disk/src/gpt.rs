//! GUID partition table.
//!
//! The header is checked in full (signature, revision, size, CRC32, its own LBA, entry size and
//! count, entry array location and CRC32) before any entry is believed. The entry array is
//! bounded to [`MAX_ENTRY_ARRAY`] bytes *before* it is allocated, so a header claiming
//! 2^32-1 entries (with a valid CRC) is simply a bad header. A bad primary falls back to the
//! backup (with a warning); both bad is [`DiskError::BadTable`].
//!
//! Logical sector size 512 or 4096 is detected by looking for `"EFI PART"` at LBA 1 for both.
use crate::{mbr::MbrTable, window, Disk, DiskError, DynReader, Result, Scheme, TableKind, Volume};
use rsgrub_io::le;

/// Header signature.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The only revision there is (1.0).
pub const REVISION: u32 = 0x0001_0000;
/// Largest entry array (count × size) accepted: 8192 entries of 128 bytes.
pub const MAX_ENTRY_ARRAY: u64 = 1 << 20;
/// Logical sector sizes probed, in order.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];
/// Smallest header.
pub const MIN_HEADER: u32 = 92;

/// A checked GPT header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Logical sector size it was read with.
    pub sector_size: u64,
    /// LBA of this header.
    pub my_lba: u64,
    /// LBA of the other header.
    pub alternate_lba: u64,
    /// First usable LBA.
    pub first_usable: u64,
    /// Last usable LBA (inclusive).
    pub last_usable: u64,
    /// Disk GUID (on-disk byte order).
    pub disk_guid: [u8; 16],
    /// LBA of the entry array.
    pub entries_lba: u64,
    /// Number of entries.
    pub entry_count: u32,
    /// Bytes per entry (multiple of 8, 128..=4096).
    pub entry_size: u32,
    /// CRC32 of the entry array.
    pub entries_crc: u32,
}

impl Header {
    /// Bytes of the entry array (≤ [`MAX_ENTRY_ARRAY`] once checked).
    pub fn entry_array_bytes(&self) -> u64 {
        u64::from(self.entry_count).saturating_mul(u64::from(self.entry_size))
    }
}

/// One used GPT entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based index in the entry array (GRUB's `gptN`).
    pub index: u32,
    /// Partition type GUID (on-disk byte order).
    pub type_guid: [u8; 16],
    /// Unique partition GUID (on-disk byte order).
    pub unique_guid: [u8; 16],
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Attribute bits.
    pub attributes: u64,
    /// Partition name (UTF-16LE up to the first NUL; unpaired surrogates become U+FFFD).
    pub name: String,
}

/// A GUID in the standard text form (`0fc63daf-8483-4772-8e79-3d69d8477de4`): the first three
/// fields are little-endian on disk, the last two big-endian.
pub fn guid_to_string(g: &[u8; 16]) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = *g;
    let mut s = format!(
        "{:08x}-{:04x}-{:04x}-",
        u32::from_le_bytes([a0, a1, a2, a3]),
        u16::from_le_bytes([b0, b1]),
        u16::from_le_bytes([c0, c1])
    );
    for (i, byte) in d.iter().enumerate() {
        if i == 2 {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

fn guid_at(b: &[u8], off: usize) -> Option<[u8; 16]> {
    b.get(off..off.checked_add(16)?)?.try_into().ok()
}

/// Check a header sector read at `lba` with `sector_size`-byte sectors on a disk of
/// `disk_sectors` sectors. Does not check the entry array CRC (see [`load`]).
pub fn parse_header(
    sector: &[u8],
    lba: u64,
    sector_size: u64,
    disk_sectors: u64,
) -> std::result::Result<Header, String> {
    let short = || "header sector is short".to_string();
    if sector.get(0..8) != Some(&SIGNATURE[..]) {
        return Err("no \"EFI PART\" signature".into());
    }
    let revision = le::u32(sector, 8).ok_or_else(short)?;
    if revision != REVISION {
        return Err(format!("unknown revision 0x{revision:08x}"));
    }
    let header_size = le::u32(sector, 12).ok_or_else(short)?;
    if header_size < MIN_HEADER || u64::from(header_size) > sector_size {
        return Err(format!(
            "header size {header_size} is not within {MIN_HEADER}..={sector_size}"
        ));
    }
    let hs = usize::try_from(header_size).map_err(|_| short())?;
    let stored_crc = le::u32(sector, 16).ok_or_else(short)?;
    let mut h = crc32fast::Hasher::new();
    h.update(sector.get(0..16).ok_or_else(short)?);
    h.update(&[0u8; 4]);
    h.update(sector.get(20..hs).ok_or_else(short)?);
    let crc = h.finalize();
    if crc != stored_crc {
        return Err(format!(
            "header CRC32 mismatch (stored 0x{stored_crc:08x}, computed 0x{crc:08x})"
        ));
    }
    let field = |off| le::u64(sector, off).ok_or_else(short);
    let my_lba = field(24)?;
    let alternate_lba = field(32)?;
    let first_usable = field(40)?;
    let last_usable = field(48)?;
    let disk_guid = guid_at(sector, 56).ok_or_else(short)?;
    let entries_lba = field(72)?;
    let entry_count = le::u32(sector, 80).ok_or_else(short)?;
    let entry_size = le::u32(sector, 84).ok_or_else(short)?;
    let entries_crc = le::u32(sector, 88).ok_or_else(short)?;
    if my_lba != lba {
        return Err(format!("header at LBA {lba} says it is at LBA {my_lba}"));
    }
    if first_usable > last_usable {
        return Err(format!(
            "first usable LBA {first_usable} is after last usable LBA {last_usable}"
        ));
    }
    if entry_size % 8 != 0 || !(128..=4096).contains(&entry_size) {
        return Err(format!(
            "entry size {entry_size} is not a multiple of 8 within 128..=4096"
        ));
    }
    let bytes = u64::from(entry_count)
        .checked_mul(u64::from(entry_size))
        .filter(|b| *b <= MAX_ENTRY_ARRAY)
        .ok_or_else(|| {
            format!(
                "entry array of {entry_count} entries of {entry_size} bytes is larger than \
                 {MAX_ENTRY_ARRAY} bytes"
            )
        })?;
    let array_sectors = bytes.div_ceil(sector_size);
    let array_end = entries_lba
        .checked_add(array_sectors)
        .ok_or_else(|| format!("entry array LBA {entries_lba} overflows"))?;
    if entries_lba < 2 || (entries_lba <= my_lba && my_lba < array_end) {
        return Err(format!(
            "entry array at LBA {entries_lba}..{array_end} overlaps the protective MBR or the \
             header"
        ));
    }
    if array_end > disk_sectors {
        return Err(format!(
            "entry array at LBA {entries_lba}..{array_end} is past the end of the disk \
             ({disk_sectors} sectors)"
        ));
    }
    Ok(Header {
        sector_size,
        my_lba,
        alternate_lba,
        first_usable,
        last_usable,
        disk_guid,
        entries_lba,
        entry_count,
        entry_size,
        entries_crc,
    })
}

/// Read sector `lba` (`sector_size` bytes, at most 4096), or say why not.
fn read_sector(
    image: &DynReader,
    sector_size: u64,
    lba: u64,
) -> std::result::Result<Vec<u8>, String> {
    let len = usize::try_from(sector_size).map_err(|_| "bad sector size".to_string())?;
    let off = lba
        .checked_mul(sector_size)
        .ok_or_else(|| format!("LBA {lba} overflows"))?;
    let mut buf = vec![0u8; len];
    image
        .read_at(off, &mut buf)
        .map_err(|e| format!("cannot read LBA {lba}: {e}"))?;
    Ok(buf)
}

/// Read and check the header at `lba` and its entry array (CRC included).
pub fn load(
    image: &DynReader,
    sector_size: u64,
    lba: u64,
) -> std::result::Result<(Header, Vec<u8>), String> {
    let disk_sectors = image.size() / sector_size.max(1);
    if lba >= disk_sectors {
        return Err(format!(
            "LBA {lba} is past the end of the disk ({disk_sectors} sectors)"
        ));
    }
    let sector = read_sector(image, sector_size, lba)?;
    let header = parse_header(&sector, lba, sector_size, disk_sectors)?;
    // Bounded by MAX_ENTRY_ARRAY in parse_header.
    let len = usize::try_from(header.entry_array_bytes())
        .map_err(|_| "entry array too large".to_string())?;
    let off = header
        .entries_lba
        .checked_mul(sector_size)
        .ok_or_else(|| "entry array offset overflows".to_string())?;
    let mut array = vec![0u8; len];
    image
        .read_at(off, &mut array)
        .map_err(|e| format!("cannot read the entry array: {e}"))?;
    let crc = crc32fast::hash(&array);
    if crc != header.entries_crc {
        return Err(format!(
            "entry array CRC32 mismatch (stored 0x{:08x}, computed 0x{crc:08x})",
            header.entries_crc
        ));
    }
    Ok((header, array))
}

/// The used entries (type GUID not all zero) of a checked entry array.
pub fn entries(header: &Header, array: &[u8]) -> Vec<Entry> {
    let size = usize::try_from(header.entry_size).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (index, raw) in (1u32..).zip(array.chunks_exact(size.max(128))) {
        if index > header.entry_count {
            break;
        }
        let Some(type_guid) = guid_at(raw, 0) else {
            continue;
        };
        if type_guid == [0u8; 16] {
            continue;
        }
        let name_units: Vec<u16> = raw
            .get(56..128)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .take_while(|u| *u != 0)
            .collect();
        out.push(Entry {
            index,
            type_guid,
            unique_guid: guid_at(raw, 16).unwrap_or([0; 16]),
            first_lba: le::u64(raw, 32).unwrap_or(0),
            last_lba: le::u64(raw, 40).unwrap_or(0),
            attributes: le::u64(raw, 48).unwrap_or(0),
            name: String::from_utf16_lossy(&name_units),
        });
    }
    out
}

fn has_signature(image: &DynReader, sector_size: u64, lba: u64) -> bool {
    let mut sig = [0u8; 8];
    lba.checked_mul(sector_size)
        .is_some_and(|off| image.read_at(off, &mut sig).is_ok() && &sig == SIGNATURE)
}

/// A usable header and its entry array, and how we got there.
struct Found {
    header: Header,
    array: Vec<u8>,
    warnings: Vec<String>,
}

/// Try the primary then the backups for one sector size. `Err` lists what is wrong, and
/// whether any GPT signature was seen at all.
fn find(image: &DynReader, ss: u64) -> std::result::Result<Found, (bool, Vec<String>)> {
    let disk_sectors = image.size() / ss;
    let mut warnings = Vec::new();
    let mut seen = has_signature(image, ss, 1);
    let primary_err = match load(image, ss, 1) {
        Ok((header, array)) => {
            check_backup(image, &header, &mut warnings);
            return Ok(Found {
                header,
                array,
                warnings,
            });
        }
        Err(e) => e,
    };
    // Backup: at the last LBA, or wherever the (possibly damaged) primary says.
    let mut candidates = vec![disk_sectors.saturating_sub(1)];
    if seen {
        if let Ok(sector) = read_sector(image, ss, 1) {
            if let Some(alt) = le::u64(&sector, 32) {
                if !candidates.contains(&alt) {
                    candidates.push(alt);
                }
            }
        }
    }
    let mut problems = vec![format!("primary header at LBA 1: {primary_err}")];
    for lba in candidates {
        if lba < 2 || lba >= disk_sectors {
            continue;
        }
        seen |= has_signature(image, ss, lba);
        match load(image, ss, lba) {
            Ok((header, array)) => {
                warnings.push(format!(
                    "GPT: primary header is bad ({primary_err}); using the backup header at \
                     LBA {lba}"
                ));
                return Ok(Found {
                    header,
                    array,
                    warnings,
                });
            }
            Err(e) => problems.push(format!("backup header at LBA {lba}: {e}")),
        }
    }
    Err((seen, problems))
}

/// Warn if the primary's backup header is missing or bad.
fn check_backup(image: &DynReader, primary: &Header, warnings: &mut Vec<String>) {
    let alt = primary.alternate_lba;
    if alt <= 1 {
        warnings.push(format!("GPT: backup header LBA {alt} is not valid"));
        return;
    }
    if let Err(e) = load(image, primary.sector_size, alt) {
        warnings.push(format!("GPT: backup header at LBA {alt} is bad: {e}"));
    }
}

/// Volumes of a GPT disk (`pmbr` is the protective MBR that sent us here).
pub fn scan(image: &DynReader, _pmbr: &MbrTable) -> Result<Disk> {
    let mut order: Vec<u64> = SECTOR_SIZES
        .iter()
        .copied()
        .filter(|ss| has_signature(image, *ss, 1))
        .collect();
    for ss in SECTOR_SIZES {
        if !order.contains(&ss) {
            order.push(ss);
        }
    }
    let mut problems = Vec::new();
    for ss in order {
        match find(image, ss) {
            Ok(found) => return Ok(build(image, found)),
            Err((true, p)) => {
                problems.push(format!("{ss}-byte sectors: {}", p.join("; ")));
            }
            Err((false, _)) => {}
        }
    }
    let what = if problems.is_empty() {
        "protective MBR but no GPT header at LBA 1 or at the end of the disk (512- or \
         4096-byte sectors)"
            .to_string()
    } else {
        problems.join(" | ")
    };
    Err(DiskError::BadTable { table: "GPT", what })
}

fn build(image: &DynReader, found: Found) -> Disk {
    let Found {
        header,
        array,
        mut warnings,
    } = found;
    let ss = header.sector_size;
    let disk_sectors = image.size() / ss;
    let mut volumes: Vec<Volume> = Vec::new();
    for e in entries(&header, &array) {
        let n = e.index;
        let name = format!("gpt{n}");
        let (first, last) = (e.first_lba, e.last_lba);
        if first > last {
            warnings.push(format!(
                "GPT: partition {n} ({name}) has first LBA {first} after last LBA {last}; skipped"
            ));
            continue;
        }
        if last >= disk_sectors {
            warnings.push(format!(
                "GPT: partition {n} ({name}) at LBA {first}..={last} ends past the end of the \
                 image ({disk_sectors} sectors); skipped"
            ));
            continue;
        }
        // last < disk_sectors = size / ss, so none of these overflow; checked anyway.
        let range = last
            .checked_sub(first)
            .and_then(|d| d.checked_add(1))
            .and_then(|count| Some((first.checked_mul(ss)?, count.checked_mul(ss)?)));
        let Some((start, size)) = range else {
            warnings.push(format!(
                "GPT: partition {n} ({name}): range overflows; skipped"
            ));
            continue;
        };
        let reader = match window(image, start, size) {
            Ok(r) => r,
            Err(err) => {
                warnings.push(format!("GPT: partition {n} ({name}): {err}; skipped"));
                continue;
            }
        };
        if let Some(o) = volumes.iter().find(|v| {
            start < v.start.saturating_add(v.size) && v.start < start.saturating_add(size)
        }) {
            // Harmless to read (each volume is its own bounded window) and hybrid ISOs do it.
            warnings.push(format!(
                "GPT: partition {n} ({name}) overlaps partition {} ({})",
                o.number, o.name
            ));
        }
        let mut v = Volume::partition(
            Scheme::Gpt,
            name,
            n,
            start,
            size,
            guid_to_string(&e.type_guid),
            false,
            reader,
        );
        v.part_uuid = Some(guid_to_string(&e.unique_guid));
        v.part_label = (!e.name.is_empty()).then_some(e.name);
        volumes.push(v);
    }
    if volumes.is_empty() {
        let mut disk = crate::whole_disk(image.clone());
        warnings.push("GPT: no usable partitions; using the whole disk".into());
        disk.warnings = warnings;
        return disk;
    }
    Disk {
        table: TableKind::Gpt,
        volumes,
        warnings,
        hybrid_iso: false,
    }
}
