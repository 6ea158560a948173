//! On-disk inodes (`xfs_dinode`): v1/v2 cores (100 bytes) and v3 (176 bytes, v5 only), with
//! the data fork's format and extent count (`nrext64` large counts from `di_big_nextents`).
//! Timestamps (including bigtime) are not needed by rsgrub and are not decoded.
use super::corrupt;
use super::sb::Superblock;
use crate::{FileType, Result};
use rsgrub_io::be;

const MAGIC: u16 = 0x494e; // "IN"
const DIFLAG_REALTIME: u16 = 1;
const DIFLAG2_NREXT64: u64 = 1 << 4;

/// Data fork formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Device,
    Local,
    Extents,
    Btree,
}

#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub format: Format,
    pub size: u64,
    pub nextents: u64,
    /// Data fork bytes (literal area up to the attribute fork).
    pub fork: Vec<u8>,
}

fn f<T>(v: Option<T>, ino: u64) -> Result<T> {
    v.ok_or_else(|| corrupt(format!("inode {ino} is truncated")))
}

impl Inode {
    pub(crate) fn parse(ino: u64, raw: &[u8], sb: &Superblock) -> Result<Self> {
        if f(be::u16(raw, 0), ino)? != MAGIC {
            return Err(corrupt(format!("inode {ino} has a bad magic")));
        }
        let mode = f(be::u16(raw, 2), ino)?;
        let version = *f(raw.get(4), ino)?;
        let core = match (version, sb.version) {
            (1 | 2, 4) => 100usize,
            (3, 5) => 176,
            _ => {
                return Err(corrupt(format!(
                    "inode {ino} version {version} on a v{} filesystem",
                    sb.version
                )))
            }
        };
        if version == 3 {
            let stored = f(be::u64(raw, 152), ino)?;
            if stored != ino {
                return Err(corrupt(format!("inode {ino} says it is inode {stored}")));
            }
        }
        let format = match *f(raw.get(5), ino)? {
            0 => Format::Device,
            1 => Format::Local,
            2 => Format::Extents,
            3 => Format::Btree,
            x => return Err(corrupt(format!("inode {ino} has data fork format {x}"))),
        };
        let size = f(be::u64(raw, 56), ino)?;
        if size > i64::MAX as u64 {
            return Err(corrupt(format!("inode {ino} size {size} is negative")));
        }
        if f(be::u16(raw, 90), ino)? & DIFLAG_REALTIME != 0 {
            return Err(crate::FsError::Unsupported {
                fs: super::FS,
                what: format!("inode {ino} is on the realtime device"),
            });
        }
        let flags2 = if version == 3 {
            f(be::u64(raw, 120), ino)?
        } else {
            0
        };
        let nextents = if flags2 & DIFLAG2_NREXT64 != 0 {
            f(be::u64(raw, 24), ino)?
        } else {
            u64::from(f(be::u32(raw, 76), ino)?)
        };
        let forkoff = usize::from(*f(raw.get(82), ino)?) * 8;
        let lit = raw.len().saturating_sub(core);
        let fork_len = if forkoff == 0 { lit } else { forkoff };
        if fork_len > lit {
            return Err(corrupt(format!(
                "inode {ino} attribute fork offset {forkoff} is past the inode"
            )));
        }
        let fork = f(raw.get(core..core + fork_len), ino)?.to_vec();
        let inode = Inode {
            ino,
            mode,
            format,
            size,
            nextents,
            fork,
        };
        let ok = match (inode.kind(), format) {
            (FileType::Other, _) => true,
            (_, Format::Device) => false,
            (FileType::Regular, Format::Local) => false,
            _ => true,
        };
        if !ok {
            return Err(corrupt(format!(
                "inode {ino} of mode {mode:#o} has data fork format {format:?}"
            )));
        }
        Ok(inode)
    }

    pub(crate) fn kind(&self) -> FileType {
        match self.mode & 0o170000 {
            0o040000 => FileType::Directory,
            0o100000 => FileType::Regular,
            0o120000 => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}
