//! A volume made of pieces of other readers: an LVM2 logical volume (linear and striped
//! segments over physical volumes).
//!
//! Every segment is checked against its sources when the reader is built, so a read never
//! goes past a source. [`ReadAt::physical_range`] composes: a range maps to one image-file
//! offset only if every piece it touches maps, and the pieces are adjacent in the file.
use rsgrub_io::{check_range, out_of_range, DynReader, ReadAt};
use std::io;

/// Most pieces a [`ReadAt::physical_range`] query walks before giving up (returns `None`).
pub const MAX_PHYSICAL_PIECES: u64 = 1 << 16;

/// How one segment's bytes are laid out.
#[derive(Clone)]
pub enum Layout {
    /// `len` bytes at `offset` of `source`.
    Linear {
        /// The physical volume (or any reader).
        source: DynReader,
        /// Byte offset in `source`.
        offset: u64,
    },
    /// RAID0: chunk `k` of the segment is chunk `k / n` of stripe `k % n`.
    Striped {
        /// `(source, byte offset)` of each stripe's area.
        stripes: Vec<(DynReader, u64)>,
        /// Chunk (stripe) size in bytes, a power of two ≥ 512.
        chunk: u64,
    },
}

/// One segment: logical bytes `[start, start + len)` of the volume.
#[derive(Clone)]
pub struct Segment {
    /// Logical start in the volume.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Where the bytes are.
    pub layout: Layout,
}

/// A reader over contiguous segments starting at 0.
pub struct Segmented {
    segments: Vec<Segment>,
    size: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn check_area(source: &DynReader, offset: u64, len: u64, what: &str) -> io::Result<()> {
    let end = offset
        .checked_add(len)
        .ok_or_else(|| invalid(format!("{what}: area end overflows")))?;
    if end > source.size() {
        return Err(invalid(format!(
            "{what}: area {offset}..{end} is past the end of its physical volume ({} bytes)",
            source.size()
        )));
    }
    Ok(())
}

impl Segmented {
    /// Build from segments, which must be sorted, contiguous from 0 and non-empty, and lie
    /// inside their sources. A striped segment's length must divide into `stripes × chunk`.
    pub fn new(segments: Vec<Segment>) -> io::Result<Segmented> {
        let mut expect = 0u64;
        for (i, s) in segments.iter().enumerate() {
            let what = format!("segment {}", i + 1);
            if s.start != expect {
                return Err(invalid(format!(
                    "{what} starts at byte {} instead of {expect}",
                    s.start
                )));
            }
            if s.len == 0 {
                return Err(invalid(format!("{what} is empty")));
            }
            match &s.layout {
                Layout::Linear { source, offset } => check_area(source, *offset, s.len, &what)?,
                Layout::Striped { stripes, chunk } => {
                    let n = stripes.len() as u64;
                    if n == 0 || *chunk < 512 || !chunk.is_power_of_two() {
                        return Err(invalid(format!(
                            "{what}: {n} stripes of {chunk}-byte chunks"
                        )));
                    }
                    let per = s.len / n;
                    if !s.len.is_multiple_of(n) || !per.is_multiple_of(*chunk) {
                        return Err(invalid(format!(
                            "{what}: {} bytes do not divide into {n} stripes of {chunk}-byte \
                             chunks",
                            s.len
                        )));
                    }
                    for (src, off) in stripes {
                        check_area(src, *off, per, &what)?;
                    }
                }
            }
            expect = s
                .start
                .checked_add(s.len)
                .ok_or_else(|| invalid(format!("{what}: end overflows")))?;
        }
        if segments.is_empty() {
            return Err(invalid("no segments".into()));
        }
        Ok(Segmented {
            segments,
            size: expect,
        })
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The piece at logical `pos`: (source, source offset, bytes available in this piece).
    fn piece(&self, pos: u64) -> Option<(&DynReader, u64, u64)> {
        let i = self
            .segments
            .partition_point(|s| s.start.saturating_add(s.len) <= pos);
        let s = self.segments.get(i)?;
        let within = pos.checked_sub(s.start)?;
        let left = s.len.checked_sub(within)?;
        if left == 0 {
            return None;
        }
        match &s.layout {
            Layout::Linear { source, offset } => Some((source, offset.checked_add(within)?, left)),
            Layout::Striped { stripes, chunk } => {
                let n = stripes.len() as u64;
                let k = within / chunk;
                let in_chunk = within % chunk;
                let (src, base) = stripes.get(usize::try_from(k % n).ok()?)?;
                let off = (k / n).checked_mul(*chunk)?.checked_add(in_chunk)?;
                Some((src, base.checked_add(off)?, chunk - in_chunk))
            }
        }
    }
}

impl ReadAt for Segmented {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset
                .checked_add(done as u64)
                .ok_or_else(|| out_of_range(offset, buf.len(), self.size))?;
            let (src, off, avail) = self
                .piece(pos)
                .ok_or_else(|| out_of_range(pos, buf.len() - done, self.size))?;
            let n = usize::try_from(avail)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            let dst = buf
                .get_mut(done..done + n)
                .ok_or_else(|| out_of_range(pos, n, self.size))?;
            src.read_at(off, dst)?;
            done += n;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        if offset.checked_add(len)? > self.size {
            return None;
        }
        let mut first: Option<u64> = None;
        let mut next_phys = 0u64;
        let mut done = 0u64;
        let mut pieces = 0u64;
        while done < len {
            pieces += 1;
            if pieces > MAX_PHYSICAL_PIECES {
                return None;
            }
            let pos = offset.checked_add(done)?;
            let (src, off, avail) = self.piece(pos)?;
            let n = avail.min(len - done);
            let p = src.physical_range(off, n)?;
            match first {
                None => first = Some(p),
                Some(_) if p != next_phys => return None,
                Some(_) => {}
            }
            next_phys = p.checked_add(n)?;
            done += n;
        }
        first.or_else(|| {
            self.piece(offset)
                .and_then(|(s, o, _)| s.physical_range(o, 0))
        })
    }
}
