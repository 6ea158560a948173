//! Opening the image file libxl names: raw (a file or block device), qcow2 or VHD.
//!
//! The format is detected by magic, whatever the file is called: `QFI\xfb` at offset 0 is
//! qcow2 ([`qcow2`]); a `conectix` footer in the last sector (or, for dynamic disks, at
//! offset 0) is VHD ([`vhd`]); anything else is raw. Note the guest controls every byte of
//! a raw disk, so it can make its raw disk look like qcow2 or VHD to us: harmless, since the
//! guest could have written the same bytes as a raw disk, and an image never makes us open
//! a path — a backing file (qcow2) or parent (differencing VHD) is
//! [`DiskError::BackingFile`] unless the caller passes an already-open backing reader. Use
//! [`open_as`] when the toolstack knows the format.
use crate::{DiskError, Result};
use rsgrub_io::{DynReader, FileReader, ReadAt};
use std::fs::File;
use std::sync::Arc;

pub mod qcow2;
pub mod vhd;

/// An image container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The bytes are the disk.
    Raw,
    /// qcow2 v2/v3.
    Qcow2,
    /// VHD fixed, dynamic or differencing.
    Vhd,
}

impl Format {
    /// `"raw"`, `"qcow2"`, `"vhd"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vhd => "vhd",
        }
    }
}

/// What [`info`] tells about an image (for `rsgrub inspect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Container format.
    pub format: Format,
    /// Size of the file.
    pub file_size: u64,
    /// Size of the virtual disk (`None` when the container is unreadable).
    pub virtual_size: Option<u64>,
    /// Backing file / parent name recorded in the image (never opened).
    pub backing_file: Option<String>,
    /// Format details: `qcow2 v3, 65536-byte clusters, zlib`, `VHD dynamic, 2 MiB blocks`.
    pub details: String,
}

/// Wrap an already-open image (the sandbox parent opens it) as a raw reader.
pub fn from_file(file: File) -> std::io::Result<DynReader> {
    Ok(Arc::new(FileReader::new(file)?))
}

/// The format of `raw`, by magic.
pub fn detect(raw: &DynReader) -> std::io::Result<Format> {
    let mut m = [0u8; 4];
    if raw.size() >= 4 {
        raw.read_at(0, &mut m)?;
        if qcow2::is_qcow2(&m) {
            return Ok(Format::Qcow2);
        }
    }
    if vhd::is_vhd(raw) {
        return Ok(Format::Vhd);
    }
    Ok(Format::Raw)
}

/// Open the image file: detect its format and return the virtual disk. `backing` is used
/// only by an image that has a backing file (otherwise ignored); without it such an image
/// is [`DiskError::BackingFile`].
pub fn open(raw: Arc<FileReader>, backing: Option<DynReader>) -> Result<DynReader> {
    open_reader(raw, backing)
}

/// [`open`] for any reader (tests, nested images).
pub fn open_reader(raw: DynReader, backing: Option<DynReader>) -> Result<DynReader> {
    let format = detect(&raw)?;
    open_as(raw, format, backing)
}

/// Open `raw` as `format` (no detection).
pub fn open_as(raw: DynReader, format: Format, backing: Option<DynReader>) -> Result<DynReader> {
    match format {
        Format::Raw => Ok(raw),
        Format::Qcow2 => Ok(Arc::new(qcow2::Qcow2::open(raw, backing)?)),
        Format::Vhd => vhd::open(raw, backing),
    }
}

/// Describe an image without opening any backing file.
pub fn info(raw: &DynReader) -> Result<Info> {
    let format = detect(raw)?;
    let file_size = raw.size();
    let mut out = Info {
        format,
        file_size,
        virtual_size: Some(file_size),
        backing_file: None,
        details: "raw".into(),
    };
    match format {
        Format::Raw => {}
        Format::Qcow2 => {
            let h = qcow2::parse_header(raw)?;
            out.virtual_size = Some(h.size);
            out.details = format!(
                "qcow2 v{}, {}-byte clusters, {}{}",
                h.version,
                h.cluster_size(),
                match h.compression {
                    qcow2::Compression::Zlib => "zlib",
                    qcow2::Compression::Zstd => "zstd",
                },
                if h.extended_l2 { ", extended L2" } else { "" }
            );
            out.backing_file = h.backing_file;
        }
        Format::Vhd => {
            let f = vhd::find_footer(raw)?.ok_or(DiskError::Image {
                format: "VHD",
                what: "no footer".into(),
            })?;
            out.virtual_size = Some(f.virtual_size());
            out.details = format!("VHD {:?}", f.disk_type).to_lowercase();
            if f.disk_type == vhd::DiskType::Differencing {
                match vhd::open(raw.clone(), None) {
                    Err(DiskError::BackingFile { name, .. }) => out.backing_file = Some(name),
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
            }
        }
    }
    Ok(out)
}
