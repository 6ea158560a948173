//! DOS/MBR partition table (placeholder: primaries only, to be completed).
use crate::{window, Disk, DynReader, Result, TableKind, Volume};
use rsgrub_io::le;

/// One primary entry.
#[derive(Debug, Clone, Copy)]
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

/// The four primaries of sector 0.
#[derive(Debug, Clone)]
pub struct MbrTable {
    /// Entries 1..4.
    pub entries: [MbrEntry; 4],
}

impl MbrTable {
    /// A GPT protective MBR (any entry of type 0xEE).
    pub fn is_protective(&self) -> bool {
        self.entries.iter().any(|e| e.kind == 0xEE)
    }
}

/// Parse sector 0 as an MBR; `None` if there is no 0x55AA signature.
pub fn parse_sector(s: &[u8; 512]) -> Option<MbrTable> {
    if s.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    let mut entries = [MbrEntry {
        status: 0,
        kind: 0,
        lba: 0,
        sectors: 0,
    }; 4];
    for (i, e) in entries.iter_mut().enumerate() {
        let o = 446 + 16 * i;
        *e = MbrEntry {
            status: *s.get(o)?,
            kind: *s.get(o + 4)?,
            lba: le::u32(s, o + 8)?,
            sectors: le::u32(s, o + 12)?,
        };
    }
    Some(MbrTable { entries })
}

/// Volumes of an MBR disk.
pub fn scan(image: &DynReader, table: &MbrTable) -> Result<Disk> {
    let mut volumes = Vec::new();
    for (i, e) in table.entries.iter().enumerate() {
        if e.kind == 0 || e.lba == 0 || e.sectors == 0 {
            continue;
        }
        let start = u64::from(e.lba) * 512;
        let size = u64::from(e.sectors) * 512;
        let Ok(reader) = window(image, start, size) else {
            continue;
        };
        volumes.push(Volume {
            name: format!("msdos{}", i + 1),
            number: (i + 1) as u32,
            start,
            size,
            part_type: format!("0x{:02x}", e.kind),
            part_uuid: None,
            part_label: None,
            active: e.status == 0x80,
            reader,
        });
    }
    Ok(Disk {
        table: TableKind::Mbr,
        volumes,
        warnings: Vec::new(),
    })
}
