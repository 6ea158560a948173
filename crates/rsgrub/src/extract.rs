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
    let plan = extents
        .filter(|_| std::env::var_os("RSGRUB_NO_ZERO_COPY").is_none())
        .and_then(|e| plan_copy(&e, vol, size));
    match plan {
        Some(plan) => {
            for piece in plan {
                match piece {
                    Piece::Phys {
                        file_offset,
                        phys,
                        len,
                    } => {
                        let off_out = out_offset
                            .checked_add(file_offset)
                            .ok_or_else(|| format!("{p}: offset overflows"))?;
                        if copy_range(image, phys, out, off_out, len) {
                            stats.zero_copy += len;
                        } else {
                            stream(fs, node, p, out, out_offset, file_offset, len)?;
                        }
                    }
                    Piece::Read { file_offset, len } => {
                        stream(fs, node, p, out, out_offset, file_offset, len)?
                    }
                }
            }
        }
        None => stream(fs, node, p, out, out_offset, 0, size)?,
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

/// Copy file bytes `[from, from+len)` through a buffer to `out` at `out_offset + from`.
fn stream(
    fs: &dyn Filesystem,
    node: u64,
    p: &str,
    out: &File,
    out_offset: u64,
    from: u64,
    len: u64,
) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
    let end = from
        .checked_add(len)
        .ok_or_else(|| format!("{p}: size overflows"))?;
    let mut off = from;
    while off < end {
        let want = usize::try_from((end - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let dst = buf.get_mut(..want).ok_or("buffer")?;
        let n = fs
            .read_at(node, off, dst)
            .map_err(|e| format!("{p}: {e}"))?;
        if n == 0 {
            return Err(format!("{p}: file ends at {off} of {end} bytes"));
        }
        let src = buf.get(..n).ok_or("buffer")?;
        out.write_all_at(src, out_offset + off)
            .map_err(|e| format!("writing {p} to the output file: {e}"))?;
        off += n as u64;
    }
    Ok(())
}

/// One step of a copy plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// Bytes stored plainly at `phys` in the image file.
    Phys {
        file_offset: u64,
        phys: u64,
        len: u64,
    },
    /// Bytes that must go through the filesystem (compressed clusters, ...).
    Read { file_offset: u64, len: u64 },
}

/// Granule used when a whole extent does not map to one physical range (qcow2 clusters, VHD
/// blocks, LV segments): the extent is retried in pieces of this size.
const SPLIT: u64 = 64 * 1024;
/// Most pieces in a plan (beyond it, the plain read path is as good).
const MAX_PIECES: usize = 1 << 16;

/// Map the file's extents to image-file ranges. `None` when the extents do not cover the file
/// in order (then everything is read through the filesystem). Holes are skipped: the output
/// file is new, so they read back as zeros.
fn plan_copy(extents: &[Extent], vol: &Volume, size: u64) -> Option<Vec<Piece>> {
    let mut plan: Vec<Piece> = Vec::new();
    let push = |piece: Piece, plan: &mut Vec<Piece>| {
        // Merge with the previous piece when contiguous in both file and image.
        if let (
            Some(last),
            Piece::Phys {
                file_offset,
                phys,
                len,
            },
        ) = (plan.last_mut(), piece)
        {
            if let Piece::Phys {
                file_offset: lf,
                phys: lp,
                len: ll,
            } = *last
            {
                if lf + ll == file_offset && lp.checked_add(ll) == Some(phys) {
                    *last = Piece::Phys {
                        file_offset: lf,
                        phys: lp,
                        len: ll + len,
                    };
                    return;
                }
            }
        }
        if let (Some(last), Piece::Read { file_offset, len }) = (plan.last_mut(), piece) {
            if let Piece::Read {
                file_offset: lf,
                len: ll,
            } = *last
            {
                if lf + ll == file_offset {
                    *last = Piece::Read {
                        file_offset: lf,
                        len: ll + len,
                    };
                    return;
                }
            }
        }
        plan.push(piece);
    };
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
                expect = file_offset.checked_add(len)?;
                let len = len.min(size.saturating_sub(file_offset));
                if let Some(phys) = vol.reader.physical_range(volume_offset, len) {
                    push(
                        Piece::Phys {
                            file_offset,
                            phys,
                            len,
                        },
                        &mut plan,
                    );
                } else {
                    let mut done = 0u64;
                    while done < len {
                        let n = (len - done).min(SPLIT - (volume_offset + done) % SPLIT);
                        let fo = file_offset + done;
                        match vol
                            .reader
                            .physical_range(volume_offset.checked_add(done)?, n)
                        {
                            Some(phys) => push(
                                Piece::Phys {
                                    file_offset: fo,
                                    phys,
                                    len: n,
                                },
                                &mut plan,
                            ),
                            None => push(
                                Piece::Read {
                                    file_offset: fo,
                                    len: n,
                                },
                                &mut plan,
                            ),
                        }
                        done += n;
                        if plan.len() > MAX_PIECES {
                            return None;
                        }
                    }
                }
            }
            Extent::Hole { file_offset, len } => {
                if file_offset != expect {
                    return None;
                }
                expect = file_offset.checked_add(len)?;
            }
        }
        if plan.len() > MAX_PIECES {
            return None;
        }
    }
    (expect >= size).then_some(plan)
}

/// `copy_file_range` a whole range; `false` if the kernel refuses (then the caller reads).
fn copy_range(image: &File, phys: u64, out: &File, off_out: u64, len: u64) -> bool {
    let mut off_in = phys;
    let mut off_out = off_out;
    let mut left = len;
    while left > 0 {
        let Ok(chunk) = usize::try_from(left.min(1 << 30)) else {
            return false;
        };
        match rustix::fs::copy_file_range(image, Some(&mut off_in), out, Some(&mut off_out), chunk)
        {
            Ok(0) | Err(_) => return false,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
    true
}

/// Copy bytes `[from, from+len)` of guest file `p` to `out` at `out_offset` (a UKI's `.linux`
/// or `.initrd` section), at most `cap` bytes.
pub fn copy_part(
    fs: &dyn Filesystem,
    p: &str,
    from: u64,
    len: u64,
    out: &File,
    out_offset: u64,
    cap: u64,
) -> Result<Copied, String> {
    let node = path::resolve(fs, p.as_bytes(), true).map_err(|e| e.to_string())?;
    let meta = fs.metadata(node).map_err(|e| format!("{p}: {e}"))?;
    let end = from
        .checked_add(len)
        .filter(|&e| e <= meta.size)
        .ok_or_else(|| format!("{p}: section {from}+{len} is past the end of the file"))?;
    if len > cap {
        return Err(format!(
            "{p}: {len} bytes is more than the {} MiB limit (PYGRUB_MAX_FILE_SIZE_MB)",
            cap >> 20
        ));
    }
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
    let mut off = from;
    while off < end {
        let want = usize::try_from((end - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let dst = buf.get_mut(..want).ok_or("buffer")?;
        let n = fs
            .read_at(node, off, dst)
            .map_err(|e| format!("{p}: {e}"))?;
        if n == 0 {
            return Err(format!("{p}: file ends at {off} of {end} bytes"));
        }
        let at = out_offset
            .checked_add(off - from)
            .ok_or_else(|| format!("{p}: offset overflows"))?;
        out.write_all_at(buf.get(..n).ok_or("buffer")?, at)
            .map_err(|e| format!("writing {p} to the output file: {e}"))?;
        off += n as u64;
    }
    Ok(Copied {
        size: len,
        zero_copy: 0,
    })
}
