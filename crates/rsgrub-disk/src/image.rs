//! Opening the image file libxl names: a raw file or a block device.
use rsgrub_io::{DynReader, FileReader};
use std::fs::File;
use std::sync::Arc;

/// Wrap an already-open image (the sandbox parent opens it) as a reader.
pub fn from_file(file: File) -> std::io::Result<DynReader> {
    Ok(Arc::new(FileReader::new(file)?))
}
