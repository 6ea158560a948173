//! Guest disk image → volumes.
//!
//! [`image`] opens what libxl hands us (raw file or block device, qcow2 v2/v3, VHD fixed /
//! dynamic / differencing — detected by magic, never by file name) as one [`ReadAt`]. [`scan`]
//! reads the partition table (MBR, GPT; none = whole-disk filesystem), the labels nested in MBR
//! partitions ([`bsd`] disklabels, Solaris [`vtoc`]s), treats a hybrid ISO (ISO 9660 at offset 0
//! plus a table) as both the whole disk and its partitions, and assembles the LVM2 logical
//! volumes whose physical volumes are all on this disk ([`lvm`]). It yields [`Volume`]s — each a
//! [`Slice`] of the image, or a [`segmented::Segmented`] reader for an LV — in PyGrub's boot
//! order.
#![forbid(unsafe_code)]

use rsgrub_io::{DynReader, ReadAt, Slice};
use std::sync::Arc;

pub mod bsd;
pub mod gpt;
pub mod image;
pub mod lvm;
pub mod mbr;
pub mod segmented;
pub mod vtoc;

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
    /// An image container (qcow2, VHD) that is malformed or uses a feature we refuse.
    #[error("{format} image: {what}")]
    Image {
        /// `"qcow2"`, `"VHD"`.
        format: &'static str,
        /// What is wrong.
        what: String,
    },
    /// The image has a backing file (qcow2) or parent (differencing VHD), and no backing
    /// reader was given. We never open a path named by the image.
    #[error(
        "{format} image has a backing file {name:?}; it is not opened (backing files named by \
         a guest image are refused; pass the backing image explicitly)"
    )]
    BackingFile {
        /// `"qcow2"`, `"VHD"`.
        format: &'static str,
        /// The name as stored in the image (lossy UTF-8).
        name: String,
    },
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

/// Where one volume came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// The whole disk (no table, or the ISO 9660 side of a hybrid ISO).
    Whole,
    /// An MBR primary or logical partition (`msdosN`).
    Msdos,
    /// A GPT partition (`gptN`).
    Gpt,
    /// A BSD disklabel partition (`msdos1,bsdN`, `netbsdN`, `openbsdN`, `bsdN`).
    Bsd,
    /// A Solaris x86 VTOC slice (`msdos1,sunpcN`).
    Vtoc,
    /// An LVM2 logical volume (`lvm/VG-LV`).
    Lvm,
}

impl Scheme {
    /// `"whole"`, `"msdos"`, `"gpt"`, `"bsd"`, `"vtoc"`, `"lvm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Whole => "whole",
            Scheme::Msdos => "msdos",
            Scheme::Gpt => "gpt",
            Scheme::Bsd => "bsd",
            Scheme::Vtoc => "vtoc",
            Scheme::Lvm => "lvm",
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One volume: a partition, a nested label's partition, a logical volume, or the whole disk.
#[derive(Clone)]
pub struct Volume {
    /// GRUB's partition name: `msdos1`, `gpt2`, `msdos1,bsd1`, `netbsd1`, `msdos2,sunpc1`;
    /// `lvm/VG-LV` for a logical volume; empty for the whole disk. Unique within a [`Disk`].
    pub name: String,
    /// 1-based partition number within its table (slot of the MBR/GPT, BSD partition index
    /// + 1, VTOC slice + 1, LV index + 1); 0 = whole disk.
    pub number: u32,
    /// Byte offset in the image (for an LV: of its first extent; an LV need not be contiguous).
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// MBR type byte (`0x83`) or GPT type GUID, as text; BSD `p_fstype` (`0x07`); VTOC tag
    /// (`0x0002`); LVM segment type (`linear`, `striped`).
    pub part_type: String,
    /// GPT unique partition GUID (lower-case, hyphenated); LV UUID for logical volumes.
    pub part_uuid: Option<String>,
    /// GPT partition name; `VG/LV` for logical volumes.
    pub part_label: Option<String>,
    /// MBR active (boot) flag; a nested BSD/VTOC partition inherits its container's flag.
    pub active: bool,
    /// Where it came from.
    pub scheme: Scheme,
    /// Every GRUB device name of this volume, canonical first: `["hd0,msdos2"]`,
    /// `["hd0"]`, `["lvm/vg-root", "lvmid/<vg uuid>/<lv uuid>"]`.
    pub grub_names: Vec<String>,
    /// Names of the volumes this one lies in: the MBR partition of a BSD/VTOC partition, the
    /// physical volumes of an LV. Empty for top-level partitions and the whole disk.
    pub parents: Vec<String>,
    /// The bytes of the volume.
    pub reader: DynReader,
}

impl Volume {
    /// A top-level partition or nested partition: `name` is its GRUB partition path.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn partition(
        scheme: Scheme,
        name: String,
        number: u32,
        start: u64,
        size: u64,
        part_type: String,
        active: bool,
        reader: DynReader,
    ) -> Volume {
        Volume {
            grub_names: vec![format!("hd0,{name}")],
            name,
            number,
            start,
            size,
            part_type,
            part_uuid: None,
            part_label: None,
            active,
            scheme,
            parents: Vec::new(),
            reader,
        }
    }

    /// GRUB device name (`hd0,msdos1`, `hd0` for the whole disk, `lvm/vg-root` for an LV).
    pub fn grub_device(&self) -> String {
        if let Some(n) = self.grub_names.first() {
            return n.clone();
        }
        if self.name.is_empty() {
            "hd0".to_string()
        } else {
            format!("hd0,{}", self.name)
        }
    }

    /// Every GRUB device name of the volume, canonical first (see [`Volume::grub_names`]).
    pub fn device_names(&self) -> Vec<String> {
        if self.grub_names.is_empty() {
            vec![self.grub_device()]
        } else {
            self.grub_names.clone()
        }
    }

    /// Whether the GRUB device `dev` (`hd0,msdos1`, `(hd0,gpt2)`, `hd0,1`, `hd0`,
    /// `lvm/vg-root`, `lvmid/…/…`; `xvda` is taken for `hd0`) names this volume.
    ///
    /// A bare number (`hd0,1`) names a top-level MBR/GPT partition with that number, or with
    /// a nested tail (`hd0,1,a` / `hd0,1,bsd1`) the nested partition.
    pub fn matches_device(&self, dev: &str) -> bool {
        let d = normalize_device(dev);
        if d.is_empty() {
            return false;
        }
        if self.device_names().iter().any(|n| n == &d) {
            return true;
        }
        // Aliases: numeric components, BSD letters.
        let mut want = d.split(',');
        if want.next() != Some("hd0") {
            return false;
        }
        let want: Vec<&str> = want.collect();
        if want.is_empty() || self.name.is_empty() || self.scheme == Scheme::Lvm {
            return false;
        }
        let have: Vec<&str> = self.name.split(',').collect();
        want.len() == have.len() && want.iter().zip(&have).all(|(w, h)| component_matches(w, h))
    }

    /// A short human name for messages: `partition 2 (gpt2)`, `whole disk`,
    /// `BSD partition a (msdos1,bsd1)`, `Solaris slice 0 (msdos1,sunpc1)`,
    /// `logical volume vg/root (lvm/vg-root)`.
    pub fn describe(&self) -> String {
        match self.scheme {
            _ if self.name.is_empty() => "whole disk".to_string(),
            Scheme::Bsd => {
                let letter = bsd::letter(self.number.saturating_sub(1));
                format!("BSD partition {letter} ({})", self.name)
            }
            Scheme::Vtoc => format!(
                "Solaris slice {} ({})",
                self.number.saturating_sub(1),
                self.name
            ),
            Scheme::Lvm => format!(
                "logical volume {} ({})",
                self.part_label.as_deref().unwrap_or("?"),
                self.name
            ),
            _ => format!("partition {} ({})", self.number, self.name),
        }
    }
}

/// `(hd0,msdos1)` → `hd0,msdos1`; `xvda` → `hd0`.
fn normalize_device(dev: &str) -> String {
    let d = dev.trim();
    let d = d.strip_prefix('(').unwrap_or(d);
    let d = d.strip_suffix(')').unwrap_or(d).trim();
    match d.strip_prefix("xvda") {
        Some(rest) if rest.is_empty() || rest.starts_with(',') => format!("hd0{rest}"),
        _ => d.to_string(),
    }
}

/// One component of a GRUB partition path: `2` matches `msdos2`/`gpt2`/`bsd2`; a BSD letter
/// `a` matches `bsd1`.
fn component_matches(want: &str, have: &str) -> bool {
    if want == have {
        return true;
    }
    let digits = have.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let Ok(n) = digits.parse::<u32>() else {
        return false;
    };
    if let Ok(w) = want.parse::<u32>() {
        return w == n;
    }
    let mut chars = want.chars();
    if let (Some(c @ 'a'..='z'), None) = (chars.next(), chars.next()) {
        return have.ends_with(&format!("bsd{n}")) && bsd::letter(n.saturating_sub(1)) == c;
    }
    false
}

/// The first volume (in `volumes` order) that GRUB device `dev` names
/// ([`Volume::matches_device`]).
pub fn find_device(volumes: &[Volume], dev: &str) -> Option<usize> {
    let d = normalize_device(dev);
    // Exact names first, so an alias never shadows a real name.
    volumes
        .iter()
        .position(|v| v.device_names().contains(&d))
        .or_else(|| volumes.iter().position(|v| v.matches_device(&d)))
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field("start", &self.start)
            .field("size", &self.size)
            .field("part_type", &self.part_type)
            .field("active", &self.active)
            .finish()
    }
}

/// A scanned disk.
pub struct Disk {
    /// Table kind (of the top-level table).
    pub table: TableKind,
    /// Volumes: the whole disk first for a hybrid ISO, then the table's partitions in table
    /// order, each followed by its nested BSD partitions (VTOC slices come just before their
    /// Solaris partition, root slice first, as PyGrub uses the root slice instead of the
    /// partition), then logical volumes.
    pub volumes: Vec<Volume>,
    /// Problems that did not stop the scan (a bad backup GPT header, an entry past the end).
    pub warnings: Vec<String>,
    /// ISO 9660 at offset 0 as well as a partition table (the whole disk is then volume 0).
    pub hybrid_iso: bool,
}

impl Disk {
    /// Volumes in the order PyGrub tries them: the whole disk of a hybrid ISO first, then the
    /// active MBR partition (and what is nested in it), then the rest in volume order.
    pub fn boot_order(&self) -> Vec<&Volume> {
        let whole = |v: &&Volume| v.scheme == Scheme::Whole;
        let mut v: Vec<&Volume> = self.volumes.iter().filter(whole).collect();
        v.extend(self.volumes.iter().filter(|x| !whole(x) && x.active));
        v.extend(self.volumes.iter().filter(|x| !whole(x) && !x.active));
        v
    }

    /// The volume GRUB device `dev` names (see [`find_device`]).
    pub fn find_device(&self, dev: &str) -> Option<usize> {
        find_device(&self.volumes, dev)
    }
}

/// Make a volume that is a window of the image.
pub fn window(image: &DynReader, start: u64, size: u64) -> Result<DynReader> {
    Ok(Arc::new(Slice::new(image.clone(), start, size)?))
}

/// Offset of the ISO 9660 primary volume descriptor's `CD001`.
const ISO_MAGIC_AT: u64 = 0x8001;

/// Whether an ISO 9660 volume descriptor is at offset 32 KiB (`CD001` at 0x8001).
pub fn has_iso9660(image: &DynReader) -> bool {
    let mut m = [0u8; 5];
    image.size() >= ISO_MAGIC_AT + 5
        && image.read_at(ISO_MAGIC_AT, &mut m).is_ok()
        && &m == b"CD001"
}

/// Read the partition table(s) of an image.
///
/// Sector 0 decides ([`mbr::classify`]): no `0x55AA`, a FAT/NTFS/exFAT boot sector, or entries
/// that are not a plausible table → the whole disk; a table with a `0xEE` entry → GPT
/// ([`gpt::scan`]); otherwise MBR ([`mbr::scan`]).
///
/// With `CD001` at 0x8001 as well as `0x55AA` (a hybrid ISO: isohybrid, xorriso
/// `-isohybrid-mbr` / `-append_partition` / `-isohybrid-gpt-basdat`) the whole disk is volume
/// 0 and the table's partitions follow; entries starting at sector 0 (the ISO itself) are
/// skipped silently, and a broken table only costs a warning.
///
/// Then, per MBR partition, nested labels: a BSD disklabel in types 0xA5/0xA6/0xA9 ([`bsd`]),
/// a Solaris VTOC in 0xBF/0x82 ([`vtoc`]); with no table, a BSD label at sector 1 of the disk.
/// Last, LVM2 physical volumes on every partition and on the whole disk, and their logical
/// volumes ([`lvm`]).
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
    let iso = mbr::has_signature(&sector0) && has_iso9660(&image);
    let mut disk = if iso {
        scan_hybrid(&image, &sector0)
    } else {
        match mbr::classify(&sector0) {
            mbr::Sector0::Table(table) if table.is_protective() => gpt::scan(&image, &table)?,
            mbr::Sector0::Table(table) => mbr::scan(&image, &table)?,
            mbr::Sector0::NotATable(why) => {
                let mut disk = whole_disk(image.clone());
                disk.warnings.push(format!(
                    "MBR: sector 0 has the 0x55AA signature but is not a partition table \
                     ({why}); using the whole disk"
                ));
                disk
            }
            mbr::Sector0::BootSector(_) | mbr::Sector0::NoSignature => whole_disk(image.clone()),
        }
    };
    nested(&image, &mut disk);
    lvm::add_logical_volumes(&mut disk);
    Ok(disk)
}

/// A hybrid ISO: the whole disk, then whatever the table yields (never an error).
fn scan_hybrid(image: &DynReader, sector0: &[u8; 512]) -> Disk {
    let entries = mbr::entries(sector0);
    let table = mbr::MbrTable { entries };
    let plausible = entries.iter().all(|e| e.status == 0x00 || e.status == 0x80)
        && entries.iter().any(|e| !e.is_unused() && e.lba != 0);
    let mut warnings = Vec::new();
    let mut parts = if !plausible {
        Vec::new()
    } else if table.is_protective() {
        match gpt::scan(image, &table) {
            Ok(d) if d.table == TableKind::Gpt => {
                warnings.extend(d.warnings);
                d.volumes
            }
            Ok(d) => {
                warnings.extend(d.warnings.into_iter().filter(|w| !w.contains("whole disk")));
                Vec::new()
            }
            Err(e) => {
                warnings.push(format!("hybrid ISO: {e}; only the whole disk is used"));
                Vec::new()
            }
        }
    } else {
        match mbr::scan(image, &table) {
            Ok(d) if d.table == TableKind::Mbr => {
                warnings.extend(d.warnings);
                d.volumes
            }
            Ok(d) => {
                warnings.extend(d.warnings.into_iter().filter(|w| !w.contains("whole disk")));
                Vec::new()
            }
            Err(e) => {
                warnings.push(format!("hybrid ISO: {e}; only the whole disk is used"));
                Vec::new()
            }
        }
    };
    let table_kind = if parts.is_empty() {
        TableKind::None
    } else if table.is_protective() {
        TableKind::Gpt
    } else {
        TableKind::Mbr
    };
    let mut disk = whole_disk(image.clone());
    disk.volumes.append(&mut parts);
    disk.warnings = warnings;
    disk.table = table_kind;
    disk.hybrid_iso = table_kind != TableKind::None;
    disk
}

/// Add the BSD and VTOC partitions nested in MBR partitions (or a BSD label on the whole disk).
fn nested(image: &DynReader, disk: &mut Disk) {
    let mut out: Vec<Volume> = Vec::with_capacity(disk.volumes.len());
    let vols = std::mem::take(&mut disk.volumes);
    let total = vols.len();
    for v in vols {
        match v.scheme {
            Scheme::Msdos => {
                let kind =
                    u8::from_str_radix(v.part_type.trim_start_matches("0x"), 16).unwrap_or(0);
                if bsd::is_bsd_type(kind) {
                    let (subs, w) = bsd::scan_in_partition(image, &v, kind);
                    disk.warnings.extend(w);
                    out.push(v);
                    out.extend(subs);
                } else if vtoc::is_vtoc_type(kind) {
                    let (subs, w) = vtoc::scan_in_partition(&v);
                    disk.warnings.extend(w);
                    out.extend(subs);
                    out.push(v);
                } else {
                    out.push(v);
                }
            }
            Scheme::Whole if total == 1 && disk.table == TableKind::None => {
                let (subs, w) = bsd::scan_whole_disk(image);
                disk.warnings.extend(w);
                out.push(v);
                out.extend(subs);
            }
            _ => out.push(v),
        }
    }
    // Names must be unique (two NetBSD partitions both give `netbsd1`; GRUB reads the first).
    let mut seen: Vec<String> = Vec::new();
    out.retain(|v| {
        if seen.contains(&v.name) {
            disk.warnings.push(format!(
                "a second volume named {} ignored (GRUB reads only the first)",
                v.name
            ));
            false
        } else {
            seen.push(v.name.clone());
            true
        }
    });
    disk.volumes = out;
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
            scheme: Scheme::Whole,
            grub_names: vec!["hd0".to_string()],
            parents: Vec::new(),
            reader: image,
        }],
        warnings: Vec::new(),
        hybrid_iso: false,
    }
}
