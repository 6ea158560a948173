//! ext2/3/4 (placeholder until the driver lands).
use crate::{Filesystem, FsError, ReadAt, Result};
use rsgrub_io::DynReader;

/// `true` if the volume has the ext superblock magic.
pub fn probe(dev: &dyn ReadAt) -> bool {
    let mut m = [0u8; 2];
    dev.read_at(1024 + 56, &mut m).is_ok() && m == [0x53, 0xEF]
}

/// Open an ext2/3/4 filesystem.
pub fn open(_dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Err(FsError::Unsupported {
        fs: "ext4",
        what: "driver not yet written".into(),
    })
}
