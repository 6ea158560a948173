//! The x86 Linux boot protocol's setup header (Documentation/arch/x86/boot.rst): the fields
//! a loader reads, each only when the protocol version that introduced it says it is there.

use rsgrub_io::le;

/// `xloadflags` bits (protocol 2.12+).
pub mod xlf {
    /// XLF_KERNEL_64: 64-bit entry point at 0x200.
    pub const KERNEL_64: u16 = 1 << 0;
    /// XLF_CAN_BE_LOADED_ABOVE_4G.
    pub const CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
    /// XLF_EFI_HANDOVER_32.
    pub const EFI_HANDOVER_32: u16 = 1 << 2;
    /// XLF_EFI_HANDOVER_64.
    pub const EFI_HANDOVER_64: u16 = 1 << 3;
    /// XLF_EFI_KEXEC.
    pub const EFI_KEXEC: u16 = 1 << 4;
    /// XLF_5LEVEL.
    pub const FIVE_LEVEL: u16 = 1 << 5;
    /// XLF_5LEVEL_ENABLED.
    pub const FIVE_LEVEL_ENABLED: u16 = 1 << 6;

    /// Names of the bits set in `flags`.
    pub fn names(flags: u16) -> Vec<&'static str> {
        [
            (KERNEL_64, "kernel-64"),
            (CAN_BE_LOADED_ABOVE_4G, "above-4g"),
            (EFI_HANDOVER_32, "efi-handover-32"),
            (EFI_HANDOVER_64, "efi-handover-64"),
            (EFI_KEXEC, "efi-kexec"),
            (FIVE_LEVEL, "5level"),
            (FIVE_LEVEL_ENABLED, "5level-enabled"),
        ]
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|&(_, n)| n)
        .collect()
    }
}

/// The setup header of a bzImage, and where its payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BzImage {
    /// Boot protocol version, e.g. 0x020f for 2.15.
    pub protocol: u16,
    /// `setup_sects` as stored (0 means 4).
    pub setup_sects: u8,
    /// Bytes before the protected-mode kernel: `(setup_sects or 4, + 1) * 512`.
    pub setup_size: u32,
    /// `syssize` (16-byte paragraphs of protected-mode code).
    pub syssize: u32,
    /// `loadflags` (bit 0: LOADED_HIGH, i.e. a bzImage rather than a zImage).
    pub loadflags: u8,
    /// `relocatable_kernel` (2.05+).
    pub relocatable: Option<bool>,
    /// `kernel_alignment` (2.05+).
    pub kernel_alignment: Option<u32>,
    /// `xloadflags` (2.12+); see [`xlf`].
    pub xloadflags: Option<u16>,
    /// `cmdline_size` (2.06+).
    pub cmdline_size: Option<u32>,
    /// `payload_offset` (2.08+), from the start of the protected-mode kernel.
    pub payload_offset: Option<u32>,
    /// `payload_length` (2.08+).
    pub payload_length: Option<u32>,
    /// `pref_address` (2.10+).
    pub pref_address: Option<u64>,
    /// `init_size` (2.10+): memory the kernel needs while decompressing.
    pub init_size: Option<u32>,
    /// Where the payload starts in the file (`setup_size + payload_offset`), if it and
    /// `payload_length` lie inside the file.
    pub payload_file_offset: Option<u64>,
    /// The payload's format, by its magic number.
    pub compression: Option<crate::Compression>,
    /// The payload's first bytes.
    pub payload_magic: Vec<u8>,
    /// The `kernel_version` string, if it lies inside the setup area.
    pub kernel_version: Option<String>,
    /// The image is also a PE file (the EFI stub).
    pub efi_stub: bool,
}

impl BzImage {
    /// "2.15".
    pub fn protocol_string(&self) -> String {
        format!("{}.{:02}", self.protocol >> 8, self.protocol & 0xff)
    }
}

/// Bytes of the header this module reads (the setup header ends before 0x280).
pub(crate) const HEAD: usize = 0x280;

/// Is this the start of an x86 boot sector with a setup header ("HdrS", protocol 2.00+)?
pub(crate) fn is_bzimage(head: &[u8]) -> bool {
    le::u16(head, 0x1fe) == Some(0xAA55) && head.get(0x202..0x206) == Some(b"HdrS".as_slice())
}

/// Parse the setup header in `head` (the first bytes of a file of `size` bytes). The
/// payload location is checked against `size`; problems go to `problems`.
pub(crate) fn parse(
    head: &[u8],
    size: u64,
    r: &dyn rsgrub_io::ReadAt,
    problems: &mut Vec<String>,
) -> Option<BzImage> {
    if !is_bzimage(head) {
        return None;
    }
    let protocol = le::u16(head, 0x206)?;
    let at_least = |v: u16| protocol >= v;
    let setup_sects = head.get(0x1f1).copied().unwrap_or(0);
    let sects = if setup_sects == 0 { 4 } else { setup_sects };
    let setup_size = (u32::from(sects) + 1) * 512;
    let payload_offset = at_least(0x0208).then(|| le::u32(head, 0x248)).flatten();
    let payload_length = at_least(0x0208).then(|| le::u32(head, 0x24c)).flatten();
    let mut bz = BzImage {
        protocol,
        setup_sects,
        setup_size,
        syssize: le::u32(head, 0x1f4).unwrap_or(0),
        loadflags: head.get(0x211).copied().unwrap_or(0),
        relocatable: at_least(0x0205)
            .then(|| head.get(0x234).map(|&b| b != 0))
            .flatten(),
        kernel_alignment: at_least(0x0205).then(|| le::u32(head, 0x230)).flatten(),
        xloadflags: at_least(0x020c).then(|| le::u16(head, 0x236)).flatten(),
        cmdline_size: at_least(0x0206).then(|| le::u32(head, 0x238)).flatten(),
        payload_offset,
        payload_length,
        pref_address: at_least(0x020a).then(|| le::u64(head, 0x258)).flatten(),
        init_size: at_least(0x020a).then(|| le::u32(head, 0x260)).flatten(),
        payload_file_offset: None,
        compression: None,
        payload_magic: Vec::new(),
        kernel_version: None,
        efi_stub: false,
    };
    if u64::from(setup_size) > size {
        problems.push(format!(
            "bzImage: setup_sects {setup_sects} puts the kernel at {setup_size}, past the end of the {size}-byte file"
        ));
        return Some(bz);
    }
    bz.kernel_version = kernel_version(head, r, setup_size);
    let (Some(po), Some(pl)) = (payload_offset, payload_length) else {
        problems.push(format!(
            "bzImage: boot protocol {} is older than 2.08: the payload is not located",
            bz.protocol_string()
        ));
        return Some(bz);
    };
    let start = u64::from(setup_size) + u64::from(po);
    let end = start + u64::from(pl);
    if pl == 0 || end > size {
        problems.push(format!(
            "bzImage: payload_offset {po} + payload_length {pl} (from {setup_size}) is outside the {size}-byte file"
        ));
        return Some(bz);
    }
    bz.payload_file_offset = Some(start);
    let mut magic = vec![0u8; usize::try_from(u64::from(pl).min(16)).unwrap_or(0)];
    if r.read_at(start, &mut magic).is_ok() {
        bz.compression = crate::Compression::detect(&magic);
        bz.payload_magic = magic;
    }
    Some(bz)
}

/// The NUL-terminated `kernel_version` string at `0x200 + kernel_version` when it lies in
/// the setup area.
fn kernel_version(head: &[u8], r: &dyn rsgrub_io::ReadAt, setup_size: u32) -> Option<String> {
    let ptr = le::u16(head, 0x20e)?;
    if ptr == 0 {
        return None;
    }
    let off = u64::from(ptr) + 0x200;
    let avail = u64::from(setup_size).checked_sub(off)?.min(128);
    let mut b = vec![0u8; usize::try_from(avail).ok()?];
    r.read_at(off, &mut b).ok()?;
    let s = b.split(|&c| c == 0).next()?;
    if s.is_empty() || !s.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return None;
    }
    Some(String::from_utf8_lossy(s).into_owned())
}
