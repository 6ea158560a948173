//! Guest disk image → volumes.
//!
//! [`image`] opens what libxl hands us (raw file or block device; qcow2/VHD later) as one
//! [`ReadAt`]. [`scan`] reads the partition table (MBR, GPT; none = whole-disk filesystem) and
//! yields [`Volume`]s — each a [`Slice`] of the image — in PyGrub's boot order.
#![forbid(unsafe_code)]

use rsgrub_io::{DynReader, ReadAt, Slice};
use std::sync::Arc;

pub mod gpt;
pub mod image;
pub mod mbr;

/// Result alias.
pub type Result<T> = std::result::Result<T, DiskError>;

/// Errors reading a disk. Partition-level problems are warnings, not errors, where the other
/// partitions stay usable.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Underlying read failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// A partition table is unusable as a whole.
    #[error("{table}: {what}")]
    BadTable {
        /// `"MBR"`, `"GPT"`.
        table: &'static str,
        /// What is wrong.
        what: String,
    },
    /// Image is empty or too small to hold anything.
    #[error("image is too small ({0} bytes)")]
    TooSmall(u64),
}

/// What partitioned the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// No table: the whole disk is one volume.
    None,
    /// DOS/MBR.
    Mbr,
    /// GUID partition table.
    Gpt,
}

/// One volume: a partition, or the whole disk.
#[derive(Clone)]
pub struct Volume {
    /// GRUB's partition name: `msdos1`, `gpt2`; empty for the whole disk.
    pub name: String,
    /// 1-based partition number (0 = whole disk).
    pub number: u32,
    /// Byte offset in the image.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// MBR type byte (`0x83`) or GPT type GUID, as text.
    pub part_type: String,
    /// GPT unique partition GUID (lower-case, hyphenated).
    pub part_uuid: Option<String>,
    /// GPT partition name.
    pub part_label: Option<String>,
    /// MBR active (boot) flag.
    pub active: bool,
    /// The bytes of the volume.
    pub reader: DynReader,
}

impl Volume {
    /// GRUB device name (`hd0,msdos1`, or `hd0` for the whole disk).
    pub fn grub_device(&self) -> String {
        if self.name.is_empty() {
            "hd0".to_string()
        } else {
            format!("hd0,{}", self.name)
        }
    }

    /// A short human name for messages: `partition 2 (gpt2)` or `whole disk`.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            "whole disk".to_string()
        } else {
            format!("partition {} ({})", self.number, self.name)
        }
    }
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("name", &self.name)
            .field("start", &self.start)
            .field("size", &self.size)
            .field("part_type", &self.part_type)
            .field("active", &self.active)
            .finish()
    }
}

/// A scanned disk.
pub struct Disk {
    /// Table kind.
    pub table: TableKind,
    /// Volumes in table order.
    pub volumes: Vec<Volume>,
    /// Problems that did not stop the scan (a bad backup GPT header, an entry past the end).
    pub warnings: Vec<String>,
}

impl Disk {
    /// Volumes in the order PyGrub tries them: the active MBR partition first, then the rest
    /// in table order.
    pub fn boot_order(&self) -> Vec<&Volume> {
        let mut v: Vec<&Volume> = self.volumes.iter().filter(|v| v.active).collect();
        v.extend(self.volumes.iter().filter(|v| !v.active));
        v
    }
}

/// Make a volume that is a window of the image.
pub fn window(image: &DynReader, start: u64, size: u64) -> Result<DynReader> {
    Ok(Arc::new(Slice::new(image.clone(), start, size)?))
}

/// Read the partition table(s) of an image.
///
/// Sector 0 decides ([`mbr::classify`]): no `0x55AA`, a FAT/NTFS/exFAT boot sector, or entries
/// that are not a plausible table → the whole disk; a table with a `0xEE` entry → GPT
/// ([`gpt::scan`]); otherwise MBR ([`mbr::scan`]).
///
/// Returns the whole disk as a single volume ([`TableKind::None`]) when there is no table, or
/// when an MBR or GPT has no usable partition (with a warning). A GPT whose primary and backup
/// headers are both bad is an error naming the table; individual bad entries are skipped with
/// a warning.
pub fn scan(image: DynReader) -> Result<Disk> {
    let size = image.size();
    if size < 512 {
        return Err(DiskError::TooSmall(size));
    }
    let mut sector0 = [0u8; 512];
    image.read_at(0, &mut sector0)?;
    match mbr::classify(&sector0) {
        mbr::Sector0::Table(table) if table.is_protective() => gpt::scan(&image, &table),
        mbr::Sector0::Table(table) => mbr::scan(&image, &table),
        mbr::Sector0::NotATable(why) => {
            let mut disk = whole_disk(image);
            disk.warnings.push(format!(
                "MBR: sector 0 has the 0x55AA signature but is not a partition table ({why}); \
                 using the whole disk"
            ));
            Ok(disk)
        }
        mbr::Sector0::BootSector(_) | mbr::Sector0::NoSignature => Ok(whole_disk(image)),
    }
}

/// The disk as one volume.
pub fn whole_disk(image: DynReader) -> Disk {
    let size = image.size();
    Disk {
        table: TableKind::None,
        volumes: vec![Volume {
            name: String::new(),
            number: 0,
            start: 0,
            size,
            part_type: String::new(),
            part_uuid: None,
            part_label: None,
            active: false,
            reader: image,
        }],
        warnings: Vec::new(),
    }
}
