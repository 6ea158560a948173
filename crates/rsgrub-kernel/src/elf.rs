//! ELF header, program headers, section headers and Xen ELF notes, read the way Xen's libelf
//! reads them (`xen/common/libelf/libelf-dominfo.c`): notes from `PT_NOTE` segments first,
//! then, if those held no Xen note, from `SHT_NOTE` sections.
//!
//! The scanner works on a `Source`, which is either a whole reader (a raw ELF) or the pieces
//! of a decompressed stream kept so far. In the second case a range not yet decompressed is
//! answered with `Fetch::Later`, and the scan returns `Scan::NeedMore` with the range it
//! needs: the caller decompresses (or skips) that far and scans again, so the stream is read
//! no further than the last note (or the section headers) needs, and only the ranges asked
//! for are kept.

use crate::xen::{XenNotes, MAX_XEN_STRING};
use rsgrub_io::ReadAt;

/// `e_phnum` / `e_shnum` above this are refused (Linux's vmlinux has 5 program headers and
/// about 40 sections).
pub const MAX_HEADERS: u16 = 1024;
/// One note segment or section larger than this is read only up to this size.
pub const MAX_NOTE_REGION: u64 = 1 << 20;
/// Note bytes read in all regions together.
pub const MAX_NOTE_BYTES: u64 = 4 << 20;
/// Notes looked at in all regions together (Xen: `ELF_MAX_TOTAL_NOTE_COUNT`).
pub const MAX_NOTES: usize = 4096;
/// How far a string note is searched for its NUL (Xen: ELF_MAX_STRING_LENGTH).
const MAX_STRING_SEARCH: usize = 4096;
/// Regions (PT_NOTE segments + SHT_NOTE sections) looked at.
const MAX_REGIONS: usize = 64;
/// The largest `e_phentsize` / `e_shentsize` accepted.
const MAX_ENTSIZE: u16 = 256;

const PT_NOTE: u32 = 4;
const SHT_NOTE: u32 = 7;
const PN_XNUM: u16 = 0xffff;

/// 32- or 64-bit ELF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfClass {
    /// ELFCLASS32.
    Elf32,
    /// ELFCLASS64.
    Elf64,
}

/// Byte order of the ELF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// ELFDATA2LSB.
    Little,
    /// ELFDATA2MSB.
    Big,
}

/// Where the Xen notes were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteSource {
    /// A `PT_NOTE` program header (what Xen reads first).
    Segment,
    /// A `SHT_NOTE` section (Xen's fallback when no segment held a Xen note).
    Section,
}

/// What the ELF header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// 32 or 64 bit.
    pub class: ElfClass,
    /// Byte order.
    pub endian: Endian,
    /// `e_type` (2 = executable, 3 = shared object / PIE).
    pub elf_type: u16,
    /// `e_machine` (62 = x86-64, 3 = i386).
    pub machine: u16,
    /// `e_entry`.
    pub entry: u64,
    /// `e_phnum`.
    pub phnum: u16,
    /// `e_shnum`.
    pub shnum: u16,
    /// Number of `PT_NOTE` program headers.
    pub note_segments: usize,
    /// Where the Xen notes were found, if any.
    pub xen_notes_in: Option<NoteSource>,
}

impl ElfInfo {
    /// `e_machine` as a name.
    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            3 => "i386",
            62 => "x86-64",
            40 => "ARM",
            183 => "AArch64",
            243 => "RISC-V",
            8 => "MIPS",
            20 => "PowerPC",
            21 => "PowerPC64",
            22 => "s390",
            _ => "unknown machine",
        }
    }
}

/// The answer to a range request.
pub(crate) enum Fetch {
    /// The bytes.
    Bytes(Vec<u8>),
    /// Not decompressed yet: come back when the range `[start, end)` exists.
    Later(u64, u64),
    /// Not there, and never will be: why.
    Missing(&'static str),
}

/// Bytes of an ELF file, by range.
pub(crate) trait Source {
    fn fetch(&self, offset: u64, len: u64) -> Fetch;
}

/// A whole ELF file behind a reader.
pub(crate) struct ReaderSource<'a>(pub &'a dyn ReadAt);

impl Source for ReaderSource<'_> {
    fn fetch(&self, offset: u64, len: u64) -> Fetch {
        let Some(end) = offset.checked_add(len) else {
            return Fetch::Missing("past the end of the file");
        };
        if end > self.0.size() {
            return Fetch::Missing("past the end of the file");
        }
        let Ok(n) = usize::try_from(len) else {
            return Fetch::Missing("too large");
        };
        let mut buf = vec![0u8; n];
        match self.0.read_at(offset, &mut buf) {
            Ok(()) => Fetch::Bytes(buf),
            Err(_) => Fetch::Missing("unreadable"),
        }
    }
}

/// The result of one scan.
#[allow(clippy::large_enum_variant)] // one per scan, never stored
pub(crate) enum Scan {
    /// Finished: what was found (`elf` is None if this is not an ELF file).
    Done(ElfScan),
    /// Needs the source to hold `[start, end)` (the lowest start and the highest end of what
    /// it asked for).
    NeedMore(u64, u64),
}

/// What a finished scan found.
#[derive(Debug, Default)]
pub(crate) struct ElfScan {
    pub elf: Option<ElfInfo>,
    pub xen: XenNotes,
    pub problems: Vec<String>,
    /// A note region could not be read (truncated file, bound): "no Xen notes" is not certain.
    pub incomplete: bool,
}

/// Field reader with the file's byte order and class.
#[derive(Clone, Copy)]
struct Fmt {
    big: bool,
    wide: bool,
}

impl Fmt {
    fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }
    fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
    /// An address-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn addr(self, b: &[u8], off64: usize, off32: usize) -> Option<u64> {
        if self.wide {
            self.u64(b, off64)
        } else {
            self.u32(b, off32).map(u64::from)
        }
    }
}

/// Does `b` start with the ELF magic?
pub fn is_elf(b: &[u8]) -> bool {
    b.get(..4) == Some(b"\x7fELF".as_slice())
}

/// One note region: file offset and size.
struct Region {
    offset: u64,
    size: u64,
    what: &'static str,
}

/// Scan an ELF file for its header and Xen notes.
pub(crate) fn scan(src: &dyn Source) -> Scan {
    let mut out = ElfScan::default();
    // e_ident + the header: 64 bytes for ELF64, 52 for ELF32. Ask for 52 first so a
    // truncated 32-bit file still parses.
    let ident = match src.fetch(0, 52) {
        Fetch::Bytes(b) => b,
        Fetch::Later(a, b) => return Scan::NeedMore(a, b),
        Fetch::Missing(_) => return Scan::Done(out),
    };
    if !is_elf(&ident) {
        return Scan::Done(out);
    }
    let wide = match ident.get(4) {
        Some(1) => false,
        Some(2) => true,
        other => {
            out.problems.push(format!(
                "ELF: unknown class {}",
                other.copied().unwrap_or(0)
            ));
            return Scan::Done(out);
        }
    };
    let big = match ident.get(5) {
        Some(1) => false,
        Some(2) => true,
        other => {
            out.problems.push(format!(
                "ELF: unknown byte order {}",
                other.copied().unwrap_or(0)
            ));
            return Scan::Done(out);
        }
    };
    let f = Fmt { big, wide };
    let hdr = if wide {
        match src.fetch(0, 64) {
            Fetch::Bytes(b) => b,
            Fetch::Later(a, b) => return Scan::NeedMore(a, b),
            Fetch::Missing(why) => {
                out.problems.push(format!("ELF header truncated ({why})"));
                return Scan::Done(out);
            }
        }
    } else {
        ident
    };
    let (Some(elf_type), Some(machine)) = (f.u16(&hdr, 16), f.u16(&hdr, 18)) else {
        return Scan::Done(out);
    };
    let entry = f.addr(&hdr, 24, 24).unwrap_or(0);
    let phoff = f.addr(&hdr, 32, 28).unwrap_or(0);
    let shoff = f.addr(&hdr, 40, 32).unwrap_or(0);
    let (po, ps) = if wide { (54, 56) } else { (42, 44) };
    let phentsize = f.u16(&hdr, po).unwrap_or(0);
    let phnum = f.u16(&hdr, ps).unwrap_or(0);
    let (so, ss) = if wide { (58, 60) } else { (46, 48) };
    let shentsize = f.u16(&hdr, so).unwrap_or(0);
    let shnum = f.u16(&hdr, ss).unwrap_or(0);
    let mut info = ElfInfo {
        class: if wide {
            ElfClass::Elf64
        } else {
            ElfClass::Elf32
        },
        endian: if big { Endian::Big } else { Endian::Little },
        elf_type,
        machine,
        entry,
        phnum,
        shnum,
        note_segments: 0,
        xen_notes_in: None,
    };

    // Program headers → PT_NOTE regions.
    let mut segs = Vec::new();
    let min_ph: u16 = if wide { 56 } else { 32 };
    if phnum == PN_XNUM {
        out.problems
            .push("ELF: e_phnum is PN_XNUM (extended numbering): not supported".into());
        out.incomplete = true;
    } else if phnum > MAX_HEADERS {
        out.problems.push(format!(
            "ELF: e_phnum {phnum} is more than {MAX_HEADERS}: program headers not read"
        ));
        out.incomplete = true;
    } else if phnum > 0 && !(min_ph..=MAX_ENTSIZE).contains(&phentsize) {
        out.problems.push(format!(
            "ELF: bad e_phentsize {phentsize}: program headers not read"
        ));
        out.incomplete = true;
    } else if phnum > 0 {
        let len = u64::from(phnum) * u64::from(phentsize);
        match src.fetch(phoff, len) {
            Fetch::Later(a, b) => return Scan::NeedMore(a, b),
            Fetch::Missing(why) => {
                out.problems.push(format!(
                    "ELF: program headers at {phoff} ({len} bytes) {why}"
                ));
                out.incomplete = true;
            }
            Fetch::Bytes(t) => {
                for i in 0..usize::from(phnum) {
                    let base = i * usize::from(phentsize);
                    let Some(p_type) = f.u32(&t, base) else { break };
                    if p_type != PT_NOTE {
                        continue;
                    }
                    info.note_segments += 1;
                    let off = f.addr(&t, base + 8, base + 4).unwrap_or(0);
                    let size = f.addr(&t, base + 32, base + 16).unwrap_or(0);
                    // Xen skips note segments with p_offset 0 (an old binutils bug).
                    if off == 0 || size == 0 {
                        continue;
                    }
                    segs.push(Region {
                        offset: off,
                        size,
                        what: "PT_NOTE segment",
                    });
                }
            }
        }
    }
    match read_regions(src, f, &segs, &mut out) {
        Some((a, b)) => return Scan::NeedMore(a, b),
        None if out.xen.count > 0 => {
            info.xen_notes_in = Some(NoteSource::Segment);
            out.elf = Some(info);
            return Scan::Done(out);
        }
        None => {}
    }

    // No Xen note in a segment: Xen falls back to SHT_NOTE sections.
    let min_sh: u16 = if wide { 64 } else { 40 };
    let mut secs = Vec::new();
    if shoff == 0 || shnum == 0 {
        // No section headers (or extended numbering with e_shnum 0): nothing more to read.
    } else if shnum > MAX_HEADERS {
        out.problems.push(format!(
            "ELF: e_shnum {shnum} is more than {MAX_HEADERS}: section headers not read"
        ));
        out.incomplete = true;
    } else if !(min_sh..=MAX_ENTSIZE).contains(&shentsize) {
        out.problems.push(format!(
            "ELF: bad e_shentsize {shentsize}: section headers not read"
        ));
        out.incomplete = true;
    } else {
        let len = u64::from(shnum) * u64::from(shentsize);
        match src.fetch(shoff, len) {
            Fetch::Later(a, b) => return Scan::NeedMore(a, b),
            Fetch::Missing(why) => {
                out.problems.push(format!(
                    "ELF: section headers at {shoff} ({len} bytes) {why}"
                ));
                out.incomplete = true;
            }
            Fetch::Bytes(t) => {
                // Section 0 is the null section (Xen starts at 1 too).
                for i in 1..usize::from(shnum) {
                    let base = i * usize::from(shentsize);
                    let Some(sh_type) = f.u32(&t, base + 4) else {
                        break;
                    };
                    if sh_type != SHT_NOTE {
                        continue;
                    }
                    let off = f.addr(&t, base + 24, base + 16).unwrap_or(0);
                    let size = f.addr(&t, base + 32, base + 20).unwrap_or(0);
                    if size == 0 {
                        continue;
                    }
                    secs.push(Region {
                        offset: off,
                        size,
                        what: "SHT_NOTE section",
                    });
                }
            }
        }
    }
    if let Some((a, b)) = read_regions(src, f, &secs, &mut out) {
        return Scan::NeedMore(a, b);
    }
    if out.xen.count > 0 {
        info.xen_notes_in = Some(NoteSource::Section);
    }
    out.elf = Some(info);
    Scan::Done(out)
}

/// Read and parse the notes of `regions`. Returns `Some((start, end))` if the source needs
/// that range first. Before asking for more it checks every region, so one call asks for
/// everything it needs (the lowest start, the highest end).
fn read_regions(
    src: &dyn Source,
    f: Fmt,
    regions: &[Region],
    out: &mut ElfScan,
) -> Option<(u64, u64)> {
    let mut need: Option<(u64, u64)> = None;
    let mut datas = Vec::new();
    let mut total = 0u64;
    for r in regions.iter().take(MAX_REGIONS) {
        if total >= MAX_NOTE_BYTES {
            out.problems.push(format!(
                "ELF: more than {MAX_NOTE_BYTES} bytes of notes: the rest not read"
            ));
            out.incomplete = true;
            break;
        }
        let size = if r.size > MAX_NOTE_REGION {
            out.problems.push(format!(
                "ELF: {} of {} bytes: only the first {MAX_NOTE_REGION} read",
                r.what, r.size
            ));
            out.incomplete = true;
            MAX_NOTE_REGION
        } else {
            r.size
        };
        total = total.saturating_add(size);
        match src.fetch(r.offset, size) {
            Fetch::Bytes(b) => datas.push((r.what, b)),
            Fetch::Later(a, b) => need = Some(need.map_or((a, b), |(x, y)| (x.min(a), y.max(b)))),
            Fetch::Missing(why) => {
                out.problems.push(format!(
                    "ELF: {} at {} ({} bytes) {why}",
                    r.what, r.offset, size
                ));
                out.incomplete = true;
            }
        }
    }
    if regions.len() > MAX_REGIONS {
        out.problems.push(format!(
            "ELF: {} note regions: only the first {MAX_REGIONS} read",
            regions.len()
        ));
        out.incomplete = true;
    }
    if need.is_some() {
        return need;
    }
    for (what, data) in datas {
        parse_notes(f, what, &data, out);
    }
    None
}

fn align4(n: u32) -> Option<usize> {
    let n = usize::try_from(n).ok()?;
    Some(n.checked_add(3)? & !3)
}

/// Walk the notes of one region; record the Xen ones.
fn parse_notes(f: Fmt, what: &str, data: &[u8], out: &mut ElfScan) {
    let mut pos = 0usize;
    while pos < data.len() {
        if out.xen.notes_seen >= MAX_NOTES {
            out.problems.push(format!(
                "ELF: more than {MAX_NOTES} notes: the rest not read"
            ));
            out.incomplete = true;
            return;
        }
        let (Some(namesz), Some(descsz), Some(ntype)) =
            (f.u32(data, pos), f.u32(data, pos + 4), f.u32(data, pos + 8))
        else {
            // Trailing padding shorter than a note header.
            return;
        };
        out.xen.notes_seen += 1;
        let name_start = pos + 12;
        let desc_start = align4(namesz).and_then(|n| name_start.checked_add(n));
        let next = desc_start.and_then(|d| align4(descsz).and_then(|n| d.checked_add(n)));
        let (Some(desc_start), Some(next)) = (desc_start, next) else {
            out.problems.push(format!(
                "ELF: note in {what} with namesz {namesz} descsz {descsz} overflows"
            ));
            return;
        };
        let name_end = name_start.saturating_add(namesz as usize);
        let desc_end = desc_start.saturating_add(descsz as usize);
        let (Some(name), Some(desc)) = (
            data.get(name_start..name_end),
            data.get(desc_start..desc_end),
        ) else {
            out.problems.push(format!(
                "ELF: note in {what} with namesz {namesz} descsz {descsz} runs past the end of the {what}"
            ));
            out.incomplete = true;
            return;
        };
        // Xen compares the NUL-terminated name with "Xen".
        if name.get(..4) == Some(b"Xen\0".as_slice()) {
            let numeric = match desc.len() {
                1 => desc.first().map(|&v| u64::from(v)),
                2 => f.u16(desc, 0).map(u64::from),
                4 => f.u32(desc, 0).map(u64::from),
                8 => f.u64(desc, 0),
                _ => None,
            };
            // Like Xen's elf_strval, the string runs to the first NUL even past descsz
            // (Linux's FEATURES note is `.ascii`, ended by the alignment padding); here it
            // must end inside the region, within 4096 bytes.
            let rest = data.get(desc_start..).unwrap_or_default();
            let string = rest
                .iter()
                .take(MAX_STRING_SEARCH)
                .position(|&c| c == 0)
                .and_then(|nul| {
                    rest.get(..nul.min(MAX_XEN_STRING))
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                });
            out.xen.record(ntype, numeric, string, &mut out.problems);
        }
        pos = next;
    }
}
