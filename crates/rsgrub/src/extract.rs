//! Copying a guest file into an output file (an fd the parent created), bounded.
//!
//! Where the filesystem maps the file's bytes to plain ranges of the image, the kernel copies
//! them image → output with `copy_file_range` (no bytes through user space); holes stay holes;
//! everything else streams through one 1 MiB buffer.
use rsgrub_disk::Volume;
use rsgrub_fs::{path, Extent, FileType, Filesystem};
use std::fs::File;
use std::os::unix::fs::FileExt;

const CHUNK: usize = 1 << 20;

/// Copy statistics (for `--debug`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Copied {
    /// File bytes.
    pub size: u64,
    /// Bytes moved by `copy_file_range`.
    pub zero_copy: u64,
}

/// Copy `p` from `fs` (on `vol` of `image`) into `out` at `out_offset`; at most `cap` bytes.
pub fn copy_file(
    fs: &dyn Filesystem,
    vol: &Volume,
    image: &File,
    p: &str,
    out: &File,
    out_offset: u64,
    cap: u64,
) -> Result<Copied, String> {
    let node = path::resolve(fs, p.as_bytes(), true).map_err(|e| e.to_string())?;
    let meta = fs.metadata(node).map_err(|e| format!("{p}: {e}"))?;
    if meta.kind != FileType::Regular {
        return Err(format!("{p}: not a regular file"));
    }
    if meta.size > cap {
        return Err(format!(
            "{p}: {} bytes is more than the {} MiB limit (PYGRUB_MAX_FILE_SIZE_MB)",
            meta.size,
            cap >> 20
        ));
    }
    let size = meta.size;
    let mut stats = Copied { size, zero_copy: 0 };
    let extents = fs.extents(node, 0, size).map_err(|e| format!("{p}: {e}"))?;
    let mut done_by_map = false;
    if let Some(extents) = extents.filter(|_| std::env::var_os("RSGRUB_NO_ZERO_COPY").is_none()) {
        if let Some(n) = copy_mapped(&extents, vol, image, out, out_offset, size) {
            stats.zero_copy = n;
            done_by_map = true;
        }
    }
    if !done_by_map {
        stream(fs, node, p, out, out_offset, size)?;
    }
    // Trailing holes: make the file as long as the guest file.
    let end = out_offset
        .checked_add(size)
        .ok_or_else(|| format!("{p}: size overflows"))?;
    let cur = out
        .metadata()
        .map_err(|e| format!("output file: {e}"))?
        .len();
    if cur < end {
        out.set_len(end)
            .map_err(|e| format!("writing {p} to the output file: {e}"))?;
    }
    Ok(stats)
}

fn stream(
    fs: &dyn Filesystem,
    node: u64,
    p: &str,
    out: &File,
    out_offset: u64,
    size: u64,
) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(size).unwrap_or(CHUNK)).max(1)];
    let mut off = 0u64;
    while off < size {
        let want = usize::try_from((size - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let dst = buf.get_mut(..want).ok_or("buffer")?;
        let n = fs
            .read_at(node, off, dst)
            .map_err(|e| format!("{p}: {e}"))?;
        if n == 0 {
            return Err(format!("{p}: file ends at {off} of {size} bytes"));
        }
        let src = buf.get(..n).ok_or("buffer")?;
        out.write_all_at(src, out_offset + off)
            .map_err(|e| format!("writing {p} to the output file: {e}"))?;
        off += n as u64;
    }
    Ok(())
}

/// Try the zero-copy path; `None` (nothing or partial work to redo) if any range is not
/// plainly mapped or the kernel refuses `copy_file_range`.
fn copy_mapped(
    extents: &[Extent],
    vol: &Volume,
    image: &File,
    out: &File,
    out_offset: u64,
    size: u64,
) -> Option<u64> {
    // Validate the whole map first: it must cover [0, size) in order, each range physical.
    let mut plan = Vec::with_capacity(extents.len());
    let mut expect = 0u64;
    for e in extents {
        match *e {
            Extent::Mapped {
                file_offset,
                volume_offset,
                len,
            } => {
                if file_offset != expect {
                    return None;
                }
                let phys = vol.reader.physical_range(volume_offset, len)?;
                plan.push((file_offset, phys, len));
                expect = file_offset.checked_add(len)?;
            }
            Extent::Hole { file_offset, len } => {
                if file_offset != expect {
                    return None;
                }
                expect = file_offset.checked_add(len)?;
            }
        }
    }
    if expect < size {
        return None;
    }
    let mut moved = 0u64;
    for (file_offset, phys, len) in plan {
        let len = len.min(size.saturating_sub(file_offset));
        let mut off_in = phys;
        let mut off_out = out_offset.checked_add(file_offset)?;
        let mut left = len;
        while left > 0 {
            let chunk = usize::try_from(left.min(1 << 30)).ok()?;
            match rustix::fs::copy_file_range(
                image,
                Some(&mut off_in),
                out,
                Some(&mut off_out),
                chunk,
            ) {
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    left = left.saturating_sub(n as u64);
                    moved += n as u64;
                }
            }
        }
    }
    Some(moved)
}
