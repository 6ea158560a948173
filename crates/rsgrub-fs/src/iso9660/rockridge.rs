//! System Use Sharing Protocol (SUSP 1.12) entries and the Rock Ridge (RRIP 1.12) ones this
//! driver reads: `NM` (name), `PX` (mode), `SL` (symlink target), `CL`/`RE` (deep directory
//! relocation), `SF`/`ZF` (sparse and zisofs files, refused), `SP`/`ER` (detection).
//!
//! This is the code PyGrub's libfsimage got wrong (XSA-497), so every length is checked:
//! an entry needs 4 header bytes and must lie inside its area — a length below 4 or past the
//! end ends that area (as Linux does), and an entry too short for its fields is ignored (an
//! `NM` shorter than 5 bytes carries no name). A `CE` continuation area must lie inside one
//! logical block and inside the volume; at most [`MAX_CE`] areas and [`MAX_SUSP_BYTES`] bytes
//! are read per record, which ends `CE` loops (a `CE` pointing at itself).
use super::volume::BLOCK;
use crate::Result;
use rsgrub_io::le;

/// Continuation areas followed per record.
pub(crate) const MAX_CE: usize = 32;
/// System Use bytes examined per record, all areas together.
pub(crate) const MAX_SUSP_BYTES: usize = 64 << 10;
/// Longest Rock Ridge name assembled from `NM` entries.
const MAX_NAME: usize = 1024;

/// Reads `len` bytes at a volume offset (the caller's cached reader).
pub(crate) type ReadFn<'a> = &'a dyn Fn(u64, usize) -> Result<Vec<u8>>;

/// Call `f(signature, whole entry)` for every SUSP entry of a record, following `CE` areas.
/// `f` returns `true` to stop. `vol_size` bounds continuation areas.
pub(crate) fn each_entry(
    sua: &[u8],
    read: ReadFn<'_>,
    vol_size: u64,
    f: &mut dyn FnMut([u8; 2], &[u8]) -> bool,
) -> Result<()> {
    let mut area: Vec<u8> = sua.to_vec();
    let mut budget = MAX_SUSP_BYTES;
    let mut hops = 0usize;
    loop {
        let mut next: Option<(u64, usize)> = None;
        let mut pos = 0usize;
        budget = budget.saturating_sub(area.len());
        while let Some(hdr) = area.get(pos..pos + 4) {
            let (sig, len) = match hdr {
                [a, b, l, _] => ([*a, *b], usize::from(*l)),
                _ => break,
            };
            if len < 4 {
                break;
            }
            let Some(entry) = area.get(pos..pos + len) else {
                break;
            };
            match &sig {
                b"ST" => break,
                b"CE" => {
                    if let (Some(blk), Some(off), Some(clen)) =
                        (le::u32(entry, 4), le::u32(entry, 12), le::u32(entry, 20))
                    {
                        next = continuation(blk, off, clen, vol_size);
                    }
                }
                _ => {
                    if f(sig, entry) {
                        return Ok(());
                    }
                }
            }
            pos += len;
        }
        let Some((at, len)) = next else {
            return Ok(());
        };
        hops += 1;
        if hops > MAX_CE || len > budget {
            return Ok(());
        }
        area = read(at, len)?;
    }
}

/// The volume range of a `CE` area, if it lies inside one block and inside the volume.
fn continuation(blk: u32, off: u32, len: u32, vol_size: u64) -> Option<(u64, usize)> {
    let (off, len) = (u64::from(off), u64::from(len));
    if len < 4 || off.checked_add(len)? > BLOCK {
        return None;
    }
    let at = u64::from(blk).checked_mul(BLOCK)?.checked_add(off)?;
    if at.checked_add(len)? > vol_size {
        return None;
    }
    Some((at, usize::try_from(len).ok()?))
}

/// What a record's Rock Ridge entries say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Rr {
    pub name: Option<Vec<u8>>,
    /// `NM` said "current" or "parent" directory.
    pub dot: bool,
    pub mode: Option<u32>,
    pub link: Option<Vec<u8>>,
    /// `CL`: this entry stands for the relocated directory at this block.
    pub child: Option<u32>,
    /// `RE`: this is a relocated directory, listed through a `CL` elsewhere.
    pub relocated: bool,
    /// `SF` or `ZF`: data not stored plainly.
    pub transformed: Option<&'static str>,
    name_long: bool,
    link_state: Link,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Link {
    parts: Vec<Vec<u8>>,
    absolute: bool,
    /// Bytes of a component that continues in the next component record.
    cur: Vec<u8>,
    open: bool,
}

impl Link {
    fn component(&mut self, flags: u8, content: &[u8]) {
        if flags & 0x08 != 0 {
            // ROOT: restart as an absolute path.
            self.parts.clear();
            self.cur.clear();
            self.absolute = true;
            self.open = false;
            return;
        }
        let fixed: Option<&[u8]> = if flags & 0x02 != 0 {
            Some(b".")
        } else if flags & 0x04 != 0 {
            Some(b"..")
        } else {
            None
        };
        match fixed {
            Some(p) => {
                self.flush();
                self.parts.push(p.to_vec());
            }
            None => {
                self.cur.extend_from_slice(content);
                self.open = true;
                if flags & 0x01 == 0 {
                    self.flush();
                }
            }
        }
    }

    fn flush(&mut self) {
        if self.open {
            self.parts.push(std::mem::take(&mut self.cur));
            self.open = false;
        }
    }

    fn target(&self) -> Vec<u8> {
        let mut t = Vec::new();
        if self.absolute {
            t.push(b'/');
        }
        let mut parts: Vec<&[u8]> = self.parts.iter().map(Vec::as_slice).collect();
        if self.open {
            parts.push(&self.cur);
        }
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                t.push(b'/');
            }
            t.extend_from_slice(p);
        }
        t
    }
}

impl Rr {
    /// Fold one SUSP entry in.
    pub(crate) fn add(&mut self, sig: [u8; 2], e: &[u8]) {
        let data = e.get(4..).unwrap_or_default();
        match &sig {
            b"NM" => {
                let Some((&flags, name)) = data.split_first() else {
                    return; // shorter than 5 bytes: no flags, no name
                };
                if flags & 0x06 != 0 {
                    self.dot = true;
                    return;
                }
                let n = self.name.get_or_insert_with(Vec::new);
                if n.len() + name.len() > MAX_NAME {
                    self.name_long = true;
                    return;
                }
                n.extend_from_slice(name);
            }
            b"PX" => {
                if let Some(m) = le::u32(data, 0) {
                    self.mode = Some(m);
                }
            }
            b"SL" => {
                let Some((_, mut comps)) = data.split_first() else {
                    return;
                };
                while let [cflags, clen, rest @ ..] = comps {
                    let Some(content) = rest.get(..usize::from(*clen)) else {
                        break; // component runs past its entry
                    };
                    self.link_state.component(*cflags, content);
                    comps = rest.get(usize::from(*clen)..).unwrap_or_default();
                }
                self.link = Some(self.link_state.target());
            }
            b"CL" => {
                if let Some(b) = le::u32(data, 0) {
                    self.child = Some(b);
                }
            }
            b"RE" => self.relocated = true,
            b"SF" => self.transformed = Some("sparse (SF) file"),
            b"ZF" => self.transformed = Some("zisofs-compressed (ZF) file"),
            _ => {}
        }
    }

    /// Name too long to be real.
    pub(crate) fn name_too_long(&self) -> bool {
        self.name_long
    }
}

/// Rock Ridge entry signatures: any of them (or `ER`) on the root marks a Rock Ridge volume.
pub(crate) fn is_rrip(sig: [u8; 2]) -> bool {
    matches!(
        &sig,
        b"ER" | b"RR" | b"PX" | b"PN" | b"SL" | b"NM" | b"CL" | b"PL" | b"RE" | b"TF" | b"SF"
    )
}

/// The `SP` entry at the start of the root's `.` System Use area: `Some(skip)` if present.
pub(crate) fn sp_skip(sua: &[u8]) -> Option<usize> {
    match sua {
        [b'S', b'P', l, _, 0xBE, 0xEF, skip, ..] if *l >= 7 => Some(usize::from(*skip)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn entry(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
        let mut e = vec![sig[0], sig[1], (4 + data.len()) as u8, 1];
        e.extend_from_slice(data);
        e
    }

    fn collect(sua: &[u8], read: ReadFn<'_>, size: u64) -> Rr {
        let mut rr = Rr::default();
        each_entry(sua, read, size, &mut |s, e| {
            rr.add(s, e);
            false
        })
        .unwrap();
        rr
    }

    fn no_read(_: u64, _: usize) -> Result<Vec<u8>> {
        panic!("no CE expected")
    }

    #[test]
    fn nm_px_sl() {
        let mut sua = entry(b"NM", b"\x01long");
        sua.extend(entry(b"NM", b"\x00name"));
        let mut px = vec![0u8; 32];
        px[..4].copy_from_slice(&0o120777u32.to_le_bytes());
        sua.extend(entry(b"PX", &px));
        // /usr/../lib/x with "x" split over two component records.
        sua.extend(entry(
            b"SL",
            b"\x00\x08\x00\x00\x03usr\x04\x00\x00\x03lib\x01\x01x",
        ));
        sua.extend(entry(b"SL", b"\x00\x00\x01y"));
        let rr = collect(&sua, &no_read, 1 << 20);
        assert_eq!(rr.name.as_deref(), Some(&b"longname"[..]));
        assert_eq!(rr.mode, Some(0o120777));
        assert_eq!(rr.link.as_deref(), Some(&b"/usr/../lib/xy"[..]));
    }

    #[test]
    fn hostile_lengths() {
        // Length 0: stops, no infinite loop.
        let mut sua = vec![b'N', b'M', 0, 1, 0, b'a'];
        let rr = collect(&sua, &no_read, 1 << 20);
        assert_eq!(rr.name, None);
        // NM of 4 bytes (no flags byte): ignored.
        sua = entry(b"NM", b"");
        assert_eq!(collect(&sua, &no_read, 1 << 20).name, None);
        // Entry past the end of the area.
        sua = entry(b"NM", b"\x00abc");
        sua[2] = 200;
        assert_eq!(collect(&sua, &no_read, 1 << 20).name, None);
        // SL component longer than its entry.
        sua = entry(b"SL", b"\x00\x00\x40ab");
        assert_eq!(
            collect(&sua, &no_read, 1 << 20).link.as_deref(),
            Some(&b""[..])
        );
    }

    #[test]
    fn ce_chains_are_bounded() {
        // A CE pointing at itself (block 1, offset 0, 28 bytes).
        let mut ce = vec![0u8; 24];
        ce[0..4].copy_from_slice(&1u32.to_le_bytes());
        ce[8..12].copy_from_slice(&0u32.to_le_bytes());
        ce[16..20].copy_from_slice(&28u32.to_le_bytes());
        let area = entry(b"CE", &ce);
        assert_eq!(area.len(), 28);
        let reads = std::cell::Cell::new(0);
        let read = |_: u64, len: usize| {
            reads.set(reads.get() + 1);
            let mut a = area.clone();
            a.resize(len, 0);
            Ok(a)
        };
        collect(&area, &read, 1 << 20);
        assert_eq!(reads.get(), MAX_CE);
        // CE outside its block or the volume: not followed.
        assert_eq!(continuation(1, 2040, 28, 1 << 20), None);
        assert_eq!(continuation(1000, 0, 28, 4096), None);
        assert_eq!(continuation(1, 0, 2, 1 << 20), None);
        assert_eq!(continuation(1, 4, 28, 1 << 20), Some((2052, 28)));
    }

    #[test]
    fn sp() {
        assert_eq!(sp_skip(b"SP\x07\x01\xBE\xEF\x00rest"), Some(0));
        assert_eq!(sp_skip(b"SP\x07\x01\xBE\xEE\x00"), None);
        assert_eq!(sp_skip(b"SP\x03"), None);
    }
}
