//! The MOS side: object directory, DSL directories (a tree through `dd_child_dir_zapobj`),
//! datasets (`ds_bp` → the objset), snapshots (`ds_snapnames_zapobj`), pool properties.
use super::blkptr::BlkPtr;
use super::dnode::Dnode;
use super::{corrupt, unsupported, zap, Zfs};
use crate::Result;

/// Object number of the object directory in the MOS.
pub(crate) const OBJECT_DIRECTORY: u64 = 1;
/// Most components in a dataset name.
const MAX_NAME_DEPTH: usize = 64;
const OST_META: u64 = 1;
const OST_ZFS: u64 = 2;

/// Fields of `dsl_dir_phys_t` this driver uses.
pub(crate) struct DslDir {
    pub head_dataset: u64,
    pub child_dir_zap: u64,
}

impl DslDir {
    fn parse(dn: &Dnode, obj: u64) -> Result<DslDir> {
        let g = |o| {
            dn.bo
                .u64(&dn.bonus, o)
                .ok_or_else(|| corrupt(format!("DSL directory {obj} has a short bonus buffer")))
        };
        Ok(DslDir {
            head_dataset: g(8)?,
            child_dir_zap: g(32)?,
        })
    }
}

/// The meta dnode of an objset of type `want` read through `bp`.
pub(crate) fn objset_meta(z: &Zfs, bp: &BlkPtr, want: u64, what: &str) -> Result<Dnode> {
    if bp.is_hole() {
        return Err(corrupt(format!("{what} has no objset")));
    }
    let os = z.read_bp(bp)?;
    let ty = os
        .bo
        .u64(&os.data, 704)
        .ok_or_else(|| corrupt(format!("{what}: objset of {} bytes", os.data.len())))?;
    if ty != want {
        return Err(match (want, ty) {
            (OST_ZFS, 3) => unsupported(format!("{what} is a volume (zvol), not a filesystem")),
            _ => corrupt(format!("{what}: objset type {ty}, expected {want}")),
        });
    }
    let meta = os.data.get(..super::dnode::SLOT).unwrap_or_default();
    Dnode::parse(meta, os.bo, &|| format!("{what}: meta dnode"))
}

pub(crate) fn mos_meta(z: &Zfs, bp: &BlkPtr) -> Result<Dnode> {
    objset_meta(z, bp, OST_META, "MOS")
}

impl Zfs {
    pub(crate) fn mos_object(&self, obj: u64) -> Result<Dnode> {
        self.object(&self.mos, obj, &|| format!("MOS object {obj}"))
    }

    /// A u64 entry of the object directory.
    pub(crate) fn objdir_u64(&self, name: &str) -> Result<Option<u64>> {
        let d = self.mos_object(OBJECT_DIRECTORY)?;
        zap::lookup_u64(self, &d, name.as_bytes())
    }

    pub(crate) fn dsl_dir(&self, obj: u64) -> Result<DslDir> {
        DslDir::parse(&self.mos_object(obj)?, obj)
    }

    /// The dataset object named `name` relative to the pool (`""` is the root dataset,
    /// `ROOT/debian`, `ROOT/debian@snap`), or `None` if there is none.
    pub(crate) fn find_dataset(&self, name: &[u8]) -> Result<Option<u64>> {
        let (fs, snap) = match name.iter().position(|&c| c == b'@') {
            Some(i) => (
                name.get(..i).unwrap_or_default(),
                Some(name.get(i + 1..).unwrap_or_default()),
            ),
            None => (name, None),
        };
        let mut dir = self.root_dir;
        for (n, comp) in fs
            .split(|&c| c == b'/')
            .filter(|c| !c.is_empty())
            .enumerate()
        {
            if n >= MAX_NAME_DEPTH {
                return Err(crate::FsError::Limit(format!(
                    "dataset name with more than {MAX_NAME_DEPTH} components"
                )));
            }
            let dd = self.dsl_dir(dir)?;
            if dd.child_dir_zap == 0 {
                return Ok(None);
            }
            let z = self.mos_object(dd.child_dir_zap)?;
            match zap::lookup_u64(self, &z, comp)? {
                Some(d) => dir = d,
                None => return Ok(None),
            }
        }
        let head = self.dsl_dir(dir)?.head_dataset;
        if head == 0 {
            return Ok(None);
        }
        let Some(snap) = snap else {
            return Ok(Some(head));
        };
        if snap.is_empty() {
            return Ok(Some(head));
        }
        let ds = self.mos_object(head)?;
        let snaps = ds
            .bo
            .u64(&ds.bonus, 32)
            .ok_or_else(|| corrupt(format!("dataset {head} has a short bonus buffer")))?;
        if snaps == 0 {
            return Ok(None);
        }
        let z = self.mos_object(snaps)?;
        zap::lookup_u64(self, &z, snap)
    }

    /// The ZPL objset's meta dnode of dataset object `dsobj`.
    pub(crate) fn dataset_meta(&self, dsobj: u64) -> Result<Dnode> {
        let ds = self.mos_object(dsobj)?;
        let what = format!("dataset {dsobj}");
        let bp = BlkPtr::parse(&ds.bonus, 128, ds.bo)
            .map_err(|_| corrupt(format!("{what} has a short bonus buffer")))?;
        objset_meta(self, &bp, OST_ZFS, &what)
    }
}
