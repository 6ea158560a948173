//! fat (placeholder until the driver lands).
use crate::{Filesystem, FsError, ReadAt, Result};
use rsgrub_io::DynReader;

/// `true` if the volume carries this filesystem's signature.
pub fn probe(_dev: &dyn ReadAt) -> bool {
    false
}

/// Open the filesystem.
pub fn open(_dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Err(FsError::Unsupported {
        fs: "fat",
        what: "driver not yet written".into(),
    })
}
