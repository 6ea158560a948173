//! Xen ELF notes (`xen/include/public/elfnote.h`) and the checks Xen's libelf makes on them
//! (`elf_xen_parse_note`, `elf_xen_parse_features`, `elf_xen_note_check` in
//! `xen/common/libelf/libelf-dominfo.c`).

/// Strings longer than this are cut (Xen itself keeps 16–32 bytes of each).
pub const MAX_XEN_STRING: usize = 256;
/// Note types remembered in [`XenNotes::types`].
const MAX_TYPES: usize = 64;

/// `XEN_ELFNOTE_*` note types.
pub mod note {
    /// NAME=VALUE pair (string).
    pub const INFO: u32 = 0;
    /// Virtual address of the entry point (numeric).
    pub const ENTRY: u32 = 1;
    /// Virtual address of the hypercall transfer page (numeric).
    pub const HYPERCALL_PAGE: u32 = 2;
    /// Virtual address where the kernel image should be mapped (numeric).
    pub const VIRT_BASE: u32 = 3;
    /// Offset of the ELF paddr field from the pseudo-physical address (numeric).
    pub const PADDR_OFFSET: u32 = 4;
    /// Version of Xen the kernel works with (string, "xen-3.0").
    pub const XEN_VERSION: u32 = 5;
    /// Name of the guest OS (string).
    pub const GUEST_OS: u32 = 6;
    /// Version of the guest OS (string).
    pub const GUEST_VERSION: u32 = 7;
    /// Loader type (string, "generic").
    pub const LOADER: u32 = 8;
    /// PAE mode (string: "yes", "no", "bimodal").
    pub const PAE_MODE: u32 = 9;
    /// Feature list (string, '|'-separated, '!' = required).
    pub const FEATURES: u32 = 10;
    /// The kernel wants its symbol table loaded (string "yes"/"no").
    pub const BSD_SYMTAB: u32 = 11;
    /// Lowest address the hypervisor hole can begin at (numeric).
    pub const HV_START_LOW: u32 = 12;
    /// Mask/value pairs of L1 page table entries with valid MFNs (numeric array).
    pub const L1_MFN_VALID: u32 = 13;
    /// The guest supports cooperative suspend cancellation (numeric).
    pub const SUSPEND_CANCEL: u32 = 14;
    /// Virtual address of the initial P->M table (numeric).
    pub const INIT_P2M: u32 = 15;
    /// The kernel can take an unmapped initrd by PFN (numeric).
    pub const MOD_START_PFN: u32 = 16;
    /// Bitmap of supported features (numeric).
    pub const SUPPORTED_FEATURES: u32 = 17;
    /// Physical 32-bit entry point: the kernel boots as PVH (numeric).
    pub const PHYS32_ENTRY: u32 = 18;

    /// The `XEN_ELFNOTE_` name of a type.
    pub fn name(t: u32) -> Option<&'static str> {
        Some(match t {
            INFO => "INFO",
            ENTRY => "ENTRY",
            HYPERCALL_PAGE => "HYPERCALL_PAGE",
            VIRT_BASE => "VIRT_BASE",
            PADDR_OFFSET => "PADDR_OFFSET",
            XEN_VERSION => "XEN_VERSION",
            GUEST_OS => "GUEST_OS",
            GUEST_VERSION => "GUEST_VERSION",
            LOADER => "LOADER",
            PAE_MODE => "PAE_MODE",
            FEATURES => "FEATURES",
            BSD_SYMTAB => "BSD_SYMTAB",
            HV_START_LOW => "HV_START_LOW",
            L1_MFN_VALID => "L1_MFN_VALID",
            SUSPEND_CANCEL => "SUSPEND_CANCEL",
            INIT_P2M => "INIT_P2M",
            MOD_START_PFN => "MOD_START_PFN",
            SUPPORTED_FEATURES => "SUPPORTED_FEATURES",
            PHYS32_ENTRY => "PHYS32_ENTRY",
            _ => return None,
        })
    }
}

/// Feature names Xen knows in `XEN_ELFNOTE_FEATURES` (`elf_xen_feature_names`). A required
/// (`!`) feature not in this list makes Xen refuse the kernel.
const KNOWN_FEATURES: &[&str] = &[
    "writable_page_tables",
    "writable_descriptor_tables",
    "auto_translated_physmap",
    "supervisor_mode_kernel",
    "pae_pgdir_above_4gb",
    "hvm_callback_vector",
    "dom0",
];

/// The Xen notes of a kernel. Each field is the last note of that type (as in Xen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenNotes {
    /// Notes named "Xen" found.
    pub count: usize,
    /// Every note walked, of any name (bounded by `MAX_NOTES`).
    pub notes_seen: usize,
    /// XEN_ELFNOTE_ENTRY.
    pub entry: Option<u64>,
    /// XEN_ELFNOTE_HYPERCALL_PAGE.
    pub hypercall_page: Option<u64>,
    /// XEN_ELFNOTE_VIRT_BASE.
    pub virt_base: Option<u64>,
    /// XEN_ELFNOTE_PADDR_OFFSET.
    pub paddr_offset: Option<u64>,
    /// XEN_ELFNOTE_XEN_VERSION.
    pub xen_version: Option<String>,
    /// XEN_ELFNOTE_GUEST_OS.
    pub guest_os: Option<String>,
    /// XEN_ELFNOTE_GUEST_VERSION.
    pub guest_version: Option<String>,
    /// XEN_ELFNOTE_LOADER.
    pub loader: Option<String>,
    /// XEN_ELFNOTE_PAE_MODE.
    pub pae_mode: Option<String>,
    /// XEN_ELFNOTE_FEATURES.
    pub features: Option<String>,
    /// XEN_ELFNOTE_BSD_SYMTAB.
    pub bsd_symtab: Option<String>,
    /// XEN_ELFNOTE_HV_START_LOW.
    pub hv_start_low: Option<u64>,
    /// XEN_ELFNOTE_SUSPEND_CANCEL.
    pub suspend_cancel: Option<u64>,
    /// XEN_ELFNOTE_INIT_P2M.
    pub init_p2m: Option<u64>,
    /// XEN_ELFNOTE_MOD_START_PFN.
    pub mod_start_pfn: Option<u64>,
    /// XEN_ELFNOTE_SUPPORTED_FEATURES.
    pub supported_features: Option<u64>,
    /// XEN_ELFNOTE_PHYS32_ENTRY: present means the kernel can boot as PVH.
    pub phys32_entry: Option<u64>,
    /// The types of the Xen notes, in order (at most 64 kept).
    pub types: Vec<u32>,
}

impl XenNotes {
    /// Record one Xen note. `numeric` is the desc read as a 1/2/4/8-byte number, `string`
    /// the desc up to its first NUL (None if there is none).
    pub(crate) fn record(
        &mut self,
        t: u32,
        numeric: Option<u64>,
        string: Option<String>,
        problems: &mut Vec<String>,
    ) {
        self.count += 1;
        if self.types.len() < MAX_TYPES {
            self.types.push(t);
        }
        // Xen reads a numeric note of another size as 0.
        let num = numeric.unwrap_or(0);
        let mut str_field = |slot: &mut Option<String>| match &string {
            Some(s) => *slot = Some(s.clone()),
            None => problems.push(format!(
                "Xen note {} is not a NUL-terminated string: ignored (as Xen does)",
                note::name(t).unwrap_or("?")
            )),
        };
        match t {
            note::ENTRY => self.entry = Some(num),
            note::HYPERCALL_PAGE => self.hypercall_page = Some(num),
            note::VIRT_BASE => self.virt_base = Some(num),
            note::PADDR_OFFSET => self.paddr_offset = Some(num),
            note::XEN_VERSION => str_field(&mut self.xen_version),
            note::GUEST_OS => str_field(&mut self.guest_os),
            note::GUEST_VERSION => str_field(&mut self.guest_version),
            note::LOADER => str_field(&mut self.loader),
            note::PAE_MODE => str_field(&mut self.pae_mode),
            note::FEATURES => str_field(&mut self.features),
            note::BSD_SYMTAB => str_field(&mut self.bsd_symtab),
            note::HV_START_LOW => self.hv_start_low = Some(num),
            note::SUSPEND_CANCEL => self.suspend_cancel = Some(num),
            note::INIT_P2M => self.init_p2m = Some(num),
            note::MOD_START_PFN => self.mod_start_pfn = Some(num),
            note::SUPPORTED_FEATURES => self.supported_features = Some(num),
            note::PHYS32_ENTRY => self.phys32_entry = Some(num),
            _ => {}
        }
    }

    /// A required (`!`) feature Xen does not know, which makes Xen refuse the kernel.
    pub fn unknown_required_feature(&self) -> Option<&str> {
        let features = self.features.as_deref()?;
        features
            .split('|')
            .filter_map(|f| f.strip_prefix('!'))
            .find(|f| !KNOWN_FEATURES.contains(f))
    }

    /// Why Xen would refuse to boot this kernel as a PV guest (`elf_xen_note_check` without
    /// PVH), or None if it passes.
    pub fn pv_refusal(&self) -> Option<String> {
        if self.count == 0 {
            return Some("no Xen ELF notes".into());
        }
        if let Some(f) = self.unknown_required_feature() {
            return Some(format!("requires feature '{f}', which Xen does not know"));
        }
        let loader_ok = self
            .loader
            .as_deref()
            .is_some_and(|l| l.starts_with("generic"));
        let os_ok = self
            .guest_os
            .as_deref()
            .is_some_and(|o| o.starts_with("linux"));
        if !loader_ok && !os_ok {
            return Some(format!(
                "Xen loads only Linux or 'generic'-loader PV images (GUEST_OS {:?}, LOADER {:?})",
                self.guest_os.as_deref().unwrap_or(""),
                self.loader.as_deref().unwrap_or("")
            ));
        }
        if !self
            .xen_version
            .as_deref()
            .is_some_and(|v| v.starts_with("xen-3.0"))
        {
            return Some(format!(
                "XEN_VERSION is {:?}, not xen-3.0",
                self.xen_version.as_deref().unwrap_or("")
            ));
        }
        None
    }

    /// Whether Xen would boot this kernel as PVH: `PHYS32_ENTRY` present (and no unknown
    /// required feature, which fails the note parse for PVH too).
    pub fn pvh_capable(&self) -> bool {
        self.phys32_entry.is_some() && self.unknown_required_feature().is_none()
    }
}

/// Can Xen boot it, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Xen notes that pass Xen's PV checks (`XEN_VERSION` xen-3.0, `GUEST_OS` linux or
    /// `LOADER` generic); no `PHYS32_ENTRY`.
    PvCapable,
    /// `PHYS32_ENTRY` present; the notes would not pass the PV checks.
    PvhCapable,
    /// Both PV and PVH.
    PvAndPvh,
    /// Read completely, and Xen would boot it neither way (no Xen notes, or notes Xen refuses).
    NotXen,
    /// Not known: not a kernel recognised here, compressed with a format not inspected,
    /// truncated, or past the inspection bound. `KernelInfo::problems` says why.
    Unknown,
}

impl Verdict {
    /// Xen can boot it as a PV guest.
    pub fn pv(self) -> bool {
        matches!(self, Verdict::PvCapable | Verdict::PvAndPvh)
    }
    /// Xen can boot it as a PVH guest.
    pub fn pvh(self) -> bool {
        matches!(self, Verdict::PvhCapable | Verdict::PvAndPvh)
    }
    /// A short label: "PV", "PVH", "PV+PVH", "not Xen", "unknown".
    pub fn label(self) -> &'static str {
        match self {
            Verdict::PvCapable => "PV",
            Verdict::PvhCapable => "PVH",
            Verdict::PvAndPvh => "PV+PVH",
            Verdict::NotXen => "not Xen",
            Verdict::Unknown => "unknown",
        }
    }
    pub(crate) fn from_notes(xen: &XenNotes) -> Verdict {
        match (xen.pv_refusal().is_none(), xen.pvh_capable()) {
            (true, true) => Verdict::PvAndPvh,
            (true, false) => Verdict::PvCapable,
            (false, true) => Verdict::PvhCapable,
            (false, false) => Verdict::NotXen,
        }
    }
}
