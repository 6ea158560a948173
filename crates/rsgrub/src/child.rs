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
    let guest = Guest::open(reader, req.offset)?;
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
        match choose(req, &guest, &found) {
            Ok((entry, home)) => {
                let mut e = entry.clone();
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
    let home = discover::locate(guest, found.volume, entry.root.as_deref(), kernel)
        .ok_or_else(|| format!("entry '{}': kernel {kernel}: no such file", entry.title))?;
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
    let args = e.args.clone();
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

/// `-l`: PyGrub's listing format, one block per entry (submenus shown as paths).
pub fn list(menu: &Menu) -> String {
    let mut s = String::new();
    for (_, e) in menu.entries() {
        let initrd = if e.initrds.is_empty() {
            "None".to_string()
        } else {
            e.initrds
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        s.push_str(&format!("title: {}\n", e.title));
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
