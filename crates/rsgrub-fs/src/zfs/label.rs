//! Vdev labels and uberblocks.
//!
//! A device carries four 256 KiB labels, two at the front and two at the end (the size
//! rounded down to 256 KiB). Each is 8 KiB blank, 8 KiB boot header, the 112 KiB config
//! nvlist and a 128 KiB ring of uberblocks (slots of `2^max(ashift, 10)` bytes). Both the
//! nvlist area and each slot end in an embedded SHA-256 whose verifier is the area's device
//! offset. The config comes from the first label whose checksum holds; uberblocks from every
//! label are ranked by txg, then timestamp.
use super::blkptr::BlkPtr;
use super::nvlist::{self, NvList, Value};
use super::{checksum, corrupt, unsupported, Bo};
use crate::{ReadAt, Result};

pub(crate) const LABEL_SIZE: u64 = 256 << 10;
const PHYS_OFF: u64 = 16 << 10;
const PHYS_SIZE: usize = 112 << 10;
const RING_OFF: u64 = 128 << 10;
const RING_SIZE: usize = 128 << 10;
pub(crate) const UB_MAGIC: u64 = 0x00ba_b10c;
/// Deepest vdev tree searched for this device's leaf.
const MAX_VDEV_DEPTH: u32 = 8;

#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub name: Vec<u8>,
    pub pool_guid: u64,
    pub version: u64,
    /// Id of the top-level vdev this device belongs to (the `vdev` of its DVAs).
    pub top_id: u64,
    pub top_type: Vec<u8>,
    pub ashift: u64,
    pub phys_path: Vec<u8>,
    pub vdev_children: u64,
    pub features: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Uberblock {
    pub txg: u64,
    pub timestamp: u64,
    pub rootbp: BlkPtr,
}

/// Offsets of the four labels on a device of `size` bytes.
pub(crate) fn offsets(size: u64) -> Vec<u64> {
    let size = size & !(LABEL_SIZE - 1);
    let mut v = vec![0, LABEL_SIZE];
    if size >= 4 * LABEL_SIZE {
        v.push(size - 2 * LABEL_SIZE);
        v.push(size - LABEL_SIZE);
    }
    v
}

/// Cheap signature check: label 0 or 1 holds an XDR nvlist header and an uberblock magic.
pub(crate) fn probe(dev: &dyn ReadAt) -> bool {
    for off in [0, LABEL_SIZE] {
        let mut h = [0u8; 4];
        if dev.read_at(off + PHYS_OFF, &mut h).is_err() || h[0] != 1 || h[1] > 1 {
            continue;
        }
        let mut ring = vec![0u8; RING_SIZE];
        if dev.read_at(off + RING_OFF, &mut ring).is_err() {
            continue;
        }
        let magic = |s: &[u8]| {
            let m = rsgrub_io::le::u64(s, 0).unwrap_or(0);
            m == UB_MAGIC || m == UB_MAGIC.swap_bytes()
        };
        if ring.chunks(1024).any(magic) {
            return true;
        }
    }
    false
}

fn find_leaf(v: &NvList, guid: u64, depth: u32) -> Option<&NvList> {
    if depth > MAX_VDEV_DEPTH {
        return None;
    }
    if v.u64("guid") == Some(guid) {
        return Some(v);
    }
    v.lists("children")?
        .iter()
        .find_map(|c| find_leaf(c, guid, depth + 1))
}

fn parse_config(l: &NvList) -> Result<Config> {
    let need = |k: &str| {
        l.u64(k)
            .ok_or_else(|| corrupt(format!("label config has no {k}")))
    };
    let tree = l
        .list("vdev_tree")
        .ok_or_else(|| corrupt("label config has no vdev_tree"))?;
    let guid = need("guid")?;
    let phys_path = find_leaf(tree, guid, 0)
        .and_then(|leaf| leaf.str("phys_path"))
        .unwrap_or_default()
        .to_vec();
    let mut features = Vec::new();
    if let Some(f) = l.list("features_for_read") {
        for (k, v) in &f.pairs {
            if !matches!(v, Value::U64(0) | Value::Bool(false)) {
                features.push(String::from_utf8_lossy(k).into_owned());
            }
        }
    }
    Ok(Config {
        name: l
            .str("name")
            .ok_or_else(|| corrupt("label config has no pool name"))?
            .to_vec(),
        pool_guid: need("pool_guid")?,
        version: need("version")?,
        top_id: tree.u64("id").unwrap_or(0),
        top_type: tree.str("type").unwrap_or_default().to_vec(),
        ashift: tree.u64("ashift").unwrap_or(9),
        phys_path,
        vdev_children: l.u64("vdev_children").unwrap_or(1),
        features,
    })
}

/// The config and the valid uberblocks, best first.
pub(crate) fn read(dev: &dyn ReadAt) -> Result<(Config, Vec<Uberblock>, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut cfg: Option<Config> = None;
    let mut cfg_err = None;
    let mut labels = Vec::new();
    for (i, off) in offsets(dev.size()).into_iter().enumerate() {
        let mut phys = vec![0u8; PHYS_SIZE];
        if let Err(e) = dev.read_at(off + PHYS_OFF, &mut phys) {
            warnings.push(format!("label {i} unreadable: {e}"));
            continue;
        }
        if checksum::verify_label(&phys, off + PHYS_OFF).is_none() {
            warnings.push(format!("label {i} config checksum mismatch"));
        } else if cfg.is_none() {
            match nvlist::unpack(phys.get(..PHYS_SIZE - 40).unwrap_or_default())
                .and_then(|l| parse_config(&l))
            {
                Ok(c) => cfg = Some(c),
                Err(e) => cfg_err = Some(e),
            }
        }
        labels.push(off);
    }
    let cfg = match (cfg, cfg_err) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(corrupt("no vdev label has a valid config checksum")),
    };
    let t = cfg.top_type.as_slice();
    if t.starts_with(b"raidz") || t.starts_with(b"draid") {
        return Err(unsupported(format!(
            "{} vdevs: raidz not supported",
            String::from_utf8_lossy(t)
        )));
    }
    if !matches!(
        t,
        b"disk" | b"file" | b"mirror" | b"replacing" | b"spare" | b""
    ) {
        return Err(unsupported(format!(
            "top-level vdev type {}",
            String::from_utf8_lossy(t)
        )));
    }
    if cfg.ashift > 16 {
        return Err(corrupt(format!("ashift {}", cfg.ashift)));
    }
    let slot = 1usize << cfg.ashift.max(10);
    let mut ubs = Vec::new();
    for off in labels {
        let mut ring = vec![0u8; RING_SIZE];
        if dev.read_at(off + RING_OFF, &mut ring).is_err() {
            continue;
        }
        for (k, s) in ring.chunks_exact(slot).enumerate() {
            let bo = match rsgrub_io::le::u64(s, 0) {
                Some(UB_MAGIC) => Bo::Le,
                Some(m) if m == UB_MAGIC.swap_bytes() => Bo::Be,
                _ => continue,
            };
            let at = off + RING_OFF + (k * slot) as u64;
            if checksum::verify_label(s, at).is_none() {
                continue;
            }
            let (Some(txg), Some(timestamp)) = (bo.u64(s, 16), bo.u64(s, 32)) else {
                continue;
            };
            let Ok(rootbp) = BlkPtr::parse(s, 40, bo) else {
                continue;
            };
            ubs.push(Uberblock {
                txg,
                timestamp,
                rootbp,
            });
        }
    }
    if ubs.is_empty() {
        return Err(corrupt("no uberblock with a valid magic and checksum"));
    }
    ubs.sort_by_key(|u| std::cmp::Reverse((u.txg, u.timestamp)));
    ubs.dedup_by(|a, b| a.txg == b.txg && a.rootbp == b.rootbp);
    Ok((cfg, ubs, warnings))
}
