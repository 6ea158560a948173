//! Volume descriptors (ECMA-119 §8): the set starting at logical sector 16.
//!
//! The descriptors are read in order until the set terminator (type 255), at most
//! [`MAX_DESCRIPTORS`] of them. The first primary descriptor (type 1) is required; a
//! supplementary descriptor (type 2) whose escape sequence names UCS-2 (`%/@`, `%/C`, `%/E`)
//! is the Joliet one. Boot records, partition descriptors and unknown types are skipped. The
//! first 32 KiB of the volume (system area: an MBR, a GPT, an El Torito image) are never read.
use super::corrupt;
use crate::Result;
use rsgrub_io::{le, ReadAt};

/// Logical block (and sector) size; the only one GRUB and Linux read.
pub(crate) const BLOCK: u64 = 2048;
/// First descriptor's sector.
const FIRST: u64 = 16;
/// Descriptors read before giving up on finding the terminator.
pub(crate) const MAX_DESCRIPTORS: u64 = 64;
/// Offset of the root directory record inside a primary or supplementary descriptor.
const ROOT_RECORD: u64 = 156;

const TYPE_PRIMARY: u8 = 1;
const TYPE_SUPPLEMENTARY: u8 = 2;
const TYPE_TERMINATOR: u8 = 255;

/// `true` if sector 16 carries the `CD001` standard identifier.
pub(crate) fn probe(dev: &dyn ReadAt) -> bool {
    let mut b = [0u8; 7];
    dev.read_at(FIRST * BLOCK, &mut b).is_ok()
        && b.get(1..6) == Some(&b"CD001"[..])
        && b.get(6) == Some(&1)
}

/// One primary or supplementary descriptor.
#[derive(Clone)]
pub(crate) struct Descriptor {
    pub sector: u64,
    pub raw: Vec<u8>,
}

impl Descriptor {
    /// Volume offset of its root directory record: the root's node id.
    pub(crate) fn root_record(&self) -> u64 {
        self.sector * BLOCK + ROOT_RECORD
    }

    /// The 32-byte volume identifier.
    pub(crate) fn volume_id(&self) -> &[u8] {
        self.raw.get(40..72).unwrap_or_default()
    }

    /// The 16 digits of the volume modification date (without the time zone byte).
    pub(crate) fn modified(&self) -> &[u8] {
        self.raw.get(830..846).unwrap_or_default()
    }

    fn is_joliet(&self) -> bool {
        matches!(
            self.raw.get(88..91),
            Some([0x25, 0x2F, 0x40]) | Some([0x25, 0x2F, 0x43]) | Some([0x25, 0x2F, 0x45])
        )
    }
}

/// The descriptors this driver uses.
pub(crate) struct Volumes {
    pub primary: Descriptor,
    pub joliet: Option<Descriptor>,
    pub warnings: Vec<String>,
}

/// Read the descriptor set.
pub(crate) fn read(dev: &dyn ReadAt) -> Result<Volumes> {
    let mut primary = None;
    let mut joliet = None;
    let mut warnings = Vec::new();
    let mut terminated = false;
    for i in 0..MAX_DESCRIPTORS {
        let sector = FIRST + i;
        let mut raw = vec![0u8; BLOCK as usize];
        if dev.read_at(sector * BLOCK, &mut raw).is_err() {
            if primary.is_some() {
                warnings.push(format!(
                    "volume descriptor set ends at sector {sector} without a terminator"
                ));
                break;
            }
            return Err(corrupt(format!(
                "volume descriptor at sector {sector} is past the end of the volume"
            )));
        }
        if raw.get(1..6) != Some(&b"CD001"[..]) {
            if primary.is_some() {
                warnings.push(format!(
                    "sector {sector} in the volume descriptor set has no CD001 identifier"
                ));
                break;
            }
            return Err(corrupt(format!(
                "sector {sector} has no CD001 identifier before any primary volume descriptor"
            )));
        }
        let kind = raw.first().copied().unwrap_or(0);
        match kind {
            TYPE_PRIMARY if primary.is_none() => primary = Some(Descriptor { sector, raw }),
            TYPE_SUPPLEMENTARY if joliet.is_none() => {
                let d = Descriptor { sector, raw };
                if d.is_joliet() {
                    joliet = Some(d);
                }
            }
            TYPE_TERMINATOR => {
                terminated = true;
                break;
            }
            _ => {}
        }
    }
    let primary = primary.ok_or_else(|| corrupt("no primary volume descriptor"))?;
    if !terminated && warnings.is_empty() {
        warnings.push(format!(
            "no volume descriptor set terminator in the first {MAX_DESCRIPTORS} descriptors"
        ));
    }
    let lbs = le::u16(&primary.raw, 128).unwrap_or(0);
    if u64::from(lbs) != BLOCK {
        return Err(crate::FsError::Unsupported {
            fs: super::FS,
            what: format!("logical block size {lbs} (only 2048 is read)"),
        });
    }
    Ok(Volumes {
        primary,
        joliet,
        warnings,
    })
}
