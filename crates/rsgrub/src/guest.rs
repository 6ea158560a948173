//! The guest as the config layer sees it: its volumes, each with a lazily opened filesystem,
//! and GRUB device names mapped onto them. Runs inside the sandboxed child.
use rsgrub_bootcfg::{FileSource, SearchKind};
use rsgrub_disk::{Disk, Scheme, Volume};
use rsgrub_fs::{path, FileType, Filesystem};
use rsgrub_io::DynReader;
use std::cell::OnceCell;

/// Most volumes considered (a hostile table cannot make us open thousands of filesystems).
pub const MAX_VOLUMES: usize = 128;

/// The guest's volumes and their filesystems.
pub struct Guest {
    /// Volumes in table order.
    pub volumes: Vec<Volume>,
    fs: Vec<OnceCell<Result<Box<dyn Filesystem>, String>>>,
    /// Problems with the disk that did not stop us.
    pub warnings: Vec<String>,
    /// Partition table kind (`Mbr`, `Gpt`, `None`).
    pub table: String,
    /// An ISO9660 image that also carries a partition table.
    pub hybrid_iso: bool,
    order: Vec<usize>,
    /// PyGrub's `zfs-bootfs=POOL/DATASET` from `--args`: ZFS volumes open with `/` there.
    pub zfs_bootfs: Option<String>,
}

impl Guest {
    /// Scan an image's partition table; with `offset`, one volume at that byte offset.
    pub fn open(image: DynReader, offset: Option<u64>) -> Result<Guest, String> {
        let disk = match offset {
            Some(off) => {
                let size = image.size().checked_sub(off).ok_or_else(|| {
                    format!(
                        "--offset={off} is past the end of the image ({} bytes)",
                        image.size()
                    )
                })?;
                let reader = rsgrub_disk::window(&image, off, size).map_err(|e| e.to_string())?;
                let mut d = rsgrub_disk::whole_disk(reader);
                if let Some(v) = d.volumes.first_mut() {
                    v.start = off;
                }
                d
            }
            None => rsgrub_disk::scan(image).map_err(|e| format!("partition table: {e}"))?,
        };
        Ok(Self::from_disk(disk))
    }

    fn from_disk(disk: Disk) -> Guest {
        let mut warnings = disk.warnings.clone();
        let table = format!("{:?}", disk.table);
        let hybrid_iso = disk.hybrid_iso;
        let order_all: Vec<String> = disk.boot_order().iter().map(|v| v.name.clone()).collect();
        let mut volumes = disk.volumes;
        if volumes.len() > MAX_VOLUMES {
            warnings.push(format!(
                "{} partitions; only the first {MAX_VOLUMES} are read",
                volumes.len()
            ));
            volumes.truncate(MAX_VOLUMES);
        }
        let order = order_all
            .iter()
            .filter_map(|n| volumes.iter().position(|v| &v.name == n))
            .collect();
        let fs = volumes.iter().map(|_| OnceCell::new()).collect();
        Guest {
            volumes,
            fs,
            warnings,
            table,
            hybrid_iso,
            order,
            zfs_bootfs: None,
        }
    }

    /// Volume indices in boot order (active partition first).
    pub fn boot_order(&self) -> &[usize] {
        &self.order
    }

    /// The filesystem on volume `i`, opened on first use.
    pub fn fs(&self, i: usize) -> Result<&dyn Filesystem, String> {
        let vol = self.volumes.get(i).ok_or("no such volume")?;
        let cell = self.fs.get(i).ok_or("no such volume")?;
        let r = cell.get_or_init(|| {
            let r = vol.reader.clone();
            match &self.zfs_bootfs {
                Some(b) if rsgrub_fs::zfs::probe(&*r) => rsgrub_fs::zfs::open_dataset(r, b),
                _ => rsgrub_fs::open(r),
            }
            .map_err(|e| e.to_string())
        });
        match r {
            Ok(fs) => Ok(fs.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Human name of volume `i` with its filesystem, for messages: `partition 2 (gpt2, ext2/3/4)`.
    pub fn describe(&self, i: usize) -> String {
        let Some(v) = self.volumes.get(i) else {
            return format!("volume {i}");
        };
        match self.fs.get(i).and_then(|c| c.get()) {
            Some(Ok(fs)) => format!("{} ({})", v.describe(), fs.name()),
            _ => v.describe(),
        }
    }

    /// The volume a GRUB device names: `hd0,msdos1`, `hd0,gpt2`, `hd0,1`, `hd0`
    /// (also with parentheses). Other disks (`hd1`) are not ours.
    pub fn volume_by_device(&self, dev: &str) -> Option<usize> {
        rsgrub_disk::find_device(&self.volumes, dev)
    }

    /// Whether `path` is a regular file (after symlinks) on volume `i`.
    pub fn is_file(&self, i: usize, p: &str) -> bool {
        let Ok(fs) = self.fs(i) else { return false };
        path::resolve(fs, p.as_bytes(), true)
            .and_then(|n| fs.metadata(n))
            .map(|m| m.kind == FileType::Regular)
            .unwrap_or(false)
    }
}

/// The [`FileSource`] the config parsers read through: device `None` = the config's volume.
pub struct GuestFiles<'a> {
    /// The guest.
    pub guest: &'a Guest,
    /// Volume the config was found on.
    pub home: usize,
}

impl GuestFiles<'_> {
    fn vol(&self, device: Option<&str>) -> Option<usize> {
        match device {
            None => Some(self.home),
            Some(d) => self.guest.volume_by_device(d),
        }
    }
}

impl FileSource for GuestFiles<'_> {
    /// At most `max` bytes from the start of the file (a prefix, as [`rsgrub_bootcfg::MapSource`]
    /// gives): parsers cap what they read, and `[ -s FILE ]` reads one byte.
    fn read_file(&mut self, device: Option<&str>, p: &str, max: usize) -> Option<Vec<u8>> {
        let fs = self.guest.fs(self.vol(device)?).ok()?;
        let node = path::resolve(fs, p.as_bytes(), true).ok()?;
        let meta = fs.metadata(node).ok()?;
        if meta.kind != FileType::Regular {
            return None;
        }
        let len = usize::try_from(meta.size).unwrap_or(usize::MAX).min(max);
        let mut out = vec![0u8; len];
        let mut done = 0usize;
        while done < len {
            let n = fs.read_at(node, done as u64, out.get_mut(done..)?).ok()?;
            if n == 0 {
                return None;
            }
            done = done.saturating_add(n);
        }
        Some(out)
    }

    fn exists(&mut self, device: Option<&str>, p: &str) -> bool {
        let Some(v) = self.vol(device) else {
            return false;
        };
        let Ok(fs) = self.guest.fs(v) else {
            return false;
        };
        path::resolve(fs, p.as_bytes(), true).is_ok()
    }

    fn is_dir(&mut self, device: Option<&str>, p: &str) -> bool {
        let Some(v) = self.vol(device) else {
            return false;
        };
        let Ok(fs) = self.guest.fs(v) else {
            return false;
        };
        path::resolve(fs, p.as_bytes(), true)
            .and_then(|n| fs.metadata(n))
            .map(|m| m.kind == FileType::Directory)
            .unwrap_or(false)
    }

    fn search(&mut self, kind: SearchKind, value: &str) -> Option<String> {
        if matches!(kind, SearchKind::PartUuid | SearchKind::PartLabel) {
            // Partitions, not filesystems: GRUB compares the table's fields (LVs have none).
            let v = self
                .guest
                .boot_order()
                .iter()
                .filter_map(|&i| self.guest.volumes.get(i));
            let mut v = v.filter(|v| matches!(v.scheme, Scheme::Gpt | Scheme::Msdos));
            let hit = match kind {
                SearchKind::PartUuid => v.find(|v| {
                    v.part_uuid
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(value.trim()))
                }),
                _ => v.find(|v| v.part_label.as_deref() == Some(value)),
            };
            return hit.map(Volume::grub_device);
        }
        for &i in self.guest.boot_order() {
            let Ok(fs) = self.guest.fs(i) else { continue };
            let hit = match kind {
                SearchKind::FsUuid => fs
                    .uuid()
                    .is_some_and(|u| u.eq_ignore_ascii_case(value.trim())),
                SearchKind::Label => fs.label().is_some_and(|l| l == value),
                SearchKind::File => path::resolve(fs, value.as_bytes(), true).is_ok(),
                SearchKind::PartUuid | SearchKind::PartLabel => false,
            };
            if hit {
                return self.guest.volumes.get(i).map(Volume::grub_device);
            }
        }
        None
    }

    fn list_dir(&mut self, device: Option<&str>, p: &str) -> Option<Vec<String>> {
        let fs = self.guest.fs(self.vol(device)?).ok()?;
        let node = path::resolve(fs, p.as_bytes(), true).ok()?;
        let mut names: Vec<String> = fs
            .read_dir(node)
            .ok()?
            .into_iter()
            .take(10_000)
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        names.sort();
        Some(names)
    }
}

/// A guest file as a [`rsgrub_io::ReadAt`] (for kernel checks without extracting it).
pub struct GuestFile<'a> {
    fs: &'a dyn rsgrub_fs::Filesystem,
    node: rsgrub_fs::NodeId,
    size: u64,
}

impl<'a> GuestFile<'a> {
    /// Open `p` on volume `v` of the guest.
    pub fn open(guest: &'a Guest, v: usize, p: &str) -> Option<GuestFile<'a>> {
        let fs = guest.fs(v).ok()?;
        let node = path::resolve(fs, p.as_bytes(), true).ok()?;
        let meta = fs.metadata(node).ok()?;
        (meta.kind == FileType::Regular).then_some(GuestFile {
            fs,
            node,
            size: meta.size,
        })
    }
}

impl rsgrub_io::ReadAt for GuestFile<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        rsgrub_io::check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let dst = buf.get_mut(done..).unwrap_or_default();
            let n = self
                .fs
                .read_at(self.node, offset.saturating_add(done as u64), dst)
                .map_err(std::io::Error::other)?;
            if n == 0 {
                return Err(rsgrub_io::out_of_range(offset, buf.len(), self.size));
            }
            done = done.saturating_add(n);
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.size
    }
}
