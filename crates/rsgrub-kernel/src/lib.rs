//! What kind of kernel is this, and can Xen boot it as PV or PVH?
//!
//! [`identify`] looks at a kernel file (bytes from a hostile guest) and says:
//!
//! * its [`Format`]: an x86 **bzImage** (setup header fields, payload location and its
//!   compression), a raw **ELF**, a **compressed** file (a gzip'd vmlinux, …), a **PE**
//!   image (a UKI with `.linux`/`.initrd`/`.cmdline`/`.osrel`/`.uname` sections, or
//!   another EFI program), or unknown;
//! * the ELF inside it ([`ElfInfo`]) and its Xen ELF notes ([`XenNotes`]): for a bzImage
//!   the payload is decompressed — bounded by [`MAX_OUTPUT`] and stopped as soon as the ELF
//!   header, program headers and notes are in hand; for a UKI, the `.linux` kernel is
//!   looked at the same way;
//! * a [`Verdict`]: PV, PVH, both, not Xen, or unknown, following Xen's own checks
//!   (libelf's `elf_xen_parse` and `elf_xen_note_check`).
//!
//! [`uki_sections`] gives the byte ranges of a UKI's sections, for booting it.
//!
//! Nothing here panics or fails on any input: every header field is checked against the
//! file size, counts are capped ([`elf::MAX_HEADERS`], [`elf::MAX_NOTES`],
//! [`elf::MAX_NOTE_BYTES`], [`pe::MAX_SECTIONS`]), note sizes are aligned with checked
//! arithmetic and must stay inside their segment, and decompression has an output bound
//! ([`MAX_OUTPUT`]), an input bound ([`MAX_INPUT`]) and a decoder memory limit (xz/lzma
//! dictionaries ≤ 160 MiB, zstd windows ≤ 128 MiB). A range the scan needs beyond the output
//! bound is refused before decompressing towards it.
//!
//! Because decompression stops at the notes, a stream's trailing checksum is never reached:
//! a payload corrupted after its notes still identifies by what precedes the damage. This is
//! an identification, not an integrity check.
//!
//! Decoders: flate2/miniz_oxide (gzip), bzip2/libbz2-rs-sys, lzma-rust2 without its
//! `optimization` feature, i.e. `forbid(unsafe_code)` (xz with the x86 BCJ filter the kernel
//! uses, legacy lzma), lz4_flex's safe block decoder and lzokay (LZO1X), all pure Rust; and
//! libzstd (the reference zstd decoder, C, through the `zstd` crate), as the fs and disk
//! crates use it. The legacy LZ4 frame and the lzop container are parsed here.
#![forbid(unsafe_code)]

mod bzimage;
mod decompress;
pub mod elf;
pub mod pe;
pub mod xen;

pub use bzimage::{xlf, BzImage};
pub use decompress::{Compression, MAX_INPUT, MAX_OUTPUT};
pub use elf::{ElfClass, ElfInfo, Endian, NoteSource};
pub use pe::{Extent, Pe, PeSection, Uki};
pub use xen::{Verdict, XenNotes};

use rsgrub_io::{ReadAt, Slice};
use std::fmt::Write as _;

/// The container format of a kernel file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// An x86 bzImage (Linux boot protocol setup header).
    BzImage(BzImage),
    /// A raw ELF file (a vmlinux, a Xen PV kernel, a unikernel).
    Elf,
    /// A whole file compressed with this format; [`KernelInfo::elf`] says whether an ELF was
    /// inside.
    Compressed(Compression),
    /// A PE image: a UKI when [`Pe::uki`] is set.
    Pe(Pe),
    /// Not a kernel format known here.
    Unknown,
}

/// Everything [`identify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    /// The container format.
    pub format: Format,
    /// The ELF header of the kernel proper (inside the payload / the compressed file /
    /// the UKI's `.linux`), if one was found.
    pub elf: Option<ElfInfo>,
    /// The Xen notes (`count == 0` when there are none).
    pub xen: XenNotes,
    /// Can Xen boot it as PV, PVH?
    pub verdict: Verdict,
    /// Bytes decompressed to get here (None when nothing was decompressed).
    pub decompressed: Option<u64>,
    /// Why the verdict is what it is when something was odd: truncation, bounds, formats
    /// not inspected, Xen's reasons for refusing the notes.
    pub problems: Vec<String>,
}

impl KernelInfo {
    fn new(format: Format) -> Self {
        KernelInfo {
            format,
            elf: None,
            xen: XenNotes::default(),
            verdict: Verdict::Unknown,
            decompressed: None,
            problems: Vec::new(),
        }
    }

    /// One human-readable line (plus the problems, after "; ").
    pub fn describe(&self) -> String {
        let mut s = String::new();
        describe_format(&self.format, &mut s);
        if let Some(e) = &self.elf {
            let bits = match e.class {
                ElfClass::Elf32 => 32,
                ElfClass::Elf64 => 64,
            };
            let _ = write!(s, "; ELF{bits} {}", e.machine_name());
            if let Some(n) = self.decompressed {
                let _ = write!(s, " (found after decompressing {})", human(n));
            }
        }
        let _ = write!(s, "; Xen: {}", self.verdict.label());
        let x = &self.xen;
        if x.count > 0 {
            let mut parts = Vec::new();
            for (k, v) in [
                ("XEN_VERSION", &x.xen_version),
                ("GUEST_OS", &x.guest_os),
                ("GUEST_VERSION", &x.guest_version),
                ("LOADER", &x.loader),
            ] {
                if let Some(v) = v {
                    parts.push(format!("{k} {v:?}"));
                }
            }
            if let Some(p) = x.phys32_entry {
                parts.push(format!("PHYS32_ENTRY {p:#x}"));
            }
            if let Some(p) = x.entry {
                parts.push(format!("ENTRY {p:#x}"));
            }
            let _ = write!(s, " ({})", parts.join(", "));
        }
        if !self.problems.is_empty() {
            let _ = write!(s, "; {}", self.problems.join("; "));
        }
        s
    }
}

fn human(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

fn describe_format(f: &Format, s: &mut String) {
    match f {
        Format::BzImage(b) => {
            let _ = write!(
                s,
                "bzImage, boot protocol {}, setup_sects {}",
                b.protocol_string(),
                b.setup_sects
            );
            if let Some(x) = b.xloadflags {
                let _ = write!(s, ", xloadflags {x:#x} [{}]", xlf::names(x).join(","));
            }
            if b.efi_stub {
                s.push_str(", EFI stub");
            }
            if let Some(v) = &b.kernel_version {
                let _ = write!(s, ", version {v:?}");
            }
            if let (Some(off), Some(len)) = (b.payload_file_offset, b.payload_length) {
                let c = b.compression.map_or("unrecognised", Compression::name);
                let _ = write!(s, "; {c} payload of {} at {off}", human(u64::from(len)));
            }
        }
        Format::Elf => s.push_str("ELF"),
        Format::Compressed(c) => {
            let _ = write!(s, "{}-compressed file", c.name());
        }
        Format::Pe(p) => {
            if p.uki.is_some() {
                s.push_str("PE/UKI");
                if let Some(u) = &p.uname {
                    let _ = write!(s, " {u:?}");
                }
                if let Some(o) = &p.os_name {
                    let _ = write!(s, " ({o})");
                }
                if let Some(inner) = &p.linux_format {
                    s.push_str(", .linux: ");
                    describe_format(inner, s);
                }
            } else {
                let _ = write!(
                    s,
                    "PE image (machine {:#x}, {} sections, no .linux)",
                    p.machine,
                    p.sections.len()
                );
            }
        }
        Format::Unknown => s.push_str("unknown format"),
    }
}

/// The byte ranges of a UKI's `.linux`, `.initrd`, `.cmdline`, `.osrel` and `.uname`
/// sections, or None if `r` is not a PE file with a `.linux` section inside it.
pub fn uki_sections(r: &dyn ReadAt) -> Option<Uki> {
    let head = read_head(r);
    if bzimage::is_bzimage(&head) {
        // A bzImage with an EFI stub is a PE too, but not a UKI.
        return None;
    }
    let mut problems = Vec::new();
    pe::parse(&head, r, &mut problems)?.uki
}

/// Identify a kernel file. Never fails: anything unrecognised is [`Format::Unknown`] with
/// [`Verdict::Unknown`].
pub fn identify(r: &dyn ReadAt) -> KernelInfo {
    identify_at_depth(r, 0, false)
}

/// [`identify`] at the cost the boot path can pay: payloads in codecs whose decoders here
/// run far slower than the copy (gzip, xz, lzma, bzip2: Debian's generic kernel is xz, and
/// its notes are 23 MiB in) are not decompressed, and the verdict stays
/// [`Verdict::Unknown`] with a problem saying so. `rsgrub inspect` uses [`identify`].
pub fn identify_quick(r: &dyn ReadAt) -> KernelInfo {
    identify_at_depth(r, 0, true)
}

fn read_head(r: &dyn ReadAt) -> Vec<u8> {
    let n = usize::try_from(r.size().min(bzimage::HEAD as u64)).unwrap_or(0);
    let mut head = vec![0u8; n];
    if r.read_at(0, &mut head).is_err() {
        head.clear();
    }
    head
}

fn identify_at_depth(r: &dyn ReadAt, depth: u32, quick: bool) -> KernelInfo {
    let head = read_head(r);
    let size = r.size();
    let mut problems = Vec::new();

    if let Some(mut bz) = bzimage::parse(&head, size, r, &mut problems) {
        bz.efi_stub = pe::pe_offset(&head, r).is_some();
        let payload = bz.payload_file_offset.zip(bz.payload_length);
        let compression = bz.compression;
        let magic = bz.payload_magic.clone();
        let mut info = KernelInfo::new(Format::BzImage(bz));
        info.problems = problems;
        match (payload, compression) {
            (Some((off, len)), Some(c)) => {
                inspect_compressed(r, off, u64::from(len), c, quick, &mut info);
            }
            (Some(_), None) => {
                let hex: Vec<String> = magic.iter().take(6).map(|b| format!("{b:02x}")).collect();
                info.problems.push(format!(
                    "bzImage payload compression not recognised (magic {}): not inspected",
                    hex.join(" ")
                ));
            }
            (None, _) => {}
        }
        return info;
    }

    if let Some(mut p) = pe::parse(&head, r, &mut problems) {
        let linux = p.uki.as_ref().map(|u| u.linux);
        let mut inner = None;
        if let Some(ext) = linux {
            if depth == 0 {
                match Slice::new(r, ext.offset, ext.size) {
                    Ok(slice) => inner = Some(identify_at_depth(&slice, depth + 1, quick)),
                    Err(e) => problems.push(format!("PE: .linux unreadable: {e}")),
                }
            } else {
                problems.push("PE: a UKI inside a UKI's .linux is not inspected".into());
            }
        }
        let mut info = KernelInfo::new(Format::Unknown);
        if let Some(k) = inner {
            p.linux_format = Some(Box::new(k.format));
            info.elf = k.elf;
            info.xen = k.xen;
            info.verdict = k.verdict;
            info.decompressed = k.decompressed;
            problems.extend(k.problems.into_iter().map(|m| format!(".linux: {m}")));
        } else if p.uki.is_none() {
            // A PE without .linux (an EFI program, a boot stub): nothing Xen could boot.
            problems.push("PE image without a .linux section".into());
            info.verdict = Verdict::NotXen;
        }
        info.format = Format::Pe(p);
        info.problems = problems;
        return info;
    }

    if elf::is_elf(&head) {
        let mut info = KernelInfo::new(Format::Elf);
        let scan = match elf::scan(&elf::ReaderSource(r)) {
            elf::Scan::Done(s) => s,
            // A reader source never answers Later.
            elf::Scan::NeedMore(..) => elf::ElfScan::default(),
        };
        apply_scan(scan, &mut info);
        info.problems.splice(0..0, problems);
        return info;
    }

    if let Some(c) = Compression::detect(&head) {
        let mut info = KernelInfo::new(Format::Compressed(c));
        info.problems = problems;
        inspect_compressed(r, 0, size, c, quick, &mut info);
        return info;
    }

    let mut info = KernelInfo::new(Format::Unknown);
    info.problems = problems;
    info
}

/// Decompress (bounded) and scan; fill `info`.
fn inspect_compressed(
    r: &dyn ReadAt,
    off: u64,
    len: u64,
    c: Compression,
    quick: bool,
    info: &mut KernelInfo,
) {
    if quick && !c.is_fast() {
        info.problems.push(format!(
            "{} payload not decompressed on the boot path (slow to decode); \
             `rsgrub inspect` checks it",
            c.name()
        ));
        info.verdict = Verdict::Unknown;
        return;
    }
    let d = decompress::decompress_and_scan(r, off, len, c, &mut info.problems);
    if c != Compression::None {
        info.decompressed = Some(d.produced);
    }
    let not_elf = d.scan.elf.is_none();
    apply_scan(d.scan, info);
    if not_elf && d.produced > 0 && !d.hit_bound {
        info.problems.push(format!(
            "the {} data is not an ELF file",
            if c == Compression::None {
                "payload".to_string()
            } else {
                format!("decompressed {}", c.name())
            }
        ));
    }
}

fn apply_scan(scan: elf::ElfScan, info: &mut KernelInfo) {
    info.problems.extend(scan.problems);
    let Some(elf) = scan.elf else {
        info.verdict = Verdict::Unknown;
        return;
    };
    info.elf = Some(elf);
    let v = Verdict::from_notes(&scan.xen);
    info.verdict = if v == Verdict::NotXen && scan.incomplete {
        Verdict::Unknown
    } else {
        v
    };
    if scan.xen.count > 0 && !v.pv() {
        if let Some(why) = scan.xen.pv_refusal() {
            info.problems.push(format!("not PV: {why}"));
        }
    }
    info.xen = scan.xen;
}
