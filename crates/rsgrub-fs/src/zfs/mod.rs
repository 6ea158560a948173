//! ZFS, read-only, one device of a pool (a single-disk pool, or one side of a mirror).
//!
//! `label` (four vdev labels, config nvlist, uberblock ring), `nvlist` (XDR), `blkptr`,
//! `checksum` (fletcher2/4, SHA-256, SHA-512/256, label checksums), `compress` (lzjb, zle,
//! gzip, lz4, zstd), `dnode`, `zap` (micro and fat), `dsl` (object directory, DSL
//! directories and datasets), `sa` (znode_phys and System Attributes); this file reads
//! blocks (every DVA copy in turn, checksum verified, bounded caches) and ties them into a
//! [`Filesystem`].
//!
//! `/` is the root directory of the pool's `bootfs` dataset if that property is set, else of
//! the pool's root dataset ([`open_dataset`] picks another, as PyGrub's `zfs-bootfs=` does).
//! GRUB's `/ROOT/debian@/boot/vmlinuz` paths reach other datasets (`/@/...` the root
//! dataset) through [`Filesystem::dataset_root`]; PyGrub reads `menu.lst` from the root
//! dataset whatever `bootfs` is ([`pygrub_top_dataset_file`] says which paths). A [`NodeId`]
//! is `dataset slot << 48 | object number`.
//!
//! Gang blocks are reassembled (header checksum verified, at most 4 deep). Refused, by name:
//! raidz/draid vdevs, blocks on other top-level vdevs,
//! skein/edonr/blake3 checksums, and any `features_for_read` entry not in
//! [`SUPPORTED_FEATURES`]. [`Filesystem::extents`] maps uncompressed blocks (their checksums
//! are then not verified, as btrfs data checksums are not).
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::DynReader;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

mod blkptr;
mod checksum;
mod compress;
mod dnode;
mod dsl;
mod label;
mod nvlist;
mod sa;
mod zap;

use blkptr::BlkPtr;
use dnode::Dnode;

pub(crate) const FS: &str = "zfs";

/// Read-only features (`features_for_read`) this driver understands.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "com.delphix:hole_birth",
    "com.delphix:extensible_dataset",
    "com.delphix:embedded_data",
    "com.delphix:bookmark_v2",
    "org.open-zfs:large_blocks",
    "org.illumos:lz4_compress",
    "org.illumos:sha512",
    "org.zfsonlinux:large_dnode",
    "org.freebsd:zstd_compress",
];

/// Bytes before the first allocatable sector: labels 0 and 1 and the boot area.
const LABEL_START: u64 = 4 << 20;
const INO_BITS: u32 = 48;
const MAX_DATASETS: usize = 1 << 16;
/// Gang headers are 512 bytes; gang trees deeper than this are refused.
const GANG_HEADER: usize = 512;
const MAX_GANG_DEPTH: u32 = 4;
/// Uberblocks tried (best first) before giving up on the MOS.
const MAX_UB_TRIES: usize = 16;
/// Bytes of decoded metadata blocks kept.
const CACHE_BYTES: usize = 32 << 20;
/// Most pieces [`Filesystem::extents`] returns, and blocks it visits.
const MAX_MAP_STEPS: u64 = 1 << 22;
/// Most bytes of a symlink or master-node ZPL version we accept.
const ZPL_MAX_VERSION: u64 = 5;

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

pub(crate) fn unsupported(what: impl Into<String>) -> FsError {
    FsError::Unsupported {
        fs: FS,
        what: what.into(),
    }
}

/// Byte order of a structure (the pool may have been written on either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bo {
    Le,
    Be,
}

impl Bo {
    pub(crate) fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        match self {
            Bo::Le => rsgrub_io::le::u16(b, off),
            Bo::Be => rsgrub_io::be::u16(b, off),
        }
    }
    pub(crate) fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        match self {
            Bo::Le => rsgrub_io::le::u32(b, off),
            Bo::Be => rsgrub_io::be::u32(b, off),
        }
    }
    pub(crate) fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        match self {
            Bo::Le => rsgrub_io::le::u64(b, off),
            Bo::Be => rsgrub_io::be::u64(b, off),
        }
    }
    pub(crate) fn bytes(self, v: u64) -> [u8; 8] {
        match self {
            Bo::Le => v.to_le_bytes(),
            Bo::Be => v.to_be_bytes(),
        }
    }
}

/// A decoded (verified, decompressed) block.
#[derive(Debug)]
pub(crate) struct Block {
    pub data: Vec<u8>,
    pub bo: Bo,
}

/// Blocks of an object by block number (`None` for a hole).
pub(crate) trait Blocks {
    fn block(&self, dn: &Dnode, blkid: u64) -> Result<Option<Arc<Block>>>;
}

/// `true` if the volume carries a ZFS label (XDR nvlist and uberblock magic).
pub fn probe(dev: &dyn ReadAt) -> bool {
    label::probe(dev)
}

/// Open a ZFS pool device; `/` is the `bootfs` dataset, else the root dataset.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Zfs::open(dev, None)?))
}

/// Open with `/` in dataset `bootfs`, as PyGrub's `zfs-bootfs=<pool>/<dataset>` option does:
/// the first component (the pool name) is skipped unchecked, the rest names a dataset
/// (`pool/ROOT/debian`, `pool/ROOT/debian@snap`; just `pool` is the root dataset). An empty
/// string, or a dataset that does not exist, falls back to [`open`]'s choice (with a warning),
/// as libfsimage does.
pub fn open_dataset(dev: DynReader, bootfs: &str) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Zfs::open(dev, Some(bootfs.as_bytes()))?))
}

/// libfsimage's `is_top_dataset_file`: PyGrub reads these paths from the pool's root dataset,
/// whatever `bootfs` or `zfs-bootfs=` says — any path whose first `menu.lst` follows a `/` and
/// ends the path (or a space), anything under `/boot/grub/bootsign/`, and `/etc/bootsign`.
/// To read such a path as PyGrub does, resolve `/@` followed by it.
pub fn pygrub_top_dataset_file(path: &[u8]) -> bool {
    const NAME: &[u8] = b"menu.lst";
    if let Some(i) = path.windows(NAME.len()).position(|w| w == NAME) {
        let after = path.get(i + NAME.len()).copied();
        if matches!(after, None | Some(b' ')) && i > 0 && path.get(i - 1) == Some(&b'/') {
            return true;
        }
    }
    path.starts_with(b"/boot/grub/bootsign/") || path == b"/etc/bootsign"
}

/// The fuzzing layout of a ZFS image: the first 512 KiB of `data` are labels 0 and 1, the
/// rest is placed at 4 MiB, where allocations begin, so seeds need not carry the empty
/// 3.5 MiB boot area. Used by the `fs_zfs` fuzz target and the corpus replay test.
#[doc(hidden)]
pub fn fuzz_image(data: &[u8]) -> Vec<u8> {
    let head = data.len().min(512 << 10);
    let tail = data.get(head..).unwrap_or_default();
    let mut v = vec![0u8; (4 << 20) + tail.len()];
    if let (Some(d), Some(s)) = (v.get_mut(..head), data.get(..head)) {
        d.copy_from_slice(s);
    }
    if let Some(d) = v.get_mut(4 << 20..) {
        d.copy_from_slice(tail);
    }
    v
}

struct Dataset {
    dsobj: u64,
    meta: Dnode,
    root_obj: u64,
    sa: Option<sa::SaTable>,
}

type CacheKey = (u64, u64, u64, u64);

#[derive(Default)]
struct Cache {
    map: HashMap<CacheKey, Arc<Block>>,
    order: VecDeque<CacheKey>,
    bytes: usize,
}

impl Cache {
    fn get(&self, k: &CacheKey) -> Option<Arc<Block>> {
        self.map.get(k).cloned()
    }
    fn put(&mut self, k: CacheKey, b: Arc<Block>) {
        let n = b.data.len();
        if n > CACHE_BYTES / 8 || self.map.contains_key(&k) {
            return;
        }
        while self.bytes + n > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(x) = self.map.remove(&old) {
                self.bytes -= x.data.len();
            }
        }
        self.bytes += n;
        self.order.push_back(k);
        self.map.insert(k, b);
    }
}

/// What a file's bonus buffer says.
struct Attrs {
    mode: u64,
    size: u64,
}

pub(crate) struct Zfs {
    dev: DynReader,
    cfg: label::Config,
    mos: Dnode,
    /// DSL directory of the pool's root dataset.
    root_dir: u64,
    datasets: Mutex<Vec<Arc<Dataset>>>,
    cache: Mutex<Cache>,
    last_data: Mutex<Option<(CacheKey, Arc<Block>)>>,
    warnings: Vec<String>,
}

impl Blocks for Zfs {
    fn block(&self, dn: &Dnode, blkid: u64) -> Result<Option<Arc<Block>>> {
        match self.locate(dn, blkid)? {
            None => Ok(None),
            Some(bp) => self.cached(&bp).map(Some),
        }
    }
}

impl Zfs {
    fn open(dev: DynReader, bootfs: Option<&[u8]>) -> Result<Zfs> {
        let (cfg, ubs, mut warnings) = label::read(&*dev)?;
        if cfg.version > 28 && cfg.version != 5000 {
            return Err(unsupported(format!("pool version {}", cfg.version)));
        }
        if cfg.vdev_children > 1 {
            warnings.push(format!(
                "pool has {} top-level vdevs; blocks on the others cannot be read",
                cfg.vdev_children
            ));
        }
        let mut z = Zfs {
            dev,
            cfg,
            mos: Dnode::parse(&[0u8; dnode::SLOT], Bo::Le, &|| String::new())?,
            root_dir: 0,
            datasets: Mutex::new(Vec::new()),
            cache: Mutex::new(Cache::default()),
            last_data: Mutex::new(None),
            warnings: Vec::new(),
        };
        let mut last = None;
        let mut found = None;
        for ub in ubs.iter().take(MAX_UB_TRIES) {
            match dsl::mos_meta(&z, &ub.rootbp) {
                Ok(m) => {
                    found = Some(m);
                    break;
                }
                Err(e) => {
                    warnings.push(format!("uberblock txg {}: {e}", ub.txg));
                    last = Some(e);
                }
            }
        }
        z.mos = match (found, last) {
            (Some(m), _) => m,
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(corrupt("no uberblock")),
        };
        z.check_features()?;
        z.root_dir = z
            .objdir_u64("root_dataset")?
            .ok_or_else(|| corrupt("object directory has no root_dataset"))?;
        let top_ds = z.dsl_dir(z.root_dir)?.head_dataset;
        let default = match z.bootfs_prop() {
            Ok(Some(ds)) => ds,
            Ok(None) => top_ds,
            Err(e) => {
                warnings.push(format!("pool property bootfs: {e}"));
                top_ds
            }
        };
        let mut named = false;
        let chosen = match bootfs.filter(|b| !b.is_empty()) {
            Some(name) => {
                let rel = match name.iter().position(|&c| c == b'/') {
                    Some(i) => name.get(i + 1..).unwrap_or_default(),
                    None => &[],
                };
                match z.find_dataset(rel)? {
                    Some(ds) => {
                        named = true;
                        ds
                    }
                    None => {
                        // As libfsimage: an unknown dataset falls back to `bootfs`.
                        warnings.push(format!(
                            "zfs-bootfs dataset {} not found; using the pool's bootfs",
                            String::from_utf8_lossy(name)
                        ));
                        default
                    }
                }
            }
            None => default,
        };
        if let Err(e) = z.register(chosen) {
            if named || chosen == top_ds {
                return Err(e);
            }
            // A broken `bootfs` property: fall back to the root dataset.
            warnings.push(format!("bootfs dataset {chosen}: {e}"));
        }
        z.register(top_ds)?;
        let root = z.root();
        if z.attrs_of(root)?.1 != FileType::Directory {
            return Err(corrupt("root directory is not a directory"));
        }
        z.warnings = warnings;
        Ok(z)
    }

    /// `bootfs` from the pool properties, if set.
    fn bootfs_prop(&self) -> Result<Option<u64>> {
        let Some(props) = self.objdir_u64("pool_props")? else {
            return Ok(None);
        };
        let d = self.mos_object(props)?;
        Ok(zap::lookup_u64(self, &d, b"bootfs")?.filter(|&v| v != 0))
    }

    /// Refuse any active read feature we do not implement, naming it.
    fn check_features(&self) -> Result<()> {
        let mut active: Vec<String> = self.cfg.features.clone();
        if let Some(obj) = self.objdir_u64("features_for_read")? {
            let d = self.mos_object(obj)?;
            let mut n = 0usize;
            zap::for_each(self, &d, &mut |e| {
                n += 1;
                if n > 4096 {
                    return Err(corrupt("features_for_read has too many entries"));
                }
                if e.first().unwrap_or(0) != 0 {
                    active.push(String::from_utf8_lossy(&e.name).into_owned());
                }
                Ok(false)
            })?;
        }
        let mut bad: Vec<String> = active
            .into_iter()
            .filter(|f| !SUPPORTED_FEATURES.contains(&f.as_str()))
            .collect();
        bad.sort();
        bad.dedup();
        if !bad.is_empty() {
            return Err(unsupported(format!("pool features {}", bad.join(", "))));
        }
        Ok(())
    }

    /// Slot of dataset `dsobj`, loading it if new.
    fn register(&self, dsobj: u64) -> Result<u64> {
        {
            let t = self.lock_ds()?;
            if let Some(i) = t.iter().position(|d| d.dsobj == dsobj) {
                return Ok(i as u64);
            }
            if t.len() >= MAX_DATASETS {
                return Err(FsError::Limit(format!("more than {MAX_DATASETS} datasets")));
            }
        }
        let ds = self.load_dataset(dsobj)?;
        let mut t = self.lock_ds()?;
        if let Some(i) = t.iter().position(|d| d.dsobj == dsobj) {
            return Ok(i as u64);
        }
        t.push(Arc::new(ds));
        Ok((t.len() - 1) as u64)
    }

    fn lock_ds(&self) -> Result<std::sync::MutexGuard<'_, Vec<Arc<Dataset>>>> {
        self.datasets
            .lock()
            .map_err(|_| corrupt("dataset table poisoned"))
    }

    fn load_dataset(&self, dsobj: u64) -> Result<Dataset> {
        let meta = self.dataset_meta(dsobj)?;
        let what = || format!("dataset {dsobj} master node");
        let master = self.object(&meta, 1, &what)?;
        if let Some(v) = zap::lookup_u64(self, &master, b"VERSION")? {
            if v > ZPL_MAX_VERSION {
                return Err(unsupported(format!("ZPL version {v}")));
            }
        }
        let root_obj = zap::lookup_u64(self, &master, b"ROOT")?
            .ok_or_else(|| corrupt(format!("{} has no ROOT", what())))?;
        let sa = match zap::lookup_u64(self, &master, b"SA_ATTRS")? {
            None => None,
            Some(o) => {
                let sam = self.object(&meta, o, &|| format!("dataset {dsobj} SA master"))?;
                let reg = zap::lookup_u64(self, &sam, b"REGISTRY")?
                    .ok_or_else(|| corrupt("SA master node has no REGISTRY"))?;
                let lay = zap::lookup_u64(self, &sam, b"LAYOUTS")?
                    .ok_or_else(|| corrupt("SA master node has no LAYOUTS"))?;
                let reg = self.object(&meta, reg, &|| "SA registry".into())?;
                let lay = self.object(&meta, lay, &|| "SA layouts".into())?;
                Some(sa::SaTable::load(self, &reg, &lay)?)
            }
        };
        Ok(Dataset {
            dsobj,
            meta,
            root_obj,
            sa,
        })
    }

    fn slot(&self, slot: u64) -> Result<Arc<Dataset>> {
        let t = self.lock_ds()?;
        usize::try_from(slot)
            .ok()
            .and_then(|i| t.get(i))
            .cloned()
            .ok_or_else(|| corrupt(format!("no dataset slot {slot}")))
    }

    fn make_id(slot: u64, obj: u64) -> Result<NodeId> {
        if obj >> INO_BITS != 0 || obj == 0 {
            return Err(corrupt(format!("object number {obj}")));
        }
        Ok(slot << INO_BITS | obj)
    }

    fn split(&self, node: NodeId) -> Result<(u64, Arc<Dataset>, u64)> {
        let slot = node >> INO_BITS;
        Ok((slot, self.slot(slot)?, node & ((1 << INO_BITS) - 1)))
    }

    /// Object `obj` of the objset whose meta dnode is `meta`.
    fn object(&self, meta: &Dnode, obj: u64, what: &dyn Fn() -> String) -> Result<Dnode> {
        let per = meta.datablksz / dnode::SLOT as u64;
        if per == 0 {
            return Err(corrupt(format!(
                "{}: dnode block of {} bytes",
                what(),
                meta.datablksz
            )));
        }
        let blk = self
            .block(meta, obj / per)?
            .ok_or_else(|| corrupt(format!("{}: object {obj} is not allocated", what())))?;
        let off = usize::try_from(obj % per).map_err(|_| corrupt("dnode index"))? * dnode::SLOT;
        let slots = 1 + dnode::extra_slots(&blk.data, off);
        if slots > dnode::MAX_SLOTS {
            return Err(corrupt(format!("{}: dnode of {slots} slots", what())));
        }
        let b = blk
            .data
            .get(off..off + slots * dnode::SLOT)
            .ok_or_else(|| corrupt(format!("{}: dnode past its block", what())))?;
        let dn = Dnode::parse(b, blk.bo, what)?;
        if dn.ty == dnode::OT_NONE {
            return Err(corrupt(format!("{}: object {obj} is free", what())));
        }
        Ok(dn)
    }

    /// The level-0 block pointer of block `blkid` of `dn` (`None`: a hole).
    fn locate(&self, dn: &Dnode, blkid: u64) -> Result<Option<BlkPtr>> {
        if dn.ty == dnode::OT_NONE {
            return Err(corrupt("read of a free object"));
        }
        if blkid > dn.maxblkid {
            return Ok(None);
        }
        let levels = u32::from(dn.nlevels);
        let epbs = if levels > 1 {
            u32::from(dn.indblkshift) - 7
        } else {
            0
        };
        let shift_of = |level: u32| epbs.saturating_mul(level);
        let top = blkid.checked_shr(shift_of(levels - 1)).unwrap_or(0);
        let mut bp = usize::try_from(top)
            .ok()
            .and_then(|i| dn.bps.get(i))
            .cloned()
            .ok_or_else(|| corrupt(format!("block {blkid} is beyond the dnode's pointers")))?;
        for level in (1..levels).rev() {
            if bp.is_hole() {
                return Ok(None);
            }
            if bp.embedded || u32::from(bp.level) != level {
                return Err(corrupt(format!(
                    "indirect block pointer at level {level} says level {}",
                    bp.level
                )));
            }
            let b = self.cached(&bp)?;
            let i = blkid.checked_shr(shift_of(level - 1)).unwrap_or(0) & ((1u64 << epbs) - 1);
            let off = usize::try_from(i).map_err(|_| corrupt("indirect index"))? * blkptr::LEN;
            bp = BlkPtr::parse(&b.data, off, b.bo)?;
        }
        if bp.is_hole() {
            return Ok(None);
        }
        if bp.level != 0 {
            return Err(corrupt(format!(
                "data block pointer says level {}",
                bp.level
            )));
        }
        Ok(Some(bp))
    }

    /// A metadata block through the cache.
    fn cached(&self, bp: &BlkPtr) -> Result<Arc<Block>> {
        if bp.embedded {
            return Ok(Arc::new(self.read_bp(bp)?));
        }
        let k = bp.key();
        if let Some(b) = self.cache.lock().ok().and_then(|c| c.get(&k)) {
            return Ok(b);
        }
        let b = Arc::new(self.read_bp(bp)?);
        if let Ok(mut c) = self.cache.lock() {
            c.put(k, b.clone());
        }
        Ok(b)
    }

    /// A file data block: the last one read is kept.
    fn data_block(&self, bp: &BlkPtr) -> Result<Arc<Block>> {
        let k = bp.key();
        if !bp.embedded {
            if let Ok(c) = self.last_data.lock() {
                if let Some((lk, b)) = &*c {
                    if *lk == k {
                        return Ok(b.clone());
                    }
                }
            }
        }
        let b = Arc::new(self.read_bp(bp)?);
        if !bp.embedded {
            if let Ok(mut c) = self.last_data.lock() {
                *c = Some((k, b.clone()));
            }
        }
        Ok(b)
    }

    fn verify(bp: &BlkPtr, data: &[u8]) -> Result<()> {
        use checksum as c;
        let actual = match bp.checksum {
            c::OFF | c::NOPARITY => return Ok(()),
            c::FLETCHER_2 => c::fletcher2(data, bp.bo),
            c::FLETCHER_4 => c::fletcher4(data, bp.bo),
            c::SHA256 => c::sha256(data),
            c::SHA512 => c::sha512_256(data),
            12..=14 => {
                return Err(unsupported(format!(
                    "checksum {} ({})",
                    c::name(bp.checksum),
                    bp.checksum
                )))
            }
            x => {
                return Err(corrupt(format!(
                    "block pointer with checksum type {} ({x})",
                    c::name(x)
                )))
            }
        };
        if actual != bp.cksum && !c::FUZZING {
            return Err(corrupt(format!(
                "{} checksum mismatch",
                c::name(bp.checksum)
            )));
        }
        Ok(())
    }

    /// Read, verify and decompress the block `bp` points to, trying each DVA in turn.
    pub(crate) fn read_bp(&self, bp: &BlkPtr) -> Result<Block> {
        if bp.lsize > blkptr::MAX_BLOCK || bp.psize > blkptr::MAX_BLOCK {
            return Err(corrupt(format!(
                "block of {} logical / {} physical bytes (at most {})",
                bp.lsize,
                bp.psize,
                blkptr::MAX_BLOCK
            )));
        }
        let lsize = usize::try_from(bp.lsize).map_err(|_| corrupt("lsize"))?;
        if bp.embedded {
            if bp.etype != 0 {
                return Err(unsupported(format!(
                    "embedded block pointer type {}",
                    bp.etype
                )));
            }
            let data = compress::decompress(bp.compress, &bp.payload, lsize)?;
            return Ok(Block { data, bo: bp.bo });
        }
        if bp.is_hole() {
            return Ok(Block {
                data: vec![0u8; lsize],
                bo: bp.bo,
            });
        }
        let raw = self.read_raw(bp, 0)?;
        let data = compress::decompress(bp.compress, &raw, lsize)?;
        Ok(Block { data, bo: bp.bo })
    }

    /// The verified physical bytes of `bp` (`psize` of them), from the first DVA that reads.
    fn read_raw(&self, bp: &BlkPtr, depth: u32) -> Result<Vec<u8>> {
        let mut last: Option<FsError> = None;
        for dva in bp.dva.iter().filter(|d| !d.empty) {
            let raw = match self.read_dva(bp, dva, depth) {
                Ok(r) => r,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match Self::verify(bp, &raw) {
                Ok(()) => return Ok(raw),
                Err(FsError::Corrupt { what, .. }) => {
                    last = Some(corrupt(format!(
                        "block at DVA {}:{:#x}: {what}",
                        dva.vdev, dva.offset
                    )))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| corrupt("block pointer has no DVA")))
    }

    /// The `psize` bytes one DVA holds (a gang DVA: its children's bytes, concatenated).
    fn read_dva(&self, bp: &BlkPtr, dva: &blkptr::Dva, depth: u32) -> Result<Vec<u8>> {
        let psize = usize::try_from(bp.psize).map_err(|_| corrupt("psize"))?;
        if dva.vdev != self.cfg.top_id {
            return Err(unsupported(format!(
                "block on top-level vdev {} (this device is vdev {})",
                dva.vdev, self.cfg.top_id
            )));
        }
        let phys = dva
            .offset
            .checked_add(LABEL_START)
            .ok_or_else(|| corrupt(format!("DVA offset {:#x}", dva.offset)))?;
        if !dva.gang {
            let mut raw = vec![0u8; psize];
            self.dev
                .read_at(phys, &mut raw)
                .map_err(|e| corrupt(format!("block at {phys:#x}+{psize}: {e}")))?;
            return Ok(raw);
        }
        if depth >= MAX_GANG_DEPTH {
            return Err(corrupt(format!(
                "gang blocks nested deeper than {MAX_GANG_DEPTH}"
            )));
        }
        let mut hdr = vec![0u8; GANG_HEADER];
        self.dev
            .read_at(phys, &mut hdr)
            .map_err(|e| corrupt(format!("gang header at {phys:#x}: {e}")))?;
        let id = bp.dva[0];
        let bo = checksum::verify_embedded(&hdr, [id.vdev, id.offset, bp.phys_birth, 0])
            .ok_or_else(|| corrupt(format!("gang header at {phys:#x}: checksum mismatch")))?;
        let mut children = Vec::new();
        let mut total = 0u64;
        for i in 0..3 {
            let child = BlkPtr::parse(&hdr, i * blkptr::LEN, bo)?;
            if child.is_hole() {
                continue;
            }
            total = total.saturating_add(child.psize);
            // Members split the parent's bytes: together no larger than it.
            if child.embedded || total > bp.psize {
                return Err(corrupt(format!("gang member {i} at {phys:#x}")));
            }
            children.push(child);
        }
        let mut out = Vec::with_capacity(psize);
        for child in &children {
            out.extend_from_slice(&self.read_raw(child, depth + 1)?);
        }
        if out.len() < psize {
            return Err(corrupt(format!(
                "gang block at {phys:#x} holds {} of {psize} bytes",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Mode, kind and size of object `obj` of `ds` with dnode `dn`.
    fn attrs(&self, ds: &Dataset, obj: u64, dn: &Dnode) -> Result<Attrs> {
        match dn.bonustype {
            dnode::OT_ZNODE => {
                let g = |o| {
                    dn.bo
                        .u64(&dn.bonus, o)
                        .ok_or_else(|| corrupt(format!("object {obj}: znode bonus is short")))
                };
                Ok(Attrs {
                    mode: g(sa::ZNODE_MODE)?,
                    size: g(sa::ZNODE_SIZE)?,
                })
            }
            dnode::OT_SA => {
                let t = ds
                    .sa
                    .as_ref()
                    .ok_or_else(|| corrupt(format!("object {obj}: SA bonus without SA_ATTRS")))?;
                let (Some(mode_id), Some(size_id)) = (t.mode, t.size) else {
                    return Err(corrupt("SA registry lacks ZPL_MODE or ZPL_SIZE"));
                };
                let mode = self.sa_u64(t, obj, dn, mode_id)?;
                let size = self.sa_u64(t, obj, dn, size_id)?;
                Ok(Attrs { mode, size })
            }
            t => Err(corrupt(format!(
                "object {obj} has bonus type {t}, not a file"
            ))),
        }
    }

    /// SA attribute `id` of a dnode: in the bonus buffer, else in the spill block.
    fn sa_bytes(&self, t: &sa::SaTable, obj: u64, dn: &Dnode, id: u16) -> Result<Vec<u8>> {
        if !dn.bonus.is_empty() {
            if let Some((b, _)) = t.find(&dn.bonus, id)? {
                return Ok(b.to_vec());
            }
        }
        if let Some(sp) = &dn.spill {
            if !sp.is_hole() {
                let blk = self.cached(sp)?;
                if let Some((b, _)) = t.find(&blk.data, id)? {
                    return Ok(b.to_vec());
                }
            }
        }
        Err(corrupt(format!("object {obj} lacks SA attribute {id}")))
    }

    fn sa_u64(&self, t: &sa::SaTable, obj: u64, dn: &Dnode, id: u16) -> Result<u64> {
        // Byte order: the buffer's own; find() reports it, re-read to get it.
        if !dn.bonus.is_empty() {
            if let Some((b, bo)) = t.find(&dn.bonus, id)? {
                return bo.u64(b, 0).ok_or_else(|| corrupt("SA attribute is short"));
            }
        }
        if let Some(sp) = &dn.spill {
            if !sp.is_hole() {
                let blk = self.cached(sp)?;
                if let Some((b, bo)) = t.find(&blk.data, id)? {
                    return bo.u64(b, 0).ok_or_else(|| corrupt("SA attribute is short"));
                }
            }
        }
        Err(corrupt(format!("object {obj} lacks SA attribute {id}")))
    }

    fn node(&self, node: NodeId) -> Result<(u64, Arc<Dataset>, u64, Dnode)> {
        let (slot, ds, obj) = self.split(node)?;
        let dn = self.object(&ds.meta, obj, &|| {
            format!("dataset {} object {obj}", ds.dsobj)
        })?;
        Ok((slot, ds, obj, dn))
    }

    fn attrs_of(&self, node: NodeId) -> Result<(Attrs, FileType)> {
        let (_, ds, obj, dn) = self.node(node)?;
        let a = self.attrs(&ds, obj, &dn)?;
        let k = kind(a.mode);
        Ok((a, k))
    }

    fn read_data(&self, dn: &Dnode, size: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = usize::try_from(size - offset).map_or(buf.len(), |a| a.min(buf.len()));
        let bs = dn.datablksz;
        let mut done = 0usize;
        while done < n {
            let pos = offset + done as u64;
            let blkid = pos / bs;
            let within = usize::try_from(pos % bs).map_err(|_| corrupt("offset"))?;
            let take = (n - done).min(usize::try_from(bs).unwrap_or(usize::MAX) - within);
            let dst = buf
                .get_mut(done..done + take)
                .ok_or_else(|| corrupt("read range"))?;
            match self.locate(dn, blkid)? {
                None => dst.fill(0),
                Some(bp) => {
                    let b = self.data_block(&bp)?;
                    let src = b.data.get(within..).unwrap_or_default();
                    let k = src.len().min(take);
                    if let (Some(d), Some(s)) = (dst.get_mut(..k), src.get(..k)) {
                        d.copy_from_slice(s);
                    }
                    if let Some(rest) = dst.get_mut(k..) {
                        rest.fill(0);
                    }
                }
            }
            done += take;
        }
        Ok(n)
    }
}

fn kind(mode: u64) -> FileType {
    match mode & 0o170000 {
        0o040000 => FileType::Directory,
        0o100000 => FileType::Regular,
        0o120000 => FileType::Symlink,
        _ => FileType::Other,
    }
}

fn dirent_kind(v: u64) -> Option<FileType> {
    match v >> 60 {
        4 => Some(FileType::Directory),
        8 => Some(FileType::Regular),
        10 => Some(FileType::Symlink),
        0 => None,
        _ => Some(FileType::Other),
    }
}

impl Filesystem for Zfs {
    fn name(&self) -> &'static str {
        FS
    }

    fn root(&self) -> NodeId {
        let obj = self.slot(0).map(|d| d.root_obj).unwrap_or(1);
        obj & ((1 << INO_BITS) - 1)
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        let (a, k) = self.attrs_of(node)?;
        Ok(Metadata {
            kind: k,
            size: a.size,
            mode: Some((a.mode & 0o177777) as u32),
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let (slot, ds, obj, dn) = self.node(dir)?;
        if kind(self.attrs(&ds, obj, &dn)?.mode) != FileType::Directory {
            return Err(FsError::NotADirectory(format!("object {obj}")));
        }
        match zap::lookup(self, &dn, name)? {
            Some(e) => {
                let v = e.first().unwrap_or(0);
                Self::make_id(slot, v & ((1 << INO_BITS) - 1)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn read_dir(&self, node: NodeId) -> Result<Vec<DirEntry>> {
        let (slot, ds, obj, dn) = self.node(node)?;
        if kind(self.attrs(&ds, obj, &dn)?.mode) != FileType::Directory {
            return Err(FsError::NotADirectory(format!("object {obj}")));
        }
        let mut out = Vec::new();
        zap::for_each(self, &dn, &mut |e| {
            crate::dir_limit(out.len(), format_args!("directory object {obj}"))?;
            let v = e.first().unwrap_or(0);
            out.push(DirEntry {
                node: Self::make_id(slot, v & ((1 << INO_BITS) - 1))?,
                kind: dirent_kind(v),
                name: e.name,
            });
            Ok(false)
        })?;
        Ok(out)
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        let (_, ds, obj, dn) = self.node(node)?;
        let a = self.attrs(&ds, obj, &dn)?;
        if kind(a.mode) != FileType::Symlink {
            return Err(FsError::NotAFile(format!(
                "object {obj} (expected a symbolic link)"
            )));
        }
        if a.size > crate::path::MAX_LINK_LEN {
            return Err(FsError::Limit(format!(
                "symlink object {obj} target of {} bytes is longer than {}",
                a.size,
                crate::path::MAX_LINK_LEN
            )));
        }
        let len = usize::try_from(a.size).map_err(|_| corrupt("symlink size"))?;
        if dn.bonustype == dnode::OT_SA {
            if let (Some(t), Some(id)) = (ds.sa.as_ref(), ds.sa.as_ref().and_then(|t| t.symlink)) {
                if let Ok(mut b) = self.sa_bytes(t, obj, &dn, id) {
                    b.truncate(len);
                    return Ok(b);
                }
            }
        } else if let Some(b) = dn.bonus.get(sa::ZNODE_LEN..).and_then(|b| b.get(..len)) {
            return Ok(b.to_vec());
        }
        let mut out = vec![0u8; len];
        let n = self.read_data(&dn, a.size, 0, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (_, ds, obj, dn) = self.node(node)?;
        let a = self.attrs(&ds, obj, &dn)?;
        if kind(a.mode) == FileType::Directory {
            return Err(FsError::NotAFile(format!("object {obj}")));
        }
        self.read_data(&dn, a.size, offset, buf)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let (_, ds, obj, dn) = self.node(node)?;
        let a = self.attrs(&ds, obj, &dn)?;
        let end = offset.saturating_add(len).min(a.size);
        let mut out = Vec::new();
        if offset >= end {
            return Ok(Some(out));
        }
        let bs = dn.datablksz;
        let dev_size = self.dev.size();
        let first = offset / bs;
        let last = (end - 1) / bs;
        if last - first >= MAX_MAP_STEPS {
            return Err(FsError::Limit(format!(
                "object {obj}: mapping needs more than {MAX_MAP_STEPS} blocks"
            )));
        }
        for blkid in first..=last {
            let b_start = blkid * bs;
            let s = b_start.max(offset);
            if blkid > dn.maxblkid {
                // Nothing is allocated past the last block: one hole to the end.
                crate::push_extent(
                    &mut out,
                    Extent::Hole {
                        file_offset: s,
                        len: end - s,
                    },
                )?;
                break;
            }
            let e = (b_start + bs).min(end);
            match self.locate(&dn, blkid)? {
                None => crate::push_extent(
                    &mut out,
                    Extent::Hole {
                        file_offset: s,
                        len: e - s,
                    },
                )?,
                Some(bp) => {
                    let d = bp.dva[0];
                    if bp.embedded
                        || bp.compress != compress::OFF
                        || bp.lsize != bs
                        || bp.psize != bp.lsize
                        || d.gang
                        || d.vdev != self.cfg.top_id
                    {
                        return Ok(None);
                    }
                    let phys = d
                        .offset
                        .checked_add(LABEL_START)
                        .and_then(|p| p.checked_add(s - b_start))
                        .ok_or_else(|| corrupt("DVA offset overflows"))?;
                    if phys.checked_add(e - s).is_none_or(|x| x > dev_size) {
                        return Err(corrupt(format!(
                            "object {obj}: block at {phys:#x} is past the device end"
                        )));
                    }
                    crate::push_extent(
                        &mut out,
                        Extent::Mapped {
                            file_offset: s,
                            volume_offset: phys,
                            len: e - s,
                        },
                    )?;
                }
            }
        }
        Ok(Some(out))
    }

    fn uuid(&self) -> Option<String> {
        // GRUB prints the pool GUID as 16 hex digits.
        Some(format!("{:016x}", self.cfg.pool_guid))
    }

    fn label(&self) -> Option<String> {
        Some(String::from_utf8_lossy(&self.cfg.name).into_owned())
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn dataset_root(&self, name: &[u8]) -> Result<Option<NodeId>> {
        let Some(ds) = self.find_dataset(name)? else {
            return Ok(None);
        };
        let slot = self.register(ds)?;
        Ok(Some(Self::make_id(slot, self.slot(slot)?.root_obj)?))
    }

    fn boot_string(&self) -> Option<String> {
        let ds = self.slot(0).ok()?;
        Some(format!(
            "zfs-bootfs={}/{},bootpath='{}'",
            String::from_utf8_lossy(&self.cfg.name),
            ds.dsobj,
            String::from_utf8_lossy(&self.cfg.phys_path)
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn zfs_over(dev: Vec<u8>) -> Zfs {
        Zfs {
            dev: Arc::new(dev),
            cfg: label::Config::default(),
            mos: Dnode::parse(&[0u8; dnode::SLOT], Bo::Le, &String::new).unwrap(),
            root_dir: 0,
            datasets: Mutex::new(Vec::new()),
            cache: Mutex::new(Cache::default()),
            last_data: Mutex::new(None),
            warnings: Vec::new(),
        }
    }

    /// A little-endian, uncompressed, unchecksummed block pointer.
    fn bp(offset: u64, lsize_field: u64, level: u64) -> [u8; 128] {
        let mut b = [0u8; 128];
        let sectors = lsize_field + 1;
        b[0..8].copy_from_slice(&sectors.to_le_bytes());
        b[8..16].copy_from_slice(&(offset / 512).to_le_bytes());
        let prop: u64 = (1 << 63)
            | (level << 56)
            | (19 << 48)
            | (2 << 40)
            | (2 << 32)
            | (lsize_field << 16)
            | lsize_field;
        b[48..56].copy_from_slice(&prop.to_le_bytes());
        b[80..88].copy_from_slice(&5u64.to_le_bytes());
        b
    }

    fn dnode(nlevels: u8, indblkshift: u8, maxblkid: u64, top: &[u8; 128]) -> Vec<u8> {
        let mut d = vec![0u8; 512];
        d[0] = 19;
        d[1] = indblkshift;
        d[2] = nlevels;
        d[3] = 1;
        d[8..10].copy_from_slice(&8u16.to_le_bytes()); // 4 KiB data blocks
        d[16..24].copy_from_slice(&maxblkid.to_le_bytes());
        d[64..192].copy_from_slice(top);
        d
    }

    #[test]
    fn looping_indirect_tree_is_an_error() {
        // Block A (16 KiB at device 4 MiB) holds a pointer to itself.
        let mut dev = vec![0u8; (4 << 20) + (16 << 10)];
        let self_ptr = bp(0, 31, 2);
        dev[4 << 20..(4 << 20) + 128].copy_from_slice(&self_ptr);
        let z = zfs_over(dev);
        let dn = Dnode::parse(&dnode(3, 14, 1000, &bp(0, 31, 2)), Bo::Le, &String::new).unwrap();
        let e = z.locate(&dn, 0).unwrap_err().to_string();
        assert!(e.contains("says level 2"), "{e}");
        let mut buf = [0u8; 100];
        assert!(z.read_data(&dn, 1 << 30, 0, &mut buf).is_err());
        // Beyond maxblkid: a hole, no reads.
        assert!(z.locate(&dn, 5000).unwrap().is_none());
    }

    #[test]
    fn too_deep_trees_are_refused() {
        for levels in [0u8, 11, 200] {
            let e = Dnode::parse(&dnode(levels, 14, 0, &bp(0, 7, 0)), Bo::Le, &|| "x".into())
                .unwrap_err()
                .to_string();
            assert!(e.contains("levels"), "{e}");
        }
        // Indirect shift outside 2^10..2^17.
        let e = Dnode::parse(&dnode(3, 40, 0, &bp(0, 7, 0)), Bo::Le, &|| "x".into()).unwrap_err();
        assert!(e.to_string().contains("indirect"), "{e}");
    }

    #[test]
    fn oversized_blocks_are_refused_before_allocating() {
        let z = zfs_over(vec![0u8; 1 << 20]);
        // lsize field 0xffff: 32 MiB.
        let b = BlkPtr::parse(&bp(0, 0xffff, 0), 0, Bo::Le).unwrap();
        let e = z.read_bp(&b).unwrap_err().to_string();
        assert!(e.contains("at most"), "{e}");
        // A block past the end of the device, on every DVA: a read error, not a panic.
        let b = BlkPtr::parse(&bp(1 << 40, 7, 0), 0, Bo::Le).unwrap();
        assert!(z.read_bp(&b).is_err());
    }

    #[test]
    fn checksum_mismatch_tries_other_copies() {
        let mut dev = vec![0u8; (4 << 20) + 8192];
        dev[(4 << 20) + 4096..].fill(7);
        let z = zfs_over(dev);
        let mut raw = bp(0, 7, 0);
        // Second DVA at +4096; fletcher4 of the 4 KiB of 7s.
        raw[16..24].copy_from_slice(&8u64.to_le_bytes());
        raw[24..32].copy_from_slice(&8u64.to_le_bytes());
        let mut prop = u64::from_le_bytes(raw[48..56].try_into().unwrap());
        prop = (prop & !(0xff << 40)) | (7 << 40);
        raw[48..56].copy_from_slice(&prop.to_le_bytes());
        let ck = checksum::fletcher4(&[7u8; 4096], Bo::Le);
        for (i, w) in ck.iter().enumerate() {
            raw[96 + i * 8..104 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        let b = BlkPtr::parse(&raw, 0, Bo::Le).unwrap();
        assert_eq!(z.read_bp(&b).unwrap().data, vec![7u8; 4096]);
        // Both copies bad: a clear error.
        raw[96] ^= 1;
        let b = BlkPtr::parse(&raw, 0, Bo::Le).unwrap();
        let e = z.read_bp(&b).unwrap_err().to_string();
        assert!(e.contains("fletcher4 checksum mismatch"), "{e}");
    }

    #[test]
    fn gang_blocks_are_reassembled_and_bounded() {
        use sha2::Digest;
        let mut dev = vec![0u8; (4 << 20) + (16 << 10)];
        let base = 4 << 20;
        dev[base + 4096..base + 4608].fill(1);
        dev[base + 8192..base + 8704].fill(2);
        let mut hdr = [0u8; 512];
        hdr[0..128].copy_from_slice(&bp(4096, 0, 0));
        hdr[128..256].copy_from_slice(&bp(8192, 0, 0));
        let seal = |hdr: &mut [u8; 512], birth: u64| {
            hdr[472..480].copy_from_slice(&checksum::ZEC_MAGIC.to_le_bytes());
            for (i, v) in [0u64, 0, birth, 0].iter().enumerate() {
                hdr[480 + i * 8..488 + i * 8].copy_from_slice(&v.to_le_bytes());
            }
            let d = sha2::Sha256::digest(&hdr[..]);
            for i in 0..4 {
                let w = u64::from_be_bytes(d[i * 8..i * 8 + 8].try_into().unwrap());
                hdr[480 + i * 8..488 + i * 8].copy_from_slice(&w.to_le_bytes());
            }
        };
        seal(&mut hdr, 5);
        dev[base..base + 512].copy_from_slice(&hdr);
        // The gang block pointer: 1 KiB, gang bit on DVA 0, fletcher4 of the whole.
        let mut raw = bp(0, 1, 0);
        raw[15] |= 0x80;
        let mut prop = u64::from_le_bytes(raw[48..56].try_into().unwrap());
        prop = (prop & !(0xff << 40)) | (7 << 40);
        raw[48..56].copy_from_slice(&prop.to_le_bytes());
        let mut want = vec![1u8; 512];
        want.extend([2u8; 512]);
        let ck = checksum::fletcher4(&want, Bo::Le);
        for (i, w) in ck.iter().enumerate() {
            raw[96 + i * 8..104 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        let gbp = BlkPtr::parse(&raw, 0, Bo::Le).unwrap();
        assert!(gbp.dva[0].gang);
        let z = zfs_over(dev.clone());
        assert_eq!(z.read_bp(&gbp).unwrap().data, want);
        // A header sealed for another birth txg does not verify.
        let mut bad = hdr;
        seal(&mut bad, 6);
        let mut d2 = dev.clone();
        d2[base..base + 512].copy_from_slice(&bad);
        let e = zfs_over(d2).read_bp(&gbp).unwrap_err().to_string();
        assert!(e.contains("gang header"), "{e}");
        // Members larger than the gang block: refused before reading them.
        let mut big = hdr;
        big[0..128].copy_from_slice(&bp(4096, 0xfff, 0));
        seal(&mut big, 5);
        let mut d3 = dev;
        d3[base..base + 512].copy_from_slice(&big);
        let e = zfs_over(d3).read_bp(&gbp).unwrap_err().to_string();
        assert!(e.contains("gang member"), "{e}");
    }

    #[test]
    fn pygrub_top_files() {
        assert!(pygrub_top_dataset_file(b"/boot/grub/menu.lst"));
        assert!(pygrub_top_dataset_file(b"/grub/menu.lst"));
        assert!(pygrub_top_dataset_file(b"/boot/grub/bootsign/pool_rpool"));
        assert!(pygrub_top_dataset_file(b"/etc/bootsign"));
        assert!(!pygrub_top_dataset_file(b"/boot/grub/menu.lst.bak"));
        assert!(!pygrub_top_dataset_file(b"/boot/grub/xmenu.lst"));
        assert!(!pygrub_top_dataset_file(b"/boot/grub/grub.cfg"));
        assert!(!pygrub_top_dataset_file(b"/boot/vmlinuz"));
    }
}
