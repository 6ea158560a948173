//! Finding the guest's boot config and choosing an entry, in PyGrub's order:
//! per volume (active partition first), the first config path that exists wins; the first
//! volume whose chosen entry has a kernel that exists is the one we boot.
use crate::guest::{Guest, GuestFiles};
use rsgrub_bootcfg::{self as bootcfg, ConfigKind, Entry, EntryKind, FileRef, Menu};
use rsgrub_fs::{path, FsError};

/// Where configs are looked for, in PyGrub's order.
pub const CONFIG_PATHS: &[(&str, ConfigKind)] = &[
    ("/boot/grub/grub.cfg", ConfigKind::Grub2),
    ("/grub/grub.cfg", ConfigKind::Grub2),
    ("/boot/grub2/grub.cfg", ConfigKind::Grub2),
    ("/grub2/grub.cfg", ConfigKind::Grub2),
    ("/boot/isolinux/isolinux.cfg", ConfigKind::Syslinux),
    ("/boot/extlinux/extlinux.conf", ConfigKind::Syslinux),
    ("/boot/extlinux.conf", ConfigKind::Syslinux),
    ("/extlinux/extlinux.conf", ConfigKind::Syslinux),
    ("/extlinux.conf", ConfigKind::Syslinux),
    ("/boot/grub/menu.lst", ConfigKind::GrubLegacy),
    ("/boot/grub/grub.conf", ConfigKind::GrubLegacy),
    ("/grub/menu.lst", ConfigKind::GrubLegacy),
    ("/grub/grub.conf", ConfigKind::GrubLegacy),
];

/// Parse config text in the given language.
pub fn parse(
    kind: ConfigKind,
    text: &[u8],
    path: &str,
    src: &mut dyn bootcfg::FileSource,
) -> Result<Menu, String> {
    bootcfg::parse_config(kind, text, path, src).map_err(|e| e.to_string())
}

/// Guess a config's language from its file name (for `--isconfig`).
pub fn kind_for_name(name: &str) -> ConfigKind {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    if base == "lilo.conf" {
        ConfigKind::Lilo
    } else if base == "boot.cfg" {
        ConfigKind::NetBsd
    } else if base == "loader.conf" {
        ConfigKind::Bls
    } else if base == "menu.lst" || base == "grub.conf" {
        ConfigKind::GrubLegacy
    } else if base.ends_with("linux.conf") || base.ends_with("linux.cfg") || base == "syslinux.cfg"
    {
        ConfigKind::Syslinux
    } else {
        ConfigKind::Grub2
    }
}

/// A config found on a volume.
pub struct Found {
    /// Volume index.
    pub volume: usize,
    /// Config path on it.
    pub path: String,
    /// Parsed menu.
    pub menu: Menu,
}

/// Where EFI system partitions keep GRUB's config (`/EFI/<vendor>/grub.cfg`), on the ESP itself
/// or mounted at /boot/efi.
const EFI_DIRS: &[&str] = &["/EFI", "/boot/efi/EFI"];
/// Most vendor directories looked at under an EFI directory.
const MAX_EFI_VENDORS: usize = 64;

/// Every config path to try on volume `v`, in order: PyGrub's list first (so what PyGrub
/// finds, rsgrub finds), then the ESP's `EFI/*/grub.cfg` (vendors sorted by name, `BOOT` last).
pub fn candidates(guest: &Guest, v: usize) -> Vec<(String, ConfigKind)> {
    let mut out: Vec<(String, ConfigKind)> = CONFIG_PATHS
        .iter()
        .map(|&(p, k)| (p.to_string(), k))
        .collect();
    // Syslinux configs PyGrub never looked at (install media, syslinux on FAT).
    for p in [
        "/isolinux/isolinux.cfg",
        "/isolinux.cfg",
        "/boot/syslinux/syslinux.cfg",
        "/syslinux/syslinux.cfg",
        "/syslinux.cfg",
    ] {
        out.push((p.to_string(), ConfigKind::Syslinux));
    }
    let mut src = GuestFiles { guest, home: v };
    for dir in EFI_DIRS {
        let Some(mut vendors) = bootcfg::FileSource::list_dir(&mut src, None, dir) else {
            continue;
        };
        vendors.sort_by_key(|n| (n.eq_ignore_ascii_case("boot"), n.to_ascii_lowercase()));
        for name in vendors.into_iter().take(MAX_EFI_VENDORS) {
            out.push((format!("{dir}/{name}/grub.cfg"), ConfigKind::Grub2));
        }
    }
    // systemd-boot / BLS Type #1 (on an ESP or /boot), NetBSD, then LILO after the others.
    for p in [
        "/loader/loader.conf",
        "/boot/loader/loader.conf",
        "/boot/efi/loader/loader.conf",
    ] {
        out.push((p.to_string(), ConfigKind::Bls));
    }
    out.push(("/boot.cfg".to_string(), ConfigKind::NetBsd));
    out.push(("/etc/lilo.conf".to_string(), ConfigKind::Lilo));
    // ZFS: PyGrub (libfsimage) reads `.../menu.lst` from the pool's root dataset whatever the
    // boot dataset is — where Solaris GRUB keeps it: `/@/boot/grub/menu.lst` first.
    if guest.fs(v).is_ok_and(|fs| fs.name() == "zfs") {
        out = out
            .into_iter()
            .flat_map(|(p, k)| {
                let top = rsgrub_fs::zfs::pygrub_top_dataset_file(p.as_bytes());
                top.then(|| (format!("/@{p}"), k))
                    .into_iter()
                    .chain(std::iter::once((p, k)))
            })
            .collect();
    }
    out
}

/// systemd-boot needs no loader.conf: an entries directory next to where it would be is enough.
fn bls_without_loader_conf(guest: &Guest, v: usize, p: &str, kind: ConfigKind) -> bool {
    if kind != ConfigKind::Bls {
        return false;
    }
    let dir = p.trim_end_matches("loader.conf");
    let mut src = GuestFiles { guest, home: v };
    bootcfg::FileSource::is_dir(&mut src, None, &format!("{dir}entries"))
}

/// Find and parse the config on volume `v`. `Ok(None)` when it has none.
pub fn find_config(guest: &Guest, v: usize, debug: bool) -> Result<Option<Found>, String> {
    let fs = guest.fs(v)?;
    for (p, kind) in candidates(guest, v) {
        let node = match path::resolve(fs, p.as_bytes(), true) {
            Ok(n) => n,
            Err(FsError::NotFound(_)) if bls_without_loader_conf(guest, v, &p, kind) => {
                let mut src = GuestFiles { guest, home: v };
                let menu = parse(kind, b"", &p, &mut src).map_err(|e| format!("{p}: {e}"))?;
                if menu.items.is_empty() {
                    continue;
                }
                return Ok(Some(Found {
                    volume: v,
                    path: p,
                    menu,
                }));
            }
            Err(FsError::NotFound(_) | FsError::NotADirectory(_)) => continue,
            // A damaged filesystem must not look like one without a config.
            Err(e) => return Err(format!("{p}: {e}")),
        };
        let meta = fs.metadata(node).map_err(|e| format!("{p}: {e}"))?;
        if meta.kind != rsgrub_fs::FileType::Regular {
            continue;
        }
        if debug {
            eprintln!("rsgrub: {}: using {p} ({kind:?})", guest.describe(v));
        }
        let text = path::read_file(fs, p.as_bytes(), bootcfg::MAX_CONFIG_BYTES as u64)
            .map_err(|e| format!("{p}: {e}"))?;
        let mut src = GuestFiles { guest, home: v };
        let menu = parse(kind, &text, &p, &mut src).map_err(|e| format!("{p}: {e}"))?;
        return Ok(Some(Found {
            volume: v,
            path: p,
            menu,
        }));
    }
    Ok(uki_menu(guest, v))
}

/// Most UKIs listed from one `/EFI/Linux`.
const MAX_UKIS: usize = 64;

/// Boot Loader Specification Type #2 entries: the unified kernel images in `/EFI/Linux/*.efi`
/// (on an ESP, or `/boot/efi/EFI/Linux`), newest version first, titled from their `.osrel`.
fn uki_menu(guest: &Guest, v: usize) -> Option<Found> {
    let mut src = GuestFiles { guest, home: v };
    for dir in ["/EFI/Linux", "/boot/efi/EFI/Linux"] {
        let Some(names) = bootcfg::FileSource::list_dir(&mut src, None, dir) else {
            continue;
        };
        let mut names: Vec<String> = names
            .into_iter()
            .filter(|n| n.to_ascii_lowercase().ends_with(".efi"))
            .take(MAX_UKIS)
            .collect();
        names.sort_by(|a, b| bootcfg::bls::uapi_vercmp(b, a));
        let mut menu = Menu::new(ConfigKind::Bls);
        for name in names {
            let p = format!("{dir}/{name}");
            let Some(f) = crate::guest::GuestFile::open(guest, v, &p) else {
                continue;
            };
            let Some(u) = rsgrub_kernel::uki_sections(&f) else {
                continue;
            };
            let section = |e: Option<rsgrub_kernel::Extent>| -> String {
                let Some(e) = e else { return String::new() };
                let mut b = vec![0u8; usize::try_from(e.size.min(4096)).unwrap_or(0)];
                match rsgrub_io::ReadAt::read_at(&f, e.offset, &mut b) {
                    Ok(()) => String::from_utf8_lossy(&b)
                        .trim_end_matches('\0')
                        .to_string(),
                    Err(_) => String::new(),
                }
            };
            let osrel = section(u.osrel);
            let pretty = osrel
                .lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|t| t.trim_matches('"').to_string());
            let uname = section(u.uname);
            let title = match (pretty, uname.trim()) {
                (Some(p), "") => p,
                (Some(p), u) => format!("{p} ({u})"),
                (None, _) => name.trim_end_matches(".efi").to_string(),
            };
            let mut e = bootcfg::Entry::new(title);
            e.id = Some(name.clone());
            e.kernel = Some(bootcfg::FileRef {
                device: None,
                path: p,
            });
            menu.items.push(bootcfg::Item::Entry(e));
        }
        if !menu.items.is_empty() {
            menu.default = Some(vec![0]);
            menu.default_reason = "newest unified kernel image in EFI/Linux".into();
            return Some(Found {
                volume: v,
                path: format!("{dir}/*.efi"),
                menu,
            });
        }
    }
    None
}

/// Choose the entry to boot: `--entry` if given (a number, title, id or `>` path; also any
/// entry's exact title or id anywhere in the tree, as PyGrub's flattened list allowed), else the
/// config's default. A default that cannot boot as a PV kernel (a Xen hypervisor entry)
/// falls back to the first entry that can, with a warning.
pub fn select(menu: &Menu, entry: Option<&str>, warnings: &mut Vec<String>) -> Option<Vec<usize>> {
    let mut chosen = None;
    if let Some(spec) = entry {
        chosen = menu.find(spec).or_else(|| {
            menu.entries()
                .into_iter()
                .find(|(_, e)| e.title == spec || e.id.as_deref() == Some(spec))
                .map(|(p, _)| p)
        });
        if chosen.is_none() {
            warnings.push(format!(
                "--entry={spec} matches no entry; booting the default"
            ));
        }
    }
    let chosen = chosen
        .or_else(|| menu.default.clone())
        .or_else(|| menu.entries().first().map(|(p, _)| p.clone()))?;
    match menu.entry(&chosen) {
        Some(e) if bootable(e) => Some(chosen),
        other => {
            let first = menu
                .entries()
                .into_iter()
                .find(|(_, e)| bootable(e))
                .map(|(p, _)| p)?;
            if let Some(e) = other {
                warnings.push(format!(
                    "entry '{}' is not a Linux kernel entry; booting '{}' instead",
                    e.title,
                    menu.entry(&first).map(|e| e.title.as_str()).unwrap_or("")
                ));
            }
            Some(first)
        }
    }
}

fn bootable(e: &Entry) -> bool {
    e.kind == EntryKind::Linux && e.kernel.is_some()
}

/// Where a file an entry names lives: its explicit device, else the entry's `$root`, else the
/// config's own volume — the first of those on which the file exists.
pub fn locate(guest: &Guest, home: usize, root: Option<&str>, f: &FileRef) -> Option<usize> {
    let mut candidates = Vec::new();
    if let Some(d) = &f.device {
        if let Some(v) = guest.volume_by_device(d) {
            candidates.push(v);
        }
    }
    if let Some(v) = root.and_then(|r| guest.volume_by_device(r)) {
        candidates.push(v);
    }
    candidates.push(home);
    candidates.into_iter().find(|&v| guest.is_file(v, &f.path))
}
