//! The boot sector's BIOS Parameter Block, and the volume geometry derived from it.
//!
//! Layout (Microsoft's FAT specification, "fatgen103"): the common BPB at bytes 11..36, then
//! either the FAT12/16 extension (drive number, `0x29` signature, serial at 39, label at 43) or
//! the FAT32 one (FAT size at 36, flags at 40, version at 42, root cluster at 44, serial at
//! 67, label at 71). FAT32 is chosen, as GRUB and Linux do, by a 16-bit FAT size of zero; the
//! FAT12/FAT16 split is by cluster count (fewer than 4085 clusters is FAT12).
//!
//! Every field is checked before use and the derived offsets are computed with checked
//! arithmetic, so any 512 bytes either give a consistent geometry or an error.
use super::corrupt;
use crate::Result;
use rsgrub_io::le;

/// Which FAT entry width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fat12,
    Fat16,
    Fat32,
}

impl Kind {
    /// Bits per FAT entry.
    pub(crate) fn bits(self) -> u64 {
        match self {
            Kind::Fat12 => 12,
            Kind::Fat16 => 16,
            Kind::Fat32 => 32,
        }
    }
}

/// Largest data-cluster count each FAT width can address (cluster numbers 2..=max+1 must stay
/// below the reserved/bad/end-of-chain values).
const MAX_CLUSTERS_12: u64 = 4084;
const MAX_CLUSTERS_16: u64 = 65524;
const MAX_CLUSTERS_32: u64 = 0x0FFF_FFF5;

/// Geometry of a FAT volume, all in bytes unless named otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Bpb {
    pub kind: Kind,
    /// Bytes per cluster.
    pub cluster: u64,
    /// Offset of the FAT this driver reads (the active one on FAT32 with mirroring off).
    pub fat_offset: u64,
    /// Bytes in one FAT.
    pub fat_bytes: u64,
    /// FAT12/16: offset and size of the fixed root directory region.
    pub root_offset: u64,
    pub root_bytes: u64,
    /// FAT32: first cluster of the root directory.
    pub root_cluster: u32,
    /// Offset of cluster 2.
    pub data_offset: u64,
    /// Data clusters; valid cluster numbers are `2..cluster_count + 2`.
    pub cluster_count: u64,
    /// Bytes the BPB says the volume has.
    pub volume_bytes: u64,
    /// Volume serial number (GRUB's UUID source).
    pub serial: u32,
}

fn power_of_two_in(v: u64, lo: u64, hi: u64) -> bool {
    v.is_power_of_two() && (lo..=hi).contains(&v)
}

/// The cheap signature test `probe` uses: a jump instruction, a sane common BPB and 0x55AA.
///
/// An MBR also ends in 0x55AA and often starts with a jump (GRUB's boot.img: `EB 63 90`), but
/// its bytes 11..36 are zeros or code, which fail the field checks.
pub(crate) fn looks_like_fat(b: &[u8]) -> bool {
    let jump = matches!(b.first(), Some(0xEB) | Some(0xE9));
    let sig = b.get(510..512) == Some(&[0x55, 0xAA][..]);
    if !jump || !sig {
        return false;
    }
    let (Some(bps), Some(spc), Some(reserved), Some(nfats), Some(media)) = (
        le::u16(b, 11),
        b.get(13).copied(),
        le::u16(b, 14),
        b.get(16).copied(),
        b.get(21).copied(),
    ) else {
        return false;
    };
    let tot = match (le::u16(b, 19), le::u32(b, 32)) {
        (Some(0), Some(t)) => u64::from(t),
        (Some(t), _) => u64::from(t),
        _ => 0,
    };
    let fatsz = match (le::u16(b, 22), le::u32(b, 36)) {
        (Some(0), Some(f)) => u64::from(f),
        (Some(f), _) => u64::from(f),
        _ => 0,
    };
    power_of_two_in(u64::from(bps), 512, 4096)
        && power_of_two_in(u64::from(spc), 1, 128)
        && reserved > 0
        && (1..=4).contains(&nfats)
        && (media == 0xF0 || media >= 0xF8)
        && tot > 0
        && fatsz > 0
}

impl Bpb {
    /// Parse and validate the first sector.
    pub(crate) fn parse(b: &[u8]) -> Result<Bpb> {
        let field16 = |off: usize| {
            le::u16(b, off)
                .map(u64::from)
                .ok_or_else(|| corrupt("boot sector is short"))
        };
        let field32 = |off: usize| {
            le::u32(b, off)
                .map(u64::from)
                .ok_or_else(|| corrupt("boot sector is short"))
        };
        let byte = |off: usize| {
            b.get(off)
                .copied()
                .map(u64::from)
                .ok_or_else(|| corrupt("boot sector is short"))
        };
        if b.get(510..512) != Some(&[0x55, 0xAA][..]) {
            return Err(corrupt("boot sector has no 0x55AA signature"));
        }
        let sector = field16(11)?;
        if !power_of_two_in(sector, 512, 4096) {
            return Err(corrupt(format!(
                "{sector} bytes per sector (must be a power of two in 512..=4096)"
            )));
        }
        let spc = byte(13)?;
        if !power_of_two_in(spc, 1, 128) {
            return Err(corrupt(format!(
                "{spc} sectors per cluster (must be a power of two in 1..=128)"
            )));
        }
        let reserved = field16(14)?;
        if reserved == 0 {
            return Err(corrupt("no reserved sectors"));
        }
        let nfats = byte(16)?;
        if !(1..=4).contains(&nfats) {
            return Err(corrupt(format!("{nfats} FATs (must be 1..=4)")));
        }
        let root_entries = field16(17)?;
        let tot16 = field16(19)?;
        let tot32 = field32(32)?;
        let total_sectors = if tot16 != 0 { tot16 } else { tot32 };
        if total_sectors == 0 {
            return Err(corrupt("volume of 0 sectors"));
        }
        let fat16_size = field16(22)?;
        let fat32 = fat16_size == 0;
        let fat_sectors = if fat32 { field32(36)? } else { fat16_size };
        if fat_sectors == 0 {
            return Err(corrupt("FAT of 0 sectors"));
        }
        if fat32 && root_entries != 0 {
            return Err(corrupt(format!(
                "FAT32 volume with {root_entries} fixed root entries"
            )));
        }
        if !fat32 && root_entries == 0 {
            return Err(corrupt("FAT12/16 volume with no root directory entries"));
        }
        if fat32 && field16(42)? != 0 {
            return Err(crate::FsError::Unsupported {
                fs: super::FS,
                what: format!("FAT32 version {:#06x}", field16(42)?),
            });
        }

        let ovf = || corrupt("volume geometry overflows");
        let cluster = sector.checked_mul(spc).ok_or_else(ovf)?;
        let fat_bytes = fat_sectors.checked_mul(sector).ok_or_else(ovf)?;
        let first_fat = reserved.checked_mul(sector).ok_or_else(ovf)?;
        let fats_end = fat_bytes
            .checked_mul(nfats)
            .and_then(|v| v.checked_add(first_fat))
            .ok_or_else(ovf)?;
        let root_bytes = root_entries * 32; // ≤ 65535 * 32
        let root_sectors = root_bytes.div_ceil(sector);
        let data_offset = root_sectors
            .checked_mul(sector)
            .and_then(|v| v.checked_add(fats_end))
            .ok_or_else(ovf)?;
        let volume_bytes = total_sectors.checked_mul(sector).ok_or_else(ovf)?;
        if data_offset >= volume_bytes {
            return Err(corrupt(format!(
                "data area starts at byte {data_offset}, past the volume's {volume_bytes} bytes"
            )));
        }
        let cluster_count = (volume_bytes - data_offset) / cluster;
        if cluster_count == 0 {
            return Err(corrupt("volume has no data clusters"));
        }
        let kind = if fat32 {
            Kind::Fat32
        } else if cluster_count < 4085 {
            Kind::Fat12
        } else {
            Kind::Fat16
        };
        let max = match kind {
            Kind::Fat12 => MAX_CLUSTERS_12,
            Kind::Fat16 => MAX_CLUSTERS_16,
            Kind::Fat32 => MAX_CLUSTERS_32,
        };
        if cluster_count > max {
            return Err(corrupt(format!(
                "{cluster_count} clusters is more than {kind:?} can address ({max})"
            )));
        }
        // The FAT must have an entry for every cluster (entries 0 and 1 are reserved).
        let fat_entries = fat_bytes.saturating_mul(8) / kind.bits();
        if cluster_count + 2 > fat_entries {
            return Err(corrupt(format!(
                "{cluster_count} clusters but the FAT holds only {fat_entries} entries"
            )));
        }

        let mut fat_offset = first_fat;
        let mut root_cluster = 0u32;
        let serial;
        if fat32 {
            let flags = field16(40)?;
            if flags & 0x80 != 0 {
                // Mirroring off: only the active FAT is valid.
                let active = flags & 0x0F;
                if active >= nfats {
                    return Err(corrupt(format!("active FAT {active} of only {nfats} FATs")));
                }
                fat_offset = fat_bytes
                    .checked_mul(active)
                    .and_then(|v| v.checked_add(first_fat))
                    .ok_or_else(ovf)?;
            }
            let rc = field32(44)?;
            if rc < 2 || rc >= cluster_count + 2 {
                return Err(corrupt(format!(
                    "root directory cluster {rc} is outside 2..{}",
                    cluster_count + 2
                )));
            }
            root_cluster = u32::try_from(rc).map_err(|_| ovf())?;
            serial = le::u32(b, 67).ok_or_else(|| corrupt("boot sector is short"))?;
        } else {
            serial = le::u32(b, 39).ok_or_else(|| corrupt("boot sector is short"))?;
        }

        Ok(Bpb {
            kind,
            cluster,
            fat_offset,
            fat_bytes,
            root_offset: fats_end,
            root_bytes,
            root_cluster,
            data_offset,
            cluster_count,
            volume_bytes,
            serial,
        })
    }

    /// Byte offset of cluster `c` (which must be a valid data cluster).
    pub(crate) fn cluster_offset(&self, c: u32) -> Result<u64> {
        let c = u64::from(c);
        if c < 2 || c >= self.cluster_count + 2 {
            return Err(corrupt(format!(
                "cluster {c} is outside 2..{}",
                self.cluster_count + 2
            )));
        }
        (c - 2)
            .checked_mul(self.cluster)
            .and_then(|v| v.checked_add(self.data_offset))
            .ok_or_else(|| corrupt(format!("cluster {c} offset overflows")))
    }

    /// GRUB's form of the serial: `XXXX-XXXX`, upper-case hex.
    pub(crate) fn uuid(&self) -> String {
        format!("{:04X}-{:04X}", self.serial >> 16, self.serial & 0xFFFF)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sector() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0] = 0xEB;
        b[1] = 0x3C;
        b[2] = 0x90;
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 8;
        b[14..16].copy_from_slice(&1u16.to_le_bytes());
        b[16] = 2;
        b[17..19].copy_from_slice(&512u16.to_le_bytes());
        b[19..21].copy_from_slice(&20480u16.to_le_bytes());
        b[21] = 0xF8;
        b[22..24].copy_from_slice(&20u16.to_le_bytes());
        b[39..43].copy_from_slice(&0x1234_ABCDu32.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    #[test]
    fn geometry_and_uuid() {
        let b = sector();
        assert!(looks_like_fat(&b));
        let p = Bpb::parse(&b).unwrap();
        assert_eq!(p.kind, Kind::Fat12);
        assert_eq!(p.cluster, 4096);
        assert_eq!(p.fat_offset, 512);
        assert_eq!(p.root_offset, 512 + 2 * 20 * 512);
        assert_eq!(p.data_offset, p.root_offset + 512 * 32);
        assert_eq!(p.uuid(), "1234-ABCD");
    }

    #[test]
    fn zero_and_max_fields_are_rejected() {
        for (off, v) in [
            (11usize, 0u8),
            (11, 0xFF),
            (13, 0),
            (13, 3),
            (14, 0),
            (16, 0),
            (16, 0xFF),
            (22, 0),
        ] {
            let mut b = sector();
            b[off] = v;
            if off == 11 || off == 14 || off == 22 {
                b[off + 1] = if v == 0 { 0 } else { 0xFF };
            }
            assert!(Bpb::parse(&b).is_err(), "field at {off} = {v:#x}");
        }
        let mut b = sector();
        b[19] = 0;
        b[20] = 0;
        assert!(Bpb::parse(&b).is_err());
        let mut b = sector();
        b[510] = 0;
        assert!(!looks_like_fat(&b));
        assert!(Bpb::parse(&b).is_err());
    }

    #[test]
    fn mbr_is_not_fat() {
        // GRUB's boot.img starts with a short jump and ends in 0x55AA, BPB area zeroed.
        let mut b = vec![0u8; 512];
        b[0] = 0xEB;
        b[1] = 0x63;
        b[2] = 0x90;
        b[510] = 0x55;
        b[511] = 0xAA;
        assert!(!looks_like_fat(&b));
    }
}
