//! INODE_ITEM: size, mode, flags.
use super::corrupt;
use crate::{FileType, Result};
use rsgrub_io::le;

pub(crate) const INODE_ITEM: u8 = 1;

#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub size: u64,
    pub mode: u32,
}

impl Inode {
    pub(crate) fn parse(ino: u64, b: &[u8]) -> Result<Inode> {
        let bad = || corrupt(format!("inode {ino}: item of {} bytes is short", b.len()));
        Ok(Inode {
            size: le::u64(b, 16).ok_or_else(bad)?,
            mode: le::u32(b, 52).ok_or_else(bad)?,
        })
    }

    pub(crate) fn kind(&self) -> FileType {
        match self.mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}
