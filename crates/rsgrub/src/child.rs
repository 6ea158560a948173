//! Everything that touches guest bytes, run inside the sandboxed child: scan the disk, find
//! the config, choose the entry, copy the kernel and initrds into the fds the parent made.
use crate::discover::{self, Found};
use crate::extract;
use crate::guest::Guest;
use crate::protocol::Reply;
use rsgrub_bootcfg::{Entry, FileRef, Menu};
use std::fs::File;
use std::sync::Arc;

/// What the parent asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// What to do.
    pub mode: Mode,
    /// `--offset`.
    pub offset: Option<u64>,
    /// `--entry`.
    pub entry: Option<String>,
    /// `--args`.
    pub extra_args: Option<String>,
    /// `--kernel` (skip the config).
    pub kernel: Option<String>,
    /// `--ramdisk` (with `--kernel`).
    pub ramdisk: Option<String>,
    /// Per-file size cap in bytes.
    pub cap: u64,
    /// `--debug`.
    pub debug: bool,
    /// With `--isconfig`: the config's file name (its language is guessed from it).
    pub config_name: String,
    /// Choose the entry in the boot menu on the terminal (fds 0 and 1).
    pub interactive: bool,
}

/// Modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Extract and report.
    Boot,
    /// `-n`: check the files exist.
    NotReally,
    /// `-l`: list entries.
    List,
    /// `--isconfig`: the image is a config file.
    IsConfig,
}

/// The output fds.
pub struct Outputs<'a> {
    /// Kernel file.
    pub kernel: &'a File,
    /// Ramdisk file.
    pub ramdisk: &'a File,
}

fn warn(w: &str) {
    eprintln!("rsgrub: warning: {w}");
}

/// Run the request. Errors are one line naming the volume, filesystem and path.
pub fn run(req: &Request, image: File, out: Option<Outputs<'_>>) -> Result<Reply, String> {
    if req.mode == Mode::IsConfig {
        return isconfig(req, &image);
    }
    let file_reader =
        Arc::new(rsgrub_io::FileReader::new(image).map_err(|e| format!("image: {e}"))?);
    // raw, qcow2 or VHD by magic; physical_range still maps into the image file.
    let reader =
        rsgrub_disk::image::open(file_reader.clone(), None).map_err(|e| format!("image: {e}"))?;
    let image = file_reader.file();
    let mut guest = Guest::open(reader, req.offset)?;
    guest.zfs_bootfs = req.extra_args.as_deref().and_then(zfs_bootfs_option);
    for w in &guest.warnings {
        warn(w);
    }

    // --kernel: no config; the first volume that has the kernel.
    if let Some(k) = &req.kernel {
        let kref = FileRef {
            device: None,
            path: k.clone(),
        };
        let home = *guest
            .boot_order()
            .iter()
            .find(|&&v| guest.is_file(v, k))
            .ok_or_else(|| format!("kernel {k} not found on any partition"))?;
        let mut e = Entry::new("--kernel");
        e.kernel = Some(kref);
        if let Some(r) = &req.ramdisk {
            e.initrds.push(FileRef {
                device: None,
                path: r.clone(),
            });
        }
        e.args = req.extra_args.clone().unwrap_or_default();
        return boot_entry(req, &guest, home, &e, image, out);
    }

    let mut reasons: Vec<String> = Vec::new();
    let mut listing = String::new();
    for &v in guest.boot_order() {
        // Solaris/illumos and NetWare PV guests carry no config PyGrub reads: it recognises
        // their kernels by path, before looking for a config.
        if req.mode != Mode::List {
            if let Some(e) = sniff_kernel(&guest, v, req.extra_args.as_deref()) {
                return boot_entry(req, &guest, v, &e, image, out);
            }
        }
        let found = match discover::find_config(&guest, v, req.debug) {
            Ok(Some(f)) => f,
            Ok(None) => {
                reasons.push(format!("{}: no boot config", guest.describe(v)));
                continue;
            }
            Err(e) => {
                reasons.push(format!("{}: {e}", guest.describe(v)));
                continue;
            }
        };
        if req.debug || req.mode == Mode::List {
            for w in &found.menu.warnings {
                warn(&format!("{}: {}: {w}", guest.describe(v), found.path));
            }
        }
        if req.mode == Mode::List {
            listing.push_str(&list(&found.menu));
            return Ok(Reply::Text(listing));
        }
        let chosen = if req.interactive {
            crate::menu::choose(&guest, &found)
        } else {
            choose(req, &guest, &found).map(|(e, home)| (e.clone(), home))
        };
        match chosen {
            Ok((entry, home)) => {
                let mut e = entry;
                if found.menu.kind == rsgrub_bootcfg::ConfigKind::NetBsd {
                    e.args = netbsd_args(&guest, home, &e.args);
                }
                if let Some(a) = &req.extra_args {
                    e.args = join_args(&e.args, a);
                }
                if req.debug {
                    eprintln!(
                        "rsgrub: {}: {}: booting '{}' ({})",
                        guest.describe(v),
                        found.path,
                        e.title,
                        found.menu.default_reason
                    );
                }
                return boot_entry(req, &guest, home, &e, image, out);
            }
            Err(e) => reasons.push(format!("{}: {}: {e}", guest.describe(v), found.path)),
        }
    }
    if reasons.is_empty() {
        reasons.push("no partitions".into());
    }
    Err(format!(
        "Unable to find partition containing kernel: {}",
        reasons.join("; ")
    ))
}

/// Boot a UKI: `.linux` is the kernel; `.initrd` then the entry's own initrds are the
/// ramdisk; the args are the entry's if it has any (systemd-boot `options`), else `.cmdline`.
#[allow(clippy::too_many_arguments)]
fn boot_uki(
    req: &Request,
    guest: &Guest,
    kvol: usize,
    e: &Entry,
    (u, f): (&rsgrub_kernel::Uki, &crate::guest::GuestFile<'_>),
    initrds: &[(usize, &FileRef)],
    image: &File,
    out: Option<Outputs<'_>>,
) -> Result<Reply, String> {
    let kernel = e.kernel.as_ref().ok_or("entry has no kernel")?;
    let mut args = e.args.trim().to_string();
    if args.is_empty() {
        if let Some(c) = u.cmdline {
            let len = usize::try_from(c.size.min(4096)).unwrap_or(4096);
            let mut b = vec![0u8; len];
            rsgrub_io::ReadAt::read_at(f, c.offset, &mut b)
                .map_err(|err| format!("{kernel}: .cmdline: {err}"))?;
            let text = String::from_utf8_lossy(&b).into_owned();
            args = text
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
        }
        if let Some(a) = &req.extra_args {
            args = join_args(&args, a);
        }
    }
    let has_ramdisk = u.initrd.is_some() || !initrds.is_empty();
    let Some(out) = out else {
        return Ok(Reply::Boot {
            kernel_size: 0,
            ramdisk_size: has_ramdisk.then_some(0),
            args,
        });
    };
    let fs = guest.fs(kvol)?;
    let what = |s: &str, err: String| format!("{}: {kernel} {s}: {err}", guest.describe(kvol));
    let k = extract::copy_part(
        fs,
        &kernel.path,
        u.linux.offset,
        u.linux.size,
        out.kernel,
        0,
        req.cap,
    )
    .map_err(|err| what(".linux", err))?;
    let mut off = 0u64;
    if let Some(i) = u.initrd {
        extract::copy_part(fs, &kernel.path, i.offset, i.size, out.ramdisk, 0, req.cap)
            .map_err(|err| what(".initrd", err))?;
        off = i.size;
    }
    for (v, f) in initrds {
        off = off
            .checked_next_multiple_of(4)
            .ok_or("initrd size overflows")?;
        out.ramdisk
            .set_len(off)
            .map_err(|err| format!("writing the ramdisk: {err}"))?;
        let fsv = guest.fs(*v)?;
        let vol = guest.volumes.get(*v).ok_or("volume")?;
        let img = f.path.as_str();
        let c = extract::copy_file(
            fsv,
            vol,
            image,
            img,
            out.ramdisk,
            off,
            req.cap.saturating_sub(off),
        )
        .map_err(|err| format!("{}: initrd {f}: {err}", guest.describe(*v)))?;
        off = off.checked_add(c.size).ok_or("initrd size overflows")?;
    }
    Ok(Reply::Boot {
        kernel_size: k.size,
        ramdisk_size: has_ramdisk.then_some(off),
        args,
    })
}

/// PyGrub's `sniff_solaris` and `sniff_netware`: a Solaris PV kernel
/// (`/platform/i86xpv/kernel[/amd64]/unix` with its boot archive), whose args PyGrub reorders
/// (`root=`/`ip=` first, then the kernel path, then the rest — spacing kept exactly), or a
/// NetWare loader (`/nwserver/xnloader.sys`).
fn sniff_kernel(guest: &Guest, v: usize, args: Option<&str>) -> Option<Entry> {
    let file = |p: &str| FileRef {
        device: None,
        path: p.to_string(),
    };
    let amd64 = "/platform/i86xpv/kernel/amd64/unix";
    let i386 = "/platform/i86xpv/kernel/unix";
    let (kernel, archive) = if cfg!(target_arch = "x86_64") && guest.is_file(v, amd64) {
        (amd64, "/platform/i86pc/amd64/boot_archive")
    } else if guest.is_file(v, i386) {
        (i386, "/platform/i86pc/boot_archive")
    } else if let Some(k) = netbsd_domu_kernel(guest, v) {
        // NetBSD's Xen convention: /netbsd-XEN3_DOMU (or XEN3PAE_DOMU) at the root.
        let mut e = Entry::new("NetBSD");
        e.args = netbsd_args(guest, v, args.unwrap_or_default());
        e.kernel = Some(file(&k));
        return Some(e);
    } else if guest.is_file(v, "/nwserver/xnloader.sys") {
        let mut e = Entry::new("NetWare");
        e.kernel = Some(file("/nwserver/xnloader.sys"));
        e.args = args.unwrap_or_default().to_string();
        return Some(e);
    } else {
        return None;
    };
    let mut e = Entry::new("Solaris");
    e.kernel = Some(file(kernel));
    e.initrds.push(file(archive));
    e.args = solaris_args(kernel, args.unwrap_or_default());
    Some(e)
}

/// A NetBSD domU kernel at the volume's root (`netbsd-XEN3_DOMU`, `netbsd-XEN3PAE_DOMU`, …),
/// the 64-bit one first. Only looked for when there is no config.
fn netbsd_domu_kernel(guest: &Guest, v: usize) -> Option<String> {
    let mut src = crate::guest::GuestFiles { guest, home: v };
    let mut names: Vec<String> = rsgrub_bootcfg::FileSource::list_dir(&mut src, None, "/")?
        .into_iter()
        .filter(|n| n.starts_with("netbsd-XEN3") && n.contains("DOMU"))
        .collect();
    names.sort_by_key(|n| (n.contains("PAE"), n.clone()));
    let k = format!("/{}", names.first()?);
    guest.is_file(v, &k).then_some(k)
}

/// NetBSD's Xen PV kernel takes its root device from `root=` (xen_machdep.c): name the
/// disklabel partition the kernel was found on (`xbd0a`…) unless the config already did.
fn netbsd_args(guest: &Guest, v: usize, args: &str) -> String {
    if args
        .split_whitespace()
        .any(|a| a.starts_with("root=") || a.starts_with("bootdev="))
    {
        return args.to_string();
    }
    let letter = guest
        .volumes
        .get(v)
        .filter(|vol| vol.scheme == rsgrub_disk::Scheme::Bsd)
        .map(|vol| rsgrub_disk::bsd::letter(vol.number.saturating_sub(1)))
        .unwrap_or('a');
    let root = format!("root=xbd0{letter}");
    if args.trim().is_empty() {
        root
    } else {
        format!("{root} {}", args.trim())
    }
}

/// PyGrub's Solaris argument order, byte for byte.
fn solaris_args(kernel: &str, args: &str) -> String {
    if args.is_empty() {
        return kernel.to_string();
    }
    let mut xen = String::new();
    let mut user = String::new();
    for a in args.split_whitespace() {
        if a.starts_with("root=") || a.starts_with("ip=") {
            xen.push_str(a);
            xen.push(' ');
        } else if a != kernel {
            user.push_str(a);
            user.push(' ');
        }
    }
    format!("{xen} {kernel} {user}")
}

/// PyGrub's `re.findall('zfs-bootfs=(.*?)[\s\,\"]', '"%s"' % args)[0]`: the first
/// `zfs-bootfs=` value, up to a blank, `,` or `"` (the closing quote PyGrub adds ends it).
fn zfs_bootfs_option(args: &str) -> Option<String> {
    let at = args.find("zfs-bootfs=")?;
    let rest = args.get(at + "zfs-bootfs=".len()..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .unwrap_or(rest.len());
    rest.get(..end).map(str::to_string)
}

/// PyGrub after copying: with a boot string (ZFS), every `zfs-bootfs=[\w\-.:@/]+` in the
/// (non-empty) args becomes it, or ` -B <string>` is appended if there was none.
fn with_zfs_bootstring(args: &str, boot: Option<String>) -> String {
    let Some(boot) = boot.filter(|_| !args.is_empty()) else {
        return args.to_string();
    };
    const KEY: &str = "zfs-bootfs=";
    let value = |c: char| c.is_alphanumeric() || "_-.:@/".contains(c);
    let mut out = String::with_capacity(args.len() + boot.len());
    let mut rest = args;
    let mut count = 0usize;
    while let Some(at) = rest.find(KEY) {
        let tail = rest.get(at + KEY.len()..).unwrap_or_default();
        let n = tail.find(|c: char| !value(c)).unwrap_or(tail.len());
        if n == 0 {
            // `+` needs one character: not a match; go on after the key.
            out.push_str(rest.get(..at + KEY.len()).unwrap_or_default());
            rest = tail;
            continue;
        }
        out.push_str(rest.get(..at).unwrap_or_default());
        out.push_str(&boot);
        rest = tail.get(n..).unwrap_or_default();
        count += 1;
    }
    out.push_str(rest);
    if count == 0 {
        out.push_str(" -B ");
        out.push_str(&boot);
    }
    out
}

fn join_args(a: &str, b: &str) -> String {
    // PyGrub: entry args + " " + --args (without PyGrub's leading space when the entry has none).
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a} {b}")
    }
}

/// Pick the entry and the volume its kernel is on.
fn choose<'m>(
    req: &Request,
    guest: &Guest,
    found: &'m Found,
) -> Result<(&'m Entry, usize), String> {
    let mut warnings = Vec::new();
    let path = discover::select(&found.menu, req.entry.as_deref(), &mut warnings)
        .ok_or("no bootable entry in the config")?;
    for w in &warnings {
        warn(w);
    }
    let entry = found
        .menu
        .entry(&path)
        .ok_or("no bootable entry in the config")?;
    let kernel = entry.kernel.as_ref().ok_or("entry has no kernel")?;
    let mut home = discover::locate(guest, found.volume, entry.root.as_deref(), kernel);
    let mut entry = entry;
    if home.is_none() && req.entry.is_none() {
        // GRUB's `fallback`: when the default cannot boot, the fallback entries in order.
        for fb in &found.menu.fallback {
            let Some(e) = found.menu.entry(fb) else {
                continue;
            };
            let Some(k) = e.kernel.as_ref() else { continue };
            if e.kind != rsgrub_bootcfg::EntryKind::Linux {
                continue;
            }
            if let Some(h) = discover::locate(guest, found.volume, e.root.as_deref(), k) {
                warn(&format!(
                    "entry '{}': kernel {kernel}: no such file; booting the fallback entry '{}'",
                    entry.title, e.title
                ));
                home = Some(h);
                entry = e;
                break;
            }
        }
    }
    let home =
        home.ok_or_else(|| format!("entry '{}': kernel {kernel}: no such file", entry.title))?;
    Ok((entry, home))
}

fn boot_entry(
    req: &Request,
    guest: &Guest,
    home: usize,
    e: &Entry,
    image: &File,
    out: Option<Outputs<'_>>,
) -> Result<Reply, String> {
    let kernel = e.kernel.as_ref().ok_or("entry has no kernel")?;
    let kvol = discover::locate(guest, home, e.root.as_deref(), kernel)
        .ok_or_else(|| format!("{}: kernel {kernel}: no such file", guest.describe(home)))?;
    let mut initrds = Vec::new();
    for i in &e.initrds {
        let v = discover::locate(guest, kvol, e.root.as_deref(), i)
            .ok_or_else(|| format!("{}: initrd {i}: no such file", guest.describe(kvol)))?;
        initrds.push((v, i));
    }
    // A unified kernel image (PE with .linux/.initrd/.cmdline): boot its sections.
    let uki = crate::guest::GuestFile::open(guest, kvol, &kernel.path)
        .and_then(|f| rsgrub_kernel::uki_sections(&f).map(|u| (u, f)));
    if let Some((u, f)) = uki {
        return boot_uki(req, guest, kvol, e, (&u, &f), &initrds, image, out);
    }
    let args = with_zfs_bootstring(&e.args, guest.fs(kvol).ok().and_then(|f| f.boot_string()));
    let Some(out) = out else {
        // -n: the files exist; nothing is copied.
        return Ok(Reply::Boot {
            kernel_size: 0,
            ramdisk_size: (!initrds.is_empty()).then_some(0),
            args,
        });
    };
    let ctx = |v: usize, what: &str, f: &FileRef, err: String| {
        format!("{}: {what} {f}: {err}", guest.describe(v))
    };
    let fs = guest.fs(kvol)?;
    let vol = guest.volumes.get(kvol).ok_or("volume")?;
    let k = extract::copy_file(fs, vol, image, &kernel.path, out.kernel, 0, req.cap)
        .map_err(|err| ctx(kvol, "kernel", kernel, err))?;
    if req.debug {
        eprintln!(
            "rsgrub: kernel {kernel}: {} bytes ({} zero-copy)",
            k.size, k.zero_copy
        );
    }
    // Warn (never fail) when the kernel is readable and cannot boot as a Xen guest.
    if let Some(f) = crate::guest::GuestFile::open(guest, kvol, &kernel.path) {
        let info = if req.debug {
            rsgrub_kernel::identify(&f)
        } else {
            rsgrub_kernel::identify_quick(&f)
        };
        if req.debug {
            eprintln!("rsgrub: kernel {kernel}: {}", info.describe());
        }
        if info.verdict == rsgrub_kernel::Verdict::NotXen {
            warn(&format!(
                "kernel {kernel} is not a Xen PV or PVH kernel ({}); booting it anyway",
                info.describe()
            ));
        }
    }
    let mut rd_size = None;
    if !initrds.is_empty() {
        // GRUB loads several initrds back to back, each padded to 4 bytes.
        let mut off = 0u64;
        let n = initrds.len();
        for (idx, (v, f)) in initrds.into_iter().enumerate() {
            let fs = guest.fs(v)?;
            let vol = guest.volumes.get(v).ok_or("volume")?;
            let left = req.cap.saturating_sub(off);
            let c = extract::copy_file(fs, vol, image, &f.path, out.ramdisk, off, left)
                .map_err(|err| ctx(v, "initrd", f, err))?;
            off = off.checked_add(c.size).ok_or("initrd size overflows")?;
            if idx + 1 < n {
                off = off
                    .checked_next_multiple_of(4)
                    .ok_or("initrd size overflows")?;
                out.ramdisk
                    .set_len(off)
                    .map_err(|e| format!("writing the ramdisk: {e}"))?;
            }
            if req.debug {
                eprintln!(
                    "rsgrub: initrd {f}: {} bytes ({} zero-copy)",
                    c.size, c.zero_copy
                );
            }
        }
        rd_size = Some(off);
    }
    Ok(Reply::Boot {
        kernel_size: k.size,
        ramdisk_size: rd_size,
        args,
    })
}

/// `-l`: PyGrub's listing format, one block per entry (title/root/kernel/args/initrd), plus
/// the entry's place in the tree (`entry: 1>0`, usable as `--entry=1>0`; submenu entries show
/// their submenu path) and `default: yes` on the entry that boots by default.
pub fn list(menu: &Menu) -> String {
    let mut s = String::new();
    for (path, e) in menu.entries() {
        let initrd = if e.initrds.is_empty() {
            "None".to_string()
        } else {
            e.initrds
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut titles = Vec::new();
        for depth in 1..path.len() {
            if let Some(item) = path.get(..depth).and_then(|p| menu.get(p)) {
                titles.push(item.title().to_string());
            }
        }
        titles.push(e.title.clone());
        let idx: Vec<String> = path.iter().map(|n| n.to_string()).collect();
        s.push_str(&format!("title: {}\n", titles.join(">")));
        s.push_str(&format!("  entry: {}\n", idx.join(">")));
        if menu.default.as_deref() == Some(path.as_slice()) {
            s.push_str("  default: yes\n");
        }
        s.push_str(&format!(
            "  root: {}\n",
            e.root.as_deref().unwrap_or("None")
        ));
        s.push_str(&format!(
            "  kernel: {}\n",
            e.kernel
                .as_ref()
                .map_or("None".to_string(), |k| k.to_string())
        ));
        s.push_str(&format!("  args: {}\n", e.args));
        s.push_str(&format!("  initrd: {initrd}\n"));
    }
    s
}

/// `--isconfig`: the image is a config file; print what it boots.
fn isconfig(req: &Request, image: &File) -> Result<Reply, String> {
    use std::io::Read;
    let mut text = Vec::new();
    image
        .take(rsgrub_bootcfg::MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("{}: {e}", req.config_name))?;
    if text.len() > rsgrub_bootcfg::MAX_CONFIG_BYTES {
        return Err(format!(
            "{}: config is larger than {} bytes",
            req.config_name,
            rsgrub_bootcfg::MAX_CONFIG_BYTES
        ));
    }
    let kind = discover::kind_for_name(&req.config_name);
    let mut src = rsgrub_bootcfg::MapSource::default();
    let menu = discover::parse(kind, &text, &req.config_name, &mut src)
        .map_err(|e| format!("{}: {e}", req.config_name))?;
    let mut warnings = Vec::new();
    let path = discover::select(&menu, req.entry.as_deref(), &mut warnings)
        .ok_or("no bootable entry in the config")?;
    for w in &warnings {
        warn(w);
    }
    let e = menu.entry(&path).ok_or("no bootable entry in the config")?;
    let mut args = e.args.clone();
    if let Some(a) = &req.extra_args {
        args = join_args(&args, a);
    }
    let mut s = format!(
        "  kernel: {}\n",
        e.kernel.as_ref().map_or("None".into(), |k| k.to_string())
    );
    if !e.initrds.is_empty() {
        let list: Vec<String> = e.initrds.iter().map(|f| f.to_string()).collect();
        s.push_str(&format!("  initrd: {}\n", list.join(" ")));
    }
    s.push_str(&format!("  args: {args}\n"));
    Ok(Reply::Text(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zfs_bootfs_option_as_pygrub_finds_it() {
        let f = |a: &str| zfs_bootfs_option(a);
        assert_eq!(
            f("ro zfs-bootfs=rpool/ROOT/a quiet").as_deref(),
            Some("rpool/ROOT/a")
        );
        assert_eq!(
            f("zfs-bootfs=rpool/ROOT/a,bootpath=x").as_deref(),
            Some("rpool/ROOT/a")
        );
        assert_eq!(f("zfs-bootfs=p/q").as_deref(), Some("p/q"));
        assert_eq!(f("a zfs-bootfs=x b zfs-bootfs=y").as_deref(), Some("x"));
        assert_eq!(f("ro quiet"), None);
    }

    #[test]
    fn zfs_boot_string_replaces_or_is_appended() {
        let b = || Some("zfs-bootfs=rpool/42,bootpath=''".to_string());
        assert_eq!(
            with_zfs_bootstring("root=ZFS=x zfs-bootfs=rpool/ROOT/a ro", b()),
            "root=ZFS=x zfs-bootfs=rpool/42,bootpath='' ro"
        );
        // Every occurrence; the value stops at the first character outside [\w\-.:@/].
        assert_eq!(
            with_zfs_bootstring("zfs-bootfs=a,foo zfs-bootfs=b@s", b()),
            "zfs-bootfs=rpool/42,bootpath='',foo zfs-bootfs=rpool/42,bootpath=''"
        );
        assert_eq!(
            with_zfs_bootstring("ro quiet", b()),
            "ro quiet -B zfs-bootfs=rpool/42,bootpath=''"
        );
        // An empty value is no match: appended.
        assert_eq!(
            with_zfs_bootstring("zfs-bootfs= x", b()),
            "zfs-bootfs= x -B zfs-bootfs=rpool/42,bootpath=''"
        );
        // No args, or not ZFS: unchanged (PyGrub only touches non-empty args).
        assert_eq!(with_zfs_bootstring("", b()), "");
        assert_eq!(with_zfs_bootstring("ro", None), "ro");
    }
}
