//! Solaris x86 VTOC (`dk_label` with the SVr4 VTOC, 16 slices) inside an MBR partition of
//! type 0xBF (Solaris) or 0x82 (old Solaris, same byte as Linux swap).
//!
//! The label is sector 1 of the partition (`DK_LABEL_LOC`); `dkl_magic` 0xDABE at byte 508
//! identifies it (what PyGrub and GRUB's `sunpc` map check); `v_sanity` (0x600DDEEE, byte 12)
//! and the XOR checksum are only warned about. `v_nparts` (byte 30) is bounded to the 16
//! slices the label holds. Slice starts are in sectors relative to the partition. Slices of
//! size 0, tag 0 (unassigned) and tag 5 (backup: the whole partition) are skipped as GRUB
//! does; the root-tagged slice (`V_ROOT`, 2) comes first, as PyGrub boots from it. GRUB names
//! slice `i` `msdosN,sunpc{i+1}`.
use crate::{window, Scheme, Volume};
use rsgrub_io::le;

/// `dkl_magic`.
pub const DKL_MAGIC: u16 = 0xDABE;
/// `v_sanity`.
pub const VTOC_SANE: u32 = 0x600D_DEEE;
/// Slices in an x86 VTOC.
pub const NDKMAP: usize = 16;
/// Root slice tag.
pub const V_ROOT: u16 = 2;
/// Backup (whole partition) tag.
pub const V_BACKUP: u16 = 5;
/// Offset of the slice table in the label.
pub const SLICES_AT: usize = 72;

const SECTOR: u64 = 512;

/// MBR types that may hold a VTOC: 0xBF, 0x82.
pub fn is_vtoc_type(kind: u8) -> bool {
    matches!(kind, 0xBF | 0x82)
}

/// One slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Index (0..16).
    pub index: u32,
    /// `p_tag`.
    pub tag: u16,
    /// `p_flag`.
    pub flag: u16,
    /// Start sector, relative to the partition.
    pub start: u32,
    /// Sectors.
    pub size: u32,
}

/// A parsed label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vtoc {
    /// `v_nparts` as stored.
    pub nparts: u16,
    /// The slices read (at most [`NDKMAP`]).
    pub slices: Vec<Slice>,
    /// Problems that do not stop us.
    pub warnings: Vec<String>,
}

/// Parse sector 1 of a Solaris partition; `None` without the 0xDABE magic.
pub fn parse(b: &[u8; 512]) -> Option<Vtoc> {
    if le::u16(b, 508)? != DKL_MAGIC {
        return None;
    }
    let mut warnings = Vec::new();
    let sanity = le::u32(b, 12)?;
    if sanity != VTOC_SANE {
        warnings.push(format!("v_sanity is 0x{sanity:08x}, not 0x{VTOC_SANE:08x}"));
    }
    let sum = (0..256).fold(0u16, |acc, i| acc ^ le::u16(b, 2 * i).unwrap_or(0));
    if sum != 0 {
        warnings.push("label checksum is wrong".to_string());
    }
    let nparts = le::u16(b, 30)?;
    if usize::from(nparts) > NDKMAP {
        warnings.push(format!(
            "VTOC claims {nparts} slices; only the {NDKMAP} that fit are read"
        ));
    }
    let n = usize::from(nparts).min(NDKMAP);
    let slices = (0..n)
        .filter_map(|i| {
            let o = SLICES_AT + 12 * i;
            Some(Slice {
                index: u32::try_from(i).ok()?,
                tag: le::u16(b, o)?,
                flag: le::u16(b, o + 2)?,
                start: le::u32(b, o + 4)?,
                size: le::u32(b, o + 8)?,
            })
        })
        .collect();
    Some(Vtoc {
        nparts,
        slices,
        warnings,
    })
}

/// The slices of the VTOC in MBR partition `parent`, root-tagged first.
pub fn scan_in_partition(parent: &Volume) -> (Vec<Volume>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut b = [0u8; 512];
    if parent.reader.read_at(SECTOR, &mut b).is_err() {
        return (Vec::new(), warnings);
    }
    let Some(vtoc) = parse(&b) else {
        return (Vec::new(), warnings);
    };
    let ctx = parent.describe();
    for w in &vtoc.warnings {
        warnings.push(format!("Solaris VTOC in {ctx}: {w}"));
    }
    let mut slices: Vec<&Slice> = vtoc
        .slices
        .iter()
        .filter(|s| s.size != 0 && s.tag != 0 && s.tag != V_BACKUP)
        .collect();
    slices.sort_by_key(|s| (s.tag != V_ROOT, s.index));
    let mut out = Vec::new();
    for s in slices {
        let number = s.index + 1;
        let name = format!("{},sunpc{number}", parent.name);
        let off = u64::from(s.start) * SECTOR;
        let size = u64::from(s.size) * SECTOR;
        let reader = match window(&parent.reader, off, size) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!(
                    "Solaris VTOC in {ctx}: slice {} ({name}): {e}; skipped",
                    s.index
                ));
                continue;
            }
        };
        let mut v = Volume::partition(
            Scheme::Vtoc,
            name,
            number,
            parent.start.saturating_add(off),
            size,
            format!("0x{:04x}", s.tag),
            parent.active,
            reader,
        );
        v.parents.push(parent.name.clone());
        out.push(v);
    }
    (out, warnings)
}
