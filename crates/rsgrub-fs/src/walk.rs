//! Walk a whole filesystem under a work budget: the body of every fuzz target and of the
//! corpus-replay test. It must terminate and never panic, whatever the bytes.
use crate::{path, FileType, Filesystem, NodeId};

/// What a walk saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalkStats {
    /// Directories listed.
    pub dirs: u64,
    /// Regular files read.
    pub files: u64,
    /// Symlinks read.
    pub links: u64,
    /// File bytes read.
    pub bytes: u64,
    /// Errors met (each ends that branch).
    pub errors: u64,
}

/// Visit up to `max_nodes` nodes breadth first, reading at most `max_bytes` of file data in
/// all; also resolve a few boot paths through [`path::resolve`].
pub fn exercise(fs: &dyn Filesystem, max_nodes: u64, max_bytes: u64) -> WalkStats {
    let mut st = WalkStats::default();
    let mut queue: std::collections::VecDeque<(NodeId, u32)> = Default::default();
    queue.push_back((fs.root(), 0));
    let mut seen = std::collections::HashSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut visited = 0u64;
    while let Some((node, depth)) = queue.pop_front() {
        if visited >= max_nodes || !seen.insert(node) {
            continue;
        }
        visited = visited.saturating_add(1);
        let Ok(meta) = fs.metadata(node) else {
            st.errors = st.errors.saturating_add(1);
            continue;
        };
        match meta.kind {
            FileType::Directory => match fs.read_dir(node) {
                Ok(entries) => {
                    st.dirs = st.dirs.saturating_add(1);
                    if depth < 64 {
                        for e in entries.into_iter().take(10_000) {
                            let _ = fs.lookup(node, &e.name);
                            queue.push_back((e.node, depth.saturating_add(1)));
                        }
                    }
                }
                Err(_) => st.errors = st.errors.saturating_add(1),
            },
            FileType::Regular => {
                st.files = st.files.saturating_add(1);
                let mut off = 0u64;
                while off < meta.size && st.bytes < max_bytes {
                    match fs.read_at(node, off, &mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            off = off.saturating_add(n as u64);
                            st.bytes = st.bytes.saturating_add(n as u64);
                        }
                        Err(_) => {
                            st.errors = st.errors.saturating_add(1);
                            break;
                        }
                    }
                }
                let _ = fs.extents(node, 0, meta.size.min(1 << 30));
            }
            FileType::Symlink => {
                st.links = st.links.saturating_add(1);
                if fs.read_link(node).is_err() {
                    st.errors = st.errors.saturating_add(1);
                }
            }
            FileType::Other => {}
        }
    }
    for p in [
        &b"/boot/grub/grub.cfg"[..],
        b"/boot/vmlinuz",
        b"/../../etc/passwd",
        b"/EFI/BOOT/grub.cfg",
    ] {
        let _ = path::resolve(fs, p, true);
    }
    let _ = (fs.uuid(), fs.label(), fs.warnings());
    st
}

/// Open `data` with every driver whose probe matches and walk it (fuzz entry point).
pub fn fuzz_one(data: &[u8]) {
    let dev: rsgrub_io::DynReader = std::sync::Arc::new(data.to_vec());
    for d in crate::DRIVERS {
        if (d.probe)(&*dev) {
            if let Ok(fs) = (d.open)(dev.clone()) {
                exercise(fs.as_ref(), 2_000, 8 << 20);
            }
        }
    }
}
