//! Read-only filesystems for rsgrub.
//!
//! One driver per on-disk format (`ext4/`, ...), each behind the [`Filesystem`] trait and listed
//! in the probe table [`DRIVERS`] — the shape of GRUB's `grub-core/fs/*.c`. Drivers see one
//! volume as a [`ReadAt`]; they never see partitions or images.
//!
//! Path resolution ([`path::resolve`]) is shared by all drivers: `..` is clamped at the root,
//! symlinks are followed at most [`path::MAX_SYMLINKS`] times.
#![forbid(unsafe_code)]

use rsgrub_io::DynReader;
pub use rsgrub_io::ReadAt;

pub mod btrfs;
pub mod error;
pub mod ext4;
pub mod fat;
pub mod iso9660;
pub mod path;
pub mod reiserfs;
pub mod ufs;
pub mod walk;
pub mod xfs;
pub mod zfs;

pub use error::{FsError, Result};

/// A driver's identifier for a file or directory (an inode number, a directory-record
/// offset, ...). Opaque to callers.
pub type NodeId = u64;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Device, fifo, socket, ...
    Other,
}

/// Metadata of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Kind of node.
    pub kind: FileType,
    /// Size in bytes (for symlinks: target length).
    pub size: u64,
    /// Unix permission bits and type, if the filesystem has them.
    pub mode: Option<u32>,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name bytes as stored (not `.` or `..`).
    pub name: Vec<u8>,
    /// Node the entry points to.
    pub node: NodeId,
    /// Type if the directory records it.
    pub kind: Option<FileType>,
}

/// A contiguous run of file bytes that maps to one byte range of the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// `len` bytes of the file starting at `file_offset` are at `volume_offset` in the volume.
    Mapped {
        /// Offset in the file.
        file_offset: u64,
        /// Offset in the volume.
        volume_offset: u64,
        /// Length in bytes.
        len: u64,
    },
    /// `len` bytes of zeros (sparse or unwritten).
    Hole {
        /// Offset in the file.
        file_offset: u64,
        /// Length in bytes.
        len: u64,
    },
}

/// Most pieces [`Filesystem::extents`] returns for one request; more is an error (the
/// caller then reads through `read_at`).
pub const MAX_EXTENTS: usize = 1 << 18;

/// Append `x` to an extent list, merging it into the last entry when they are contiguous
/// (in the file and, for mapped ones, on the volume); at most [`MAX_EXTENTS`] entries.
pub(crate) fn push_extent(out: &mut Vec<Extent>, x: Extent) -> Result<()> {
    if let Some(last) = out.last_mut() {
        let merged = match (&*last, x) {
            (
                Extent::Mapped {
                    file_offset: lf,
                    volume_offset: lv,
                    len: ll,
                },
                Extent::Mapped {
                    file_offset,
                    volume_offset,
                    len,
                },
            ) if lf.checked_add(*ll) == Some(file_offset)
                && lv.checked_add(*ll) == Some(volume_offset) =>
            {
                ll.checked_add(len).map(|len| Extent::Mapped {
                    file_offset: *lf,
                    volume_offset: *lv,
                    len,
                })
            }
            (
                Extent::Hole {
                    file_offset: lf,
                    len: ll,
                },
                Extent::Hole { file_offset, len },
            ) if lf.checked_add(*ll) == Some(file_offset) => {
                ll.checked_add(len).map(|len| Extent::Hole {
                    file_offset: *lf,
                    len,
                })
            }
            _ => None,
        };
        if let Some(m) = merged {
            *last = m;
            return Ok(());
        }
    }
    if out.len() >= MAX_EXTENTS {
        return Err(FsError::Limit(format!(
            "file is split into more than {MAX_EXTENTS} pieces"
        )));
    }
    out.push(x);
    Ok(())
}

/// Most entries [`Filesystem::read_dir`] returns; bigger directories are an error.
pub const MAX_DIR_ENTRIES: usize = 1_000_000;

/// The listing bound every driver's `read_dir` applies before adding an entry: an error naming
/// `what` (e.g. `directory inode 12`) once `len` entries have been collected.
pub(crate) fn dir_limit(len: usize, what: std::fmt::Arguments<'_>) -> Result<()> {
    if len >= MAX_DIR_ENTRIES {
        return Err(FsError::Limit(format!(
            "{what} has more than {MAX_DIR_ENTRIES} entries"
        )));
    }
    Ok(())
}

/// A read-only filesystem.
///
/// All methods take `&self`; drivers keep caches behind interior mutability. Every method must
/// terminate and bound its allocations for any input bytes.
pub trait Filesystem: Send + Sync {
    /// Driver name as users know it (`"ext4"`, `"fat"`, ...).
    fn name(&self) -> &'static str;
    /// The root directory.
    fn root(&self) -> NodeId;
    /// Metadata of a node.
    fn metadata(&self, node: NodeId) -> Result<Metadata>;
    /// Find `name` in directory `dir`. `Ok(None)` if absent. `.`/`..` are handled by
    /// [`path::resolve`] and never passed here.
    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        Ok(self
            .read_dir(dir)?
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| e.node))
    }
    /// All entries of a directory except `.` and `..`, at most [`MAX_DIR_ENTRIES`].
    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>>;
    /// Target of a symlink.
    fn read_link(&self, node: NodeId) -> Result<Vec<u8>>;
    /// Read file bytes at `offset` into `buf`; returns bytes read (0 at or past EOF).
    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// Map `[offset, offset+len)` of a file to volume extents, if the data is stored plainly.
    /// `Ok(None)` when it is not (compressed, inline, encrypted): callers then use `read_at`.
    fn extents(&self, _node: NodeId, _offset: u64, _len: u64) -> Result<Option<Vec<Extent>>> {
        Ok(None)
    }
    /// Filesystem UUID as GRUB prints it (`search --fs-uuid`).
    fn uuid(&self) -> Option<String>;
    /// Volume label.
    fn label(&self) -> Option<String>;
    /// Non-fatal problems seen while opening (e.g. "journal needs recovery").
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Root directory of the dataset (ZFS) called `name`, relative to the pool (`""` is the
    /// pool's root dataset, `ROOT/debian`, `ROOT/debian@snap`), for GRUB's
    /// `/ROOT/debian@/boot/vmlinuz` paths. `Ok(None)`: no such dataset, or a filesystem
    /// without datasets; [`path::resolve`] then reads the `@` as part of a name.
    fn dataset_root(&self, _name: &[u8]) -> Result<Option<NodeId>> {
        Ok(None)
    }
    /// What PyGrub's libfsimage reports as the boot string (ZFS:
    /// `zfs-bootfs=<pool>/<dataset object>,bootpath='<phys_path>'`, the dataset `/` is in),
    /// to substitute for a `zfs-bootfs=` argument or append as ` -B <string>`. (Xen 4.17's
    /// libfsimage prints object 0 when the first file it opened was `menu.lst`.)
    fn boot_string(&self) -> Option<String> {
        None
    }
}

/// A probe-table row: `probe` looks at a volume cheaply; `open` mounts it.
pub struct Driver {
    /// Name for messages.
    pub name: &'static str,
    /// `true` if the volume carries this filesystem's signature.
    pub probe: fn(&dyn ReadAt) -> bool,
    /// Open (validate superblock etc.).
    pub open: fn(DynReader) -> Result<Box<dyn Filesystem>>,
}

/// Every driver, in probe order. Signatures do not overlap (ext: 0xEF53 at 1080; ISO9660:
/// `CD001` at 32769; FAT: a BPB at 0; UFS: magic at 1372 past a superblock at 0, 8K, 64K or
/// 256K (with a plausible block size and fs_ipg, as GRUB checks); ReiserFS: magic at 65536+52;
/// btrfs: `_BHRfS_M` at 65536+64; XFS: `XFSB` at 0; ZFS: an XDR nvlist at 16K and uberblock
/// magic `0x00bab10c` in the ring at 128K, in label 0 or 1), so the order only matters for
/// hybrid images: ISO9660 before FAT.
pub static DRIVERS: &[Driver] = &[
    Driver {
        name: "ext2/3/4",
        probe: ext4::probe,
        open: ext4::open,
    },
    Driver {
        name: "iso9660",
        probe: iso9660::probe,
        open: iso9660::open,
    },
    Driver {
        name: "fat",
        probe: fat::probe,
        open: fat::open,
    },
    Driver {
        name: "ufs",
        probe: ufs::probe,
        open: ufs::open,
    },
    Driver {
        name: "reiserfs",
        probe: reiserfs::probe,
        open: reiserfs::open,
    },
    Driver {
        name: "btrfs",
        probe: btrfs::probe,
        open: btrfs::open,
    },
    Driver {
        name: "xfs",
        probe: xfs::probe,
        open: xfs::open,
    },
    Driver {
        name: "zfs",
        probe: zfs::probe,
        open: zfs::open,
    },
];

/// Identify and open the filesystem on a volume.
///
/// Returns [`FsError::Unrecognised`] when no driver's signature matches, or the first
/// matching driver's error when it is corrupt.
pub fn open(volume: DynReader) -> Result<Box<dyn Filesystem>> {
    for d in DRIVERS {
        if (d.probe)(&*volume) {
            return (d.open)(volume);
        }
    }
    Err(FsError::Unrecognised)
}
