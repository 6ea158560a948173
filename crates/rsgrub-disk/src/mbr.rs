//! DOS/MBR partition table: primaries, the extended/logical (EBR) chain.
//!
//! Everything here comes from the guest. Sector 0 is only taken for a partition table when it
//! looks like one ([`classify`]); each partition is checked against the image size and against
//! the partitions already accepted; the EBR chain is bounded ([`MAX_EBRS`]) and loop-checked.
//! Problems with single partitions become [`Disk::warnings`]; the rest of the table still works.
//!
//! Sectors are 512 bytes (as in PyGrub and GRUB on an image file).
use crate::{window, Disk, DynReader, Result, Scheme, TableKind, Volume};
use rsgrub_io::le;

/// Bytes per MBR sector.
pub const SECTOR: u64 = 512;

/// Longest EBR chain followed (GRUB and Linux have no real limit; 128 logicals is plenty).
pub const MAX_EBRS: usize = 128;

/// One primary entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbrEntry {
    /// Boot flag byte.
    pub status: u8,
    /// Type byte.
    pub kind: u8,
    /// First LBA.
    pub lba: u32,
    /// Sector count.
    pub sectors: u32,
}

impl MbrEntry {
    const EMPTY: MbrEntry = MbrEntry {
        status: 0,
        kind: 0,
        lba: 0,
        sectors: 0,
    };

    /// An unused slot: type, start and size all zero (the boot flag and CHS bytes are
    /// ignored).
    pub fn is_unused(&self) -> bool {
        self.kind == 0 && self.lba == 0 && self.sectors == 0
    }

    /// An extended-partition container (`0x05`, `0x0F`, `0x85`).
    pub fn is_extended(&self) -> bool {
        is_extended(self.kind)
    }
}

/// An extended-partition type byte: `0x05` (CHS), `0x0F` (LBA), `0x85` (Linux).
pub fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

/// Byte offset of the 32-bit disk signature in sector 0.
pub const DISK_SIGNATURE: u64 = 440;

/// The four primaries of sector 0.
#[derive(Debug, Clone)]
pub struct MbrTable {
    /// Entries 1..4.
    pub entries: [MbrEntry; 4],
}

impl MbrTable {
    /// A GPT protective MBR (any entry of type 0xEE; a hybrid MBR counts too, as in GRUB).
    pub fn is_protective(&self) -> bool {
        self.entries.iter().any(|e| e.kind == 0xEE)
    }
}

/// What sector 0 holds.
#[derive(Debug, Clone)]
pub enum Sector0 {
    /// No `0x55AA` signature: no partition table.
    NoSignature,
    /// The boot sector of a filesystem that starts at offset 0 (`"FAT"`, `"NTFS"`, `"exFAT"`);
    /// such sectors carry `0x55AA` too.
    BootSector(&'static str),
    /// `0x55AA` is there but the entries are not a plausible table (why).
    NotATable(String),
    /// A partition table.
    Table(MbrTable),
}

/// The four 16-byte entries at 446 of an MBR or EBR sector (no checks).
pub fn entries(s: &[u8; 512]) -> [MbrEntry; 4] {
    let mut entries = [MbrEntry::EMPTY; 4];
    for (i, e) in entries.iter_mut().enumerate() {
        let o = 446 + 16 * i;
        *e = MbrEntry {
            status: s.get(o).copied().unwrap_or(0),
            kind: s.get(o + 4).copied().unwrap_or(0),
            lba: le::u32(s, o + 8).unwrap_or(0),
            sectors: le::u32(s, o + 12).unwrap_or(0),
        };
    }
    entries
}

/// Whether a sector ends in the `0x55AA` signature.
pub fn has_signature(s: &[u8; 512]) -> bool {
    s.get(510..512) == Some(&[0x55, 0xAA][..])
}

/// The filesystem whose boot sector this is, if it clearly is one.
///
/// FAT needs a jump instruction, a sane BIOS parameter block *and* a `FAT..` type string (at
/// 0x36 for FAT12/16, 0x52 for FAT32), so an MBR (even GRUB's, which starts with a jump) is not
/// mistaken for one. NTFS and exFAT are recognised by their OEM name.
pub fn filesystem_boot_sector(s: &[u8; 512]) -> Option<&'static str> {
    let oem = s.get(3..11)?;
    if oem == b"NTFS    " {
        return Some("NTFS");
    }
    if oem == b"EXFAT   " {
        return Some("exFAT");
    }
    let b0 = *s.first()?;
    let jump = (b0 == 0xEB && *s.get(2)? == 0x90) || b0 == 0xE9;
    let bytes_per_sector = le::u16(s, 11)?;
    let per_cluster = *s.get(13)?;
    let reserved = le::u16(s, 14)?;
    let fats = *s.get(16)?;
    let media = *s.get(21)?;
    let bpb = matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && per_cluster.is_power_of_two()
        && reserved >= 1
        && (1..=2).contains(&fats)
        && (media == 0xF0 || media >= 0xF8);
    let fat16 = s.get(0x36..0x39)? == b"FAT";
    let fat32 = s.get(0x52..0x5A)? == b"FAT32   ";
    (jump && bpb && (fat16 || fat32)).then_some("FAT")
}

/// Decide what sector 0 is.
///
/// A table needs `0x55AA`, must not be a filesystem boot sector, every boot flag must be
/// `0x00` or `0x80`, every slot in use must have a nonzero start and size, and at least one
/// slot must be in use. An entry that starts at sector 0 (an isohybrid image's "partition"
/// covering the whole disk) therefore means "no table": the filesystem starts at offset 0.
pub fn classify(s: &[u8; 512]) -> Sector0 {
    if !has_signature(s) {
        return Sector0::NoSignature;
    }
    if let Some(fs) = filesystem_boot_sector(s) {
        return Sector0::BootSector(fs);
    }
    let entries = entries(s);
    for (i, e) in entries.iter().enumerate() {
        let n = i + 1;
        if e.status != 0x00 && e.status != 0x80 {
            return Sector0::NotATable(format!("entry {n} has boot flag 0x{:02x}", e.status));
        }
        if e.is_unused() {
            continue;
        }
        if e.lba == 0 {
            return Sector0::NotATable(format!(
                "entry {n} (type 0x{:02x}) starts at sector 0",
                e.kind
            ));
        }
        if e.sectors == 0 {
            return Sector0::NotATable(format!("entry {n} (type 0x{:02x}) has no sectors", e.kind));
        }
    }
    if entries.iter().all(MbrEntry::is_unused) {
        return Sector0::NotATable("all four entries are unused".into());
    }
    Sector0::Table(MbrTable { entries })
}

/// Parse sector 0 as an MBR; `None` if it is not one (see [`classify`]).
pub fn parse_sector(s: &[u8; 512]) -> Option<MbrTable> {
    match classify(s) {
        Sector0::Table(t) => Some(t),
        _ => None,
    }
}

/// A sector range `[start, end)` claimed by a partition.
struct Claim {
    start: u64,
    end: u64,
    name: String,
}

fn overlap(claims: &[Claim], start: u64, end: u64) -> Option<&Claim> {
    claims.iter().find(|c| start < c.end && c.start < end)
}

struct Builder<'a> {
    image: &'a DynReader,
    /// Whole sectors in the image.
    total: u64,
    volumes: Vec<Volume>,
    warnings: Vec<String>,
}

impl Builder<'_> {
    fn warn(&mut self, w: String) {
        self.warnings.push(format!("MBR: {w}"));
    }

    /// Check a data partition `[start, start + sectors)` against the image and `claims`;
    /// push it (and claim it) if good, else warn.
    fn add(
        &mut self,
        number: u32,
        e: &MbrEntry,
        start: u64,
        claims: &mut Vec<Claim>,
        active: bool,
    ) -> bool {
        let name = format!("msdos{number}");
        let sectors = u64::from(e.sectors);
        let Some(end) = start.checked_add(sectors) else {
            self.warn(format!(
                "partition {number} ({name}): range overflows; skipped"
            ));
            return false;
        };
        if end > self.total {
            self.warn(format!(
                "partition {number} ({name}) at sector {start}, {sectors} sectors, ends past \
                 the end of the image ({} sectors); skipped",
                self.total
            ));
            return false;
        }
        if let Some(c) = overlap(claims, start, end) {
            self.warn(format!(
                "partition {number} ({name}) at sectors {start}..{end} overlaps {} \
                 ({}..{}); skipped",
                c.name, c.start, c.end
            ));
            return false;
        }
        let (Some(bstart), Some(bsize)) = (start.checked_mul(SECTOR), sectors.checked_mul(SECTOR))
        else {
            self.warn(format!(
                "partition {number} ({name}): byte range overflows; skipped"
            ));
            return false;
        };
        let reader = match window(self.image, bstart, bsize) {
            Ok(r) => r,
            Err(err) => {
                self.warn(format!("partition {number} ({name}): {err}; skipped"));
                return false;
            }
        };
        claims.push(Claim {
            start,
            end,
            name: name.clone(),
        });
        self.volumes.push(Volume::partition(
            Scheme::Msdos,
            name,
            number,
            bstart,
            bsize,
            format!("0x{:02x}", e.kind),
            active,
            reader,
        ));
        true
    }

    /// Follow the EBR chain of the extended partition `[ext_start, ext_end)`.
    ///
    /// As in GRUB: in each EBR every used, non-extended entry is a logical partition whose
    /// start is relative to that EBR (numbered from 5 on, in order, whether or not it is
    /// usable, so the names match GRUB's); the first extended entry links to the next EBR,
    /// relative to the start of the extended partition.
    fn logicals(&mut self, ext_name: &str, ext_start: u64, ext_end: u64, data: &mut Vec<Claim>) {
        let mut number: u32 = 5;
        let mut ebr = ext_start;
        let mut visited: Vec<u64> = Vec::new();
        loop {
            if visited.contains(&ebr) {
                self.warn(format!(
                    "EBR chain of {ext_name} loops back to the EBR at sector {ebr}; stopped"
                ));
                return;
            }
            if visited.len() >= MAX_EBRS {
                self.warn(format!(
                    "EBR chain of {ext_name} is longer than {MAX_EBRS} EBRs; stopped"
                ));
                return;
            }
            visited.push(ebr);
            if ebr >= self.total {
                self.warn(format!(
                    "EBR at sector {ebr} in {ext_name} is past the end of the image; chain stopped"
                ));
                return;
            }
            let mut buf = [0u8; 512];
            let read = ebr
                .checked_mul(SECTOR)
                .ok_or_else(|| std::io::Error::other("offset overflows"))
                .and_then(|off| self.image.read_at(off, &mut buf));
            if let Err(err) = read {
                self.warn(format!(
                    "EBR at sector {ebr} in {ext_name}: {err}; chain stopped"
                ));
                return;
            }
            if !has_signature(&buf) {
                self.warn(format!(
                    "EBR at sector {ebr} in {ext_name} has no 0x55AA signature; chain stopped"
                ));
                return;
            }
            let mut next = None;
            for e in entries(&buf) {
                if e.kind == 0 {
                    continue;
                }
                if e.is_extended() {
                    if next.is_none() {
                        next = Some(e);
                    }
                    continue;
                }
                let n = number;
                number = number.saturating_add(1);
                let name = format!("msdos{n}");
                if e.lba == 0 || e.sectors == 0 {
                    self.warn(format!(
                        "partition {n} ({name}) in the EBR at sector {ebr} has start {} and \
                         {} sectors; skipped",
                        e.lba, e.sectors
                    ));
                    continue;
                }
                // u64 + u32: cannot overflow (ebr < total ≤ 2^55).
                let start = ebr.saturating_add(u64::from(e.lba));
                let end = start.saturating_add(u64::from(e.sectors));
                if start < ext_start || end > ext_end {
                    self.warn(format!(
                        "partition {n} ({name}) at sectors {start}..{end} lies outside the \
                         extended partition {ext_name} ({ext_start}..{ext_end}); skipped"
                    ));
                    continue;
                }
                self.add(n, &e, start, data, false);
            }
            let Some(link) = next else {
                return;
            };
            let next_ebr = ext_start.saturating_add(u64::from(link.lba));
            if next_ebr >= ext_end || next_ebr >= self.total {
                self.warn(format!(
                    "EBR at sector {ebr} links to sector {next_ebr}, outside the extended \
                     partition {ext_name} ({ext_start}..{ext_end}) or the image; chain stopped"
                ));
                return;
            }
            ebr = next_ebr;
        }
    }
}

/// Volumes of an MBR disk. Falls back to the whole disk (with a warning) when no partition is
/// usable, as PyGrub does.
pub fn scan(image: &DynReader, table: &MbrTable) -> Result<Disk> {
    let mut b = Builder {
        image,
        total: image.size() / SECTOR,
        volumes: Vec::new(),
        warnings: Vec::new(),
    };
    // Primaries and the extended container may not overlap each other; logicals may not
    // overlap primaries or each other.
    let mut primaries: Vec<Claim> = Vec::new();
    let mut extended: Option<(String, u64, u64)> = None;
    for (number, e) in (1u32..).zip(table.entries.iter()) {
        if e.kind == 0 || e.lba == 0 {
            continue;
        }
        let name = format!("msdos{number}");
        if e.sectors == 0 {
            b.warn(format!(
                "partition {number} ({name}) has no sectors; skipped"
            ));
            continue;
        }
        let start = u64::from(e.lba);
        let end = start.saturating_add(u64::from(e.sectors));
        if e.is_extended() {
            if let Some((first, _, _)) = &extended {
                b.warn(format!(
                    "extended partition {number} ({name}) ignored: {first} is already the \
                     extended partition"
                ));
                continue;
            }
            if start >= b.total {
                b.warn(format!(
                    "extended partition {number} ({name}) starts at sector {start}, past the \
                     end of the image ({} sectors); skipped",
                    b.total
                ));
                continue;
            }
            if let Some(c) = overlap(&primaries, start, end) {
                b.warn(format!(
                    "extended partition {number} ({name}) at sectors {start}..{end} overlaps {} \
                     ({}..{}); skipped",
                    c.name, c.start, c.end
                ));
                continue;
            }
            primaries.push(Claim {
                start,
                end,
                name: name.clone(),
            });
            extended = Some((name, start, end));
            continue;
        }
        b.add(number, e, start, &mut primaries, e.status == 0x80);
    }
    if let Some((name, start, end)) = extended {
        let mut data: Vec<Claim> = primaries.into_iter().filter(|c| c.name != name).collect();
        b.logicals(&name, start, end, &mut data);
    }
    // The PARTUUID of an MBR partition, as blkid and GRUB's `search --part-uuid` spell it:
    // the disk signature (sector 0, byte 440) and the partition number, in hex.
    let mut sig = [0u8; 4];
    if image.read_at(DISK_SIGNATURE, &mut sig).is_ok() {
        let sig = u32::from_le_bytes(sig);
        if sig != 0 {
            for v in &mut b.volumes {
                v.part_uuid = Some(format!("{sig:08x}-{:02x}", v.number));
            }
        }
    }
    if b.volumes.is_empty() {
        let mut disk = crate::whole_disk(image.clone());
        disk.warnings = b.warnings;
        disk.warnings
            .push("MBR: no usable partitions; using the whole disk".into());
        return Ok(disk);
    }
    Ok(Disk {
        table: TableKind::Mbr,
        volumes: b.volumes,
        warnings: b.warnings,
        hybrid_iso: false,
    })
}
