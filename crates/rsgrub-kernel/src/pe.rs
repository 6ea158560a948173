//! PE/COFF headers and section table (what a UKI is: a PE whose `.linux` section holds a
//! bzImage, with `.initrd`, `.cmdline`, `.osrel`, `.uname` beside it).

use rsgrub_io::{le, ReadAt};
use std::ops::Range;

/// Sections read from the table (the Windows loader's limit; UKIs have about a dozen).
pub const MAX_SECTIONS: u16 = 96;
/// `e_lfanew` beyond this is not a PE header anyone writes.
const MAX_LFANEW: u32 = 1 << 20;
/// Text sections (.cmdline, .uname, .osrel) are read up to this many bytes.
pub const MAX_TEXT: u64 = 4096;

/// Bytes `[offset, offset + size)` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// File offset.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Extent {
    /// As a range of file offsets.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset.saturating_add(self.size)
    }

    /// Read the bytes, at most `max` of them.
    pub fn read(&self, r: &dyn ReadAt, max: u64) -> std::io::Result<Vec<u8>> {
        let n = usize::try_from(self.size.min(max)).unwrap_or(0);
        let mut b = vec![0u8; n];
        r.read_at(self.offset, &mut b)?;
        Ok(b)
    }
}

/// One entry of the section table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeSection {
    /// Name (up to 8 bytes, NUL padding removed).
    pub name: String,
    /// VirtualSize: the section's real length.
    pub virtual_size: u32,
    /// VirtualAddress (RVA).
    pub virtual_address: u32,
    /// SizeOfRawData (rounded up to FileAlignment).
    pub raw_size: u32,
    /// PointerToRawData.
    pub raw_offset: u32,
}

impl PeSection {
    /// The section's bytes in the file: from PointerToRawData, VirtualSize long (the raw
    /// size is padded to the file alignment), but never more than SizeOfRawData.
    pub fn extent(&self) -> Extent {
        let size = if self.virtual_size == 0 {
            self.raw_size
        } else {
            self.virtual_size.min(self.raw_size)
        };
        Extent {
            offset: u64::from(self.raw_offset),
            size: u64::from(size),
        }
    }
}

/// The byte ranges of a UKI's sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uki {
    /// `.linux`: the kernel (a bzImage).
    pub linux: Extent,
    /// `.initrd`.
    pub initrd: Option<Extent>,
    /// `.cmdline`.
    pub cmdline: Option<Extent>,
    /// `.osrel`: os-release of the OS it belongs to.
    pub osrel: Option<Extent>,
    /// `.uname`: the kernel's `uname -r`.
    pub uname: Option<Extent>,
}

/// A PE image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pe {
    /// COFF Machine (0x8664 = x86-64, 0x14c = i386, 0xaa64 = arm64).
    pub machine: u16,
    /// PE32+ (64-bit optional header).
    pub pe32_plus: bool,
    /// Optional header Subsystem (10 = EFI application).
    pub subsystem: Option<u16>,
    /// The section table (at most [`MAX_SECTIONS`]).
    pub sections: Vec<PeSection>,
    /// The UKI sections, if there is a `.linux` section inside the file.
    pub uki: Option<Uki>,
    /// `.cmdline` text (at most 4 KiB, trailing NULs and whitespace removed).
    pub cmdline: Option<String>,
    /// `.uname` text.
    pub uname: Option<String>,
    /// PRETTY_NAME (or NAME) from `.osrel`.
    pub os_name: Option<String>,
    /// The format of the `.linux` section's kernel.
    pub linux_format: Option<Box<crate::Format>>,
}

/// Is there a PE header behind the DOS header in `head`?
pub(crate) fn pe_offset(head: &[u8], r: &dyn ReadAt) -> Option<u64> {
    if head.get(..2) != Some(b"MZ".as_slice()) {
        return None;
    }
    let lfanew = le::u32(head, 0x3c)?;
    if lfanew > MAX_LFANEW {
        return None;
    }
    let mut sig = [0u8; 4];
    r.read_at(u64::from(lfanew), &mut sig).ok()?;
    (&sig == b"PE\0\0").then_some(u64::from(lfanew))
}

/// Parse the PE headers and section table. Sections whose data lies outside the file are
/// reported in `problems` and left out of the UKI ranges.
pub(crate) fn parse(head: &[u8], r: &dyn ReadAt, problems: &mut Vec<String>) -> Option<Pe> {
    let pe = pe_offset(head, r)?;
    let mut coff = [0u8; 24];
    r.read_at(pe, &mut coff).ok()?;
    let machine = le::u16(&coff, 4)?;
    let nsections = le::u16(&coff, 6)?;
    let opt_size = le::u16(&coff, 20)?;
    let opt = pe + 24;
    let mut magic = [0u8; 2];
    let pe32_plus = r.read_at(opt, &mut magic).is_ok() && u16::from_le_bytes(magic) == 0x20b;
    let mut subsystem = None;
    if opt_size >= 70 {
        let mut s = [0u8; 2];
        if r.read_at(opt + 68, &mut s).is_ok() {
            subsystem = Some(u16::from_le_bytes(s));
        }
    }
    let n = if nsections > MAX_SECTIONS {
        problems.push(format!(
            "PE: {nsections} sections: only the first {MAX_SECTIONS} read"
        ));
        MAX_SECTIONS
    } else {
        nsections
    };
    let table_off = opt + u64::from(opt_size);
    let mut table = vec![0u8; usize::from(n) * 40];
    if r.read_at(table_off, &mut table).is_err() {
        problems.push(format!(
            "PE: section table at {table_off} ({n} sections) is past the end of the file"
        ));
        table.clear();
    }
    let mut sections = Vec::new();
    for e in table.chunks_exact(40) {
        let name_bytes = e.get(..8).unwrap_or_default();
        let name = name_bytes.split(|&c| c == 0).next().unwrap_or_default();
        sections.push(PeSection {
            name: String::from_utf8_lossy(name).into_owned(),
            virtual_size: le::u32(e, 8).unwrap_or(0),
            virtual_address: le::u32(e, 12).unwrap_or(0),
            raw_size: le::u32(e, 16).unwrap_or(0),
            raw_offset: le::u32(e, 20).unwrap_or(0),
        });
    }
    let uki = uki_from(&sections, r.size(), Some(problems));
    let text = |x: Option<Extent>| {
        x.and_then(|e| e.read(r, MAX_TEXT).ok()).map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string()
        })
    };
    let (cmdline, uname, os_name) = match &uki {
        Some(u) => (
            text(u.cmdline),
            text(u.uname),
            text(u.osrel).and_then(|o| os_name(&o)),
        ),
        None => (None, None, None),
    };
    Some(Pe {
        machine,
        pe32_plus,
        subsystem,
        sections,
        uki,
        cmdline,
        uname,
        os_name,
        linux_format: None,
    })
}

/// PRETTY_NAME, else NAME, of an os-release text.
fn os_name(osrel: &str) -> Option<String> {
    let field = |key: &str| {
        osrel.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    };
    field("PRETTY_NAME").or_else(|| field("NAME"))
}

/// The UKI ranges of a section table: None unless `.linux` lies inside the file.
pub(crate) fn uki_from(
    sections: &[PeSection],
    size: u64,
    mut problems: Option<&mut Vec<String>>,
) -> Option<Uki> {
    let mut find = |name: &str| {
        let s = sections.iter().find(|s| s.name == name)?;
        let e = s.extent();
        if e.offset.checked_add(e.size).is_some_and(|end| end <= size) {
            Some(e)
        } else {
            if let Some(p) = problems.as_deref_mut() {
                p.push(format!(
                    "PE: section {name} at {} ({} bytes) is outside the {size}-byte file",
                    e.offset, e.size
                ));
            }
            None
        }
    };
    let linux = find(".linux");
    let initrd = find(".initrd");
    let cmdline = find(".cmdline");
    let osrel = find(".osrel");
    let uname = find(".uname");
    Some(Uki {
        linux: linux?,
        initrd,
        cmdline,
        osrel,
        uname,
    })
}
