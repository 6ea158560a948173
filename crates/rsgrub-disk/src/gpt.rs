//! GUID partition table (placeholder, to be completed).
use crate::{mbr::MbrTable, Disk, DiskError, DynReader, Result};

/// Volumes of a GPT disk.
pub fn scan(_image: &DynReader, _pmbr: &MbrTable) -> Result<Disk> {
    Err(DiskError::BadTable {
        table: "GPT",
        what: "not yet implemented".into(),
    })
}
