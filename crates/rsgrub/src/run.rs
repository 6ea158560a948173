//! The parent: opens the disk and creates the output files, runs the parser in the sandbox,
//! checks what it reports, and only then writes the toolstack's result — with its own paths.
use crate::child::{self, Mode, Outputs, Request};
use crate::cli::Cli;
use crate::output::{self, BootResult};
use crate::protocol::Reply;
use rsgrub_sandbox::Policy;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// PyGrub's default output directory.
pub const DEFAULT_OUTPUT_DIR: &str = "/var/run/xen/pygrub";
/// Default per-file cap (MiB).
pub const DEFAULT_MAX_FILE_MB: u64 = 512;
/// Hard maximum per file (MiB): the environment may lower the cap, never raise it past this.
pub const HARD_MAX_FILE_MB: u64 = 4096;
/// Default address-space cap for the parser (MiB).
pub const DEFAULT_MAX_RAM_MB: u64 = 1024;
/// Xen's kernel command-line limit (bytes, without the NUL).
pub const MAX_ARGS: usize = 1023;

/// A failure: one line for stderr.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// The two output files; removed on drop unless kept.
struct OutFiles {
    kernel: (PathBuf, File),
    ramdisk: (PathBuf, File),
    keep_kernel: bool,
    keep_ramdisk: bool,
}

impl Drop for OutFiles {
    fn drop(&mut self) {
        if !self.keep_kernel {
            let _ = std::fs::remove_file(&self.kernel.0);
        }
        if !self.keep_ramdisk {
            let _ = std::fs::remove_file(&self.ramdisk.0);
        }
    }
}

fn env_mb(name: &str, default: u64, hard: u64) -> u64 {
    match std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(v) if v > 0 => v.min(hard),
        _ => default,
    }
}

fn random_suffix() -> std::io::Result<String> {
    use std::io::Read;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let mut b = [0u8; 8];
    File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter()
        .map(|x| {
            *ALPHABET
                .get(usize::from(*x) % ALPHABET.len())
                .unwrap_or(&b'x') as char
        })
        .collect())
}

/// Create `dir/prefixXXXXXXXX` exclusively, mode 0600, never following a symlink.
fn create_exclusive(dir: &Path, prefix: &str) -> Result<(PathBuf, File), Failure> {
    for _ in 0..100 {
        let p = dir.join(format!("{prefix}{}", random_suffix()?));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc_o_nofollow() | libc_o_cloexec())
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Failure(format!("cannot create {}: {e}", p.display()))),
        }
    }
    Err(Failure(format!(
        "cannot create a unique file in {}",
        dir.display()
    )))
}

fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}
fn libc_o_cloexec() -> i32 {
    rustix::fs::OFlags::CLOEXEC.bits() as i32
}

fn output_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    match &cli.output_directory {
        Some(d) => {
            if !d.is_dir() {
                return Err(Failure(format!(
                    "{} is not an existing directory",
                    d.display()
                )));
            }
            Ok(std::path::absolute(d)?)
        }
        None => {
            let d = PathBuf::from(DEFAULT_OUTPUT_DIR);
            if !d.is_dir() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&d)
                    .map_err(|e| Failure(format!("cannot create {}: {e}", d.display())))?;
            }
            Ok(d)
        }
    }
}

/// Check the child's claims against what the parent can see, then build the result.
fn check_boot(
    files: Option<&OutFiles>,
    kernel_size: u64,
    ramdisk_size: Option<u64>,
    args: &str,
    cap: u64,
) -> Result<(), Failure> {
    if args.len() > MAX_ARGS {
        return Err(Failure(format!(
            "kernel command line is {} bytes, more than Xen's {MAX_ARGS}-byte limit",
            args.len()
        )));
    }
    if args.chars().any(|c| c.is_control()) {
        return Err(Failure(
            "kernel command line contains control characters".into(),
        ));
    }
    if let Some(f) = files {
        let k = f.kernel.1.metadata()?.len();
        if k != kernel_size || k > cap {
            return Err(Failure(format!(
                "kernel file is {k} bytes, parser reported {kernel_size} (limit {cap})"
            )));
        }
        if k == 0 {
            return Err(Failure("kernel file is empty".into()));
        }
        let r = f.ramdisk.1.metadata()?.len();
        let expect = ramdisk_size.unwrap_or(0);
        if r != expect || r > cap {
            return Err(Failure(format!(
                "ramdisk file is {r} bytes, parser reported {expect} (limit {cap})"
            )));
        }
    }
    Ok(())
}

/// Run rsgrub; returns what to print on success.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    let runas = match &cli.runas {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<u32>()
                .map_err(|_| Failure("runas value must be an integer user id".into()))?,
        ),
    }
    .filter(|&u| u != 0); // PyGrub: uid 0 counts as unset.
    let interactive = !cli.quiet && cli.entry.is_none();
    if runas.is_some() && interactive && !cli.list_entries {
        return Err(Failure(
            "In order to use --runas, you must also set --entry or -q".into(),
        ));
    }
    let cap = env_mb(
        "PYGRUB_MAX_FILE_SIZE_MB",
        DEFAULT_MAX_FILE_MB,
        HARD_MAX_FILE_MB,
    ) << 20;
    let ram = env_mb(
        "PYGRUB_MAX_RAM_USAGE_MB",
        DEFAULT_MAX_RAM_MB,
        DEFAULT_MAX_RAM_MB,
    ) << 20;

    let mode = if cli.isconfig {
        Mode::IsConfig
    } else if cli.list_entries {
        Mode::List
    } else if cli.not_really {
        Mode::NotReally
    } else {
        Mode::Boot
    };
    // The boot menu: shown as PyGrub shows it (not with -q, --entry, --runas), when there is
    // a config to choose from and fds 0 and 1 are a terminal.
    let show_menu = interactive
        && runas.is_none()
        && matches!(mode, Mode::Boot | Mode::NotReally)
        && cli.kernel.is_none()
        && crate::menu::terminal_usable();
    let image = OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_cloexec())
        .open(&cli.image)
        .map_err(|e| Failure(format!("cannot open {}: {e}", cli.image.display())))?;

    let needs_files = mode == Mode::Boot;
    let dir = if mode == Mode::Boot || mode == Mode::NotReally {
        Some(output_dir(cli)?)
    } else {
        None
    };
    let mut files = match (&dir, needs_files) {
        (Some(d), true) => Some(OutFiles {
            kernel: create_exclusive(d, "boot_kernel.")?,
            ramdisk: create_exclusive(d, "boot_ramdisk.")?,
            keep_kernel: false,
            keep_ramdisk: false,
        }),
        _ => None,
    };
    // The toolstack's output file exists already (libxl pre-creates it); never created here.
    let mut out: Box<dyn Write> = match cli.output.as_deref() {
        None | Some("-") => Box::new(std::io::stdout()),
        Some(p) if mode == Mode::Boot || mode == Mode::NotReally => Box::new(
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .custom_flags(libc_o_cloexec())
                .open(p)
                .map_err(|e| Failure(format!("cannot open output {p}: {e}")))?,
        ),
        Some(_) => Box::new(std::io::stdout()),
    };

    let req = Request {
        mode,
        offset: cli.offset,
        entry: cli.entry.clone(),
        extra_args: cli.args.clone(),
        kernel: cli.kernel.clone(),
        ramdisk: cli.ramdisk.clone(),
        cap,
        debug: cli.debug,
        config_name: cli.image.to_string_lossy().into_owned(),
        interactive: show_menu,
    };
    let mut keep = vec![0, 1, 2, image.as_raw_fd()];
    if let Some(f) = &files {
        keep.push(f.kernel.1.as_raw_fd());
        keep.push(f.ramdisk.1.as_raw_fd());
    }
    let timeout = std::env::var("LIBXL_BOOTLOADER_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        // A person at the menu gets an hour (libxl sets the variable in restricted mode).
        .unwrap_or(if show_menu { 3600 } else { 120 });
    let policy = Policy {
        enabled: !cli.no_sandbox,
        runas,
        max_file_size: cap,
        max_memory: ram,
        timeout: Duration::from_secs(timeout),
        keep_fds: keep,
    };
    // The menu puts the terminal in raw mode: put it back whatever happens to the child.
    let _tty = crate::menu::TtyGuard::save(show_menu);
    let raw = rsgrub_sandbox::run(&policy, || {
        let outputs = files.as_ref().map(|f| Outputs {
            kernel: &f.kernel.1,
            ramdisk: &f.ramdisk.1,
        });
        child::run(&req, image, outputs).map(|r| r.encode())
    })
    .map_err(|e| Failure(e.to_string()))?;
    let done = finish(mode, &raw, files.as_ref(), cli.output_format, cap)?;
    match done {
        Finished::Text(t) => std::io::stdout().write_all(t.as_bytes())?,
        Finished::Output { bytes, ramdisk } => {
            out.write_all(&bytes)?;
            out.flush()?;
            if let Some(f) = files.as_mut() {
                f.keep_kernel = true;
                f.keep_ramdisk = ramdisk;
            }
        }
    }
    Ok(())
}

/// What the parent does with a checked reply.
#[derive(Debug, PartialEq, Eq)]
enum Finished {
    /// Print this (already stripped of control characters) on stdout.
    Text(String),
    /// Write these bytes to the toolstack's output; keep the ramdisk file or not.
    Output { bytes: Vec<u8>, ramdisk: bool },
}

/// Remove terminal control characters a guest may have put in titles or paths.
fn printable(t: &str) -> String {
    t.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Decode and check the child's reply, whatever bytes it holds, and build what the toolstack
/// reads. The paths in it are only ever the parent's own files.
fn finish(
    mode: Mode,
    raw: &[u8],
    files: Option<&OutFiles>,
    fmt: crate::cli::OutputFormat,
    cap: u64,
) -> Result<Finished, Failure> {
    match Reply::decode(raw)? {
        Reply::Text(t) => {
            if mode != Mode::List && mode != Mode::IsConfig {
                return Err(Failure("unexpected reply from the parser process".into()));
            }
            Ok(Finished::Text(printable(&t)))
        }
        Reply::Boot {
            kernel_size,
            ramdisk_size,
            args,
        } => {
            if mode != Mode::Boot && mode != Mode::NotReally {
                return Err(Failure("unexpected reply from the parser process".into()));
            }
            if mode == Mode::Boot && files.is_none() {
                return Err(Failure("no output files".into()));
            }
            check_boot(files, kernel_size, ramdisk_size, &args, cap)?;
            let (kernel, ramdisk) = match files {
                Some(f) => (
                    Some(f.kernel.0.to_string_lossy().into_owned()),
                    ramdisk_size.map(|_| f.ramdisk.0.to_string_lossy().into_owned()),
                ),
                None => (None, None),
            };
            let result = BootResult {
                kernel,
                ramdisk,
                args,
            };
            let bytes = output::format(fmt, &result).map_err(Failure)?;
            Ok(Finished::Output {
                bytes,
                ramdisk: ramdisk_size.is_some(),
            })
        }
    }
}

/// `rsgrub inspect|ls|cat`.
pub fn run_tool(cli: &crate::cli::ToolCli) -> Result<(), Failure> {
    use crate::cli::Tool;
    let image_path = match &cli.cmd {
        Tool::Inspect { image, .. } | Tool::Ls { image, .. } | Tool::Cat { image, .. } => image,
    };
    let image = OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_cloexec())
        .open(image_path)
        .map_err(|e| Failure(format!("cannot open {}: {e}", image_path.display())))?;
    let cap = env_mb(
        "PYGRUB_MAX_FILE_SIZE_MB",
        DEFAULT_MAX_FILE_MB,
        HARD_MAX_FILE_MB,
    ) << 20;
    let ram = env_mb(
        "PYGRUB_MAX_RAM_USAGE_MB",
        DEFAULT_MAX_RAM_MB,
        DEFAULT_MAX_RAM_MB,
    ) << 20;
    let policy = Policy {
        enabled: !cli.no_sandbox,
        runas: None,
        max_file_size: cap,
        max_memory: ram,
        timeout: Duration::from_secs(120),
        keep_fds: vec![0, 1, 2, image.as_raw_fd()],
    };
    let raw = rsgrub_sandbox::run(&policy, || {
        let raw = std::sync::Arc::new(
            rsgrub_io::FileReader::new(image).map_err(|e| format!("image: {e}"))?,
        );
        let raw_dyn: rsgrub_io::DynReader = raw.clone();
        let info = rsgrub_disk::image::info(&raw_dyn).ok();
        let reader = rsgrub_disk::image::open(raw, None).map_err(|e| format!("image: {e}"))?;
        let guest = crate::guest::Guest::open(reader, None)?;
        let text = match &cli.cmd {
            Tool::Inspect { json: true, .. } => {
                let mut s = serde_json::to_string_pretty(&crate::tools::inspect_json(
                    &guest,
                    info.as_ref(),
                ))
                .map_err(|e| e.to_string())?;
                s.push('\n');
                s
            }
            Tool::Inspect { .. } => crate::tools::inspect_text(&guest, info.as_ref()),
            Tool::Ls { path, .. } => crate::tools::ls(&guest, path)?,
            Tool::Cat { path, .. } => {
                crate::tools::cat(&guest, path, cap)?;
                String::new()
            }
        };
        Ok(Reply::Text(text).encode())
    })
    .map_err(|e| Failure(e.to_string()))?;
    match Reply::decode(&raw)? {
        Reply::Text(t) => {
            // `cat` writes raw bytes itself; inspect/ls text is made printable.
            std::io::stdout().write_all(printable(&t).as_bytes())?;
            Ok(())
        }
        Reply::Boot { .. } => Err(Failure("unexpected reply from the parser process".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::cli::OutputFormat;

    fn files(dir: &Path, kernel: &[u8], ramdisk: &[u8]) -> OutFiles {
        let k = create_exclusive(dir, "boot_kernel.").unwrap();
        let r = create_exclusive(dir, "boot_ramdisk.").unwrap();
        std::fs::write(&k.0, kernel).unwrap();
        std::fs::write(&r.0, ramdisk).unwrap();
        OutFiles {
            kernel: k,
            ramdisk: r,
            keep_kernel: false,
            keep_ramdisk: false,
        }
    }

    /// A fully compromised child controls only the reply bytes: whatever they are, the output
    /// names the parent's own files or nothing (XSA-198).
    #[test]
    fn hostile_replies_cannot_name_other_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let f = files(tmp.path(), b"KERNEL", b"");
        let kpath = f.kernel.0.to_string_lossy().into_owned();
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut accepted = 0;
        for i in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Mostly well-formed boot replies with hostile args, some random noise.
            let raw = if i % 4 == 0 {
                seed.to_le_bytes().repeat((i % 5) as usize)
            } else {
                let args = match i % 3 {
                    0 => "ro\0kernel /etc/shadow".to_string(),
                    1 => "(kernel '/etc/shadow')".to_string(),
                    _ => format!("root=/dev/xvda{}", seed % 7),
                };
                Reply::Boot {
                    kernel_size: if i % 7 == 0 { seed % 10 } else { 6 },
                    ramdisk_size: if i % 11 == 0 { Some(0) } else { None },
                    args,
                }
                .encode()
            };
            for fmt in [OutputFormat::Sxp, OutputFormat::Simple0] {
                if let Ok(Finished::Output { bytes, .. }) =
                    finish(Mode::Boot, &raw, Some(&f), fmt, 1 << 20)
                {
                    accepted += 1;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    // The only path in the output is ours (args are not paths to libxl).
                    let items: Vec<&str> = text.split(['\0']).collect();
                    if fmt == OutputFormat::Simple0 {
                        assert_eq!(items[0], format!("kernel {kpath}"));
                        assert!(!items.iter().any(|l| l.starts_with("ramdisk ")
                            && !l.ends_with(&*f.ramdisk.0.to_string_lossy())));
                        assert_eq!(items.iter().filter(|l| l.starts_with("kernel ")).count(), 1);
                    } else {
                        assert!(
                            text.starts_with(&format!("linux (kernel '{kpath}')")),
                            "{text}"
                        );
                    }
                }
            }
        }
        assert!(accepted > 0, "well-formed replies must be accepted");
        // A reply that lies about the kernel size is refused.
        let lie = Reply::Boot {
            kernel_size: 7,
            ramdisk_size: None,
            args: String::new(),
        }
        .encode();
        assert!(finish(Mode::Boot, &lie, Some(&f), OutputFormat::Sxp, 1 << 20).is_err());
        // Text where a boot result is expected is refused.
        let t = Reply::Text("kernel /etc/shadow".into()).encode();
        assert!(finish(Mode::Boot, &t, Some(&f), OutputFormat::Sxp, 1 << 20).is_err());
        // Over Xen's command-line limit.
        let long = Reply::Boot {
            kernel_size: 6,
            ramdisk_size: None,
            args: "a".repeat(MAX_ARGS + 1),
        }
        .encode();
        assert!(finish(Mode::Boot, &long, Some(&f), OutputFormat::Sxp, 1 << 20).is_err());
    }

    #[test]
    fn listing_text_is_made_printable() {
        let raw = Reply::Text("title: \u{1b}[2Jevil\n".into()).encode();
        let out = finish(Mode::List, &raw, None, OutputFormat::Sxp, 0).unwrap();
        assert_eq!(out, Finished::Text("title: ?[2Jevil\n".into()));
    }
}
