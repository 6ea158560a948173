//! The command line: PyGrub's options with PyGrub's meanings, plus rsgrub's own.
use clap::{ArgAction, Parser, ValueEnum};
use std::path::PathBuf;

/// Output formats the toolstacks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `linux (kernel '…')(ramdisk '…')(args '…')` (PyGrub's default, xend).
    Sxp,
    /// `kernel P\nramdisk P\nargs A\n\n` (XAPI).
    Simple,
    /// As `simple` with NUL separators (libxl).
    Simple0,
}

/// rsgrub: boot a Xen guest from the bootloader config on its own disk.
///
/// A drop-in replacement for PyGrub: reads the guest's disk image without mounting it,
/// finds its GRUB 2 / GRUB legacy / syslinux config, picks an entry, copies the kernel and
/// initrd out to new files and tells the toolstack what to boot.
#[derive(Debug, Parser)]
#[command(name = "rsgrub", version, about, long_about = None)]
pub struct Cli {
    /// No menu: boot the default entry.
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue)]
    pub quiet: bool,

    /// Show the menu (the default, unless -q, --entry or no terminal).
    #[arg(short = 'i', long = "interactive", action = ArgAction::SetTrue)]
    pub interactive: bool,

    /// Print the entries of the config that would be used, then exit.
    #[arg(short = 'l', long = "list-entries", action = ArgAction::SetTrue)]
    pub list_entries: bool,

    /// Check that the files exist but extract nothing (output says `kernel None`).
    #[arg(short = 'n', long = "not-really", action = ArgAction::SetTrue)]
    pub not_really: bool,

    /// Where to write the result (`-` or absent: standard output). Must already exist.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<String>,

    /// Result format.
    #[arg(
        long = "output-format",
        value_enum,
        default_value = "sxp",
        value_name = "FORMAT"
    )]
    pub output_format: OutputFormat,

    /// Directory for the extracted kernel and ramdisk (must exist; default
    /// /var/run/xen/pygrub, created mode 0700).
    #[arg(long = "output-directory", value_name = "DIR")]
    pub output_directory: Option<PathBuf>,

    /// Read one filesystem at this byte offset; no partition table.
    #[arg(long = "offset", value_name = "BYTES")]
    pub offset: Option<u64>,

    /// Boot this entry: a number, a title, an id, or a `>`-separated submenu path. Implies -q.
    #[arg(long = "entry", value_name = "ENTRY")]
    pub entry: Option<String>,

    /// Boot this kernel path from the guest's disk; the config is not read.
    #[arg(long = "kernel", value_name = "PATH")]
    pub kernel: Option<String>,

    /// With --kernel: this ramdisk path.
    #[arg(long = "ramdisk", value_name = "PATH")]
    pub ramdisk: Option<String>,

    /// Extra kernel arguments, appended after a space to the entry's.
    #[arg(long = "args", value_name = "ARGS")]
    pub args: Option<String>,

    /// Treat IMAGE as a bootloader config file and print what it would boot.
    #[arg(long = "isconfig", action = ArgAction::SetTrue)]
    pub isconfig: bool,

    /// Print what is read and why, and every per-partition error.
    #[arg(long = "debug", action = ArgAction::SetTrue)]
    pub debug: bool,

    /// Run the parser as this uid (libxl's `bootloader_restrict`). Needs -q or --entry.
    #[arg(long = "runas", value_name = "UID")]
    pub runas: Option<String>,

    /// Parse in-process, without the sandbox. For debugging only: never on untrusted images.
    #[arg(long = "no-sandbox", action = ArgAction::SetTrue)]
    pub no_sandbox: bool,

    /// The guest's disk image: a raw file or block device (or a config with --isconfig).
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
}

/// `rsgrub inspect|ls|cat`: see what rsgrub sees on a disk (sandboxed like the boot path).
#[derive(Debug, Parser)]
#[command(
    name = "rsgrub",
    version,
    about = "Inspect a guest disk as rsgrub sees it"
)]
pub struct ToolCli {
    /// What to do.
    #[command(subcommand)]
    pub cmd: Tool,
    /// Parse in-process, without the sandbox (debugging only).
    #[arg(long = "no-sandbox", global = true, action = ArgAction::SetTrue)]
    pub no_sandbox: bool,
}

/// Operator tools.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// Volumes, filesystems, configs, the entry tree, the default and why, and whether each
    /// entry's files exist.
    Inspect {
        /// Machine-readable output (schema `rsgrub-inspect/1`, docs/inspect-schema.md).
        #[arg(long = "json", action = ArgAction::SetTrue)]
        json: bool,
        /// The guest's disk image.
        image: PathBuf,
    },
    /// List a directory: `[VOLUME:]PATH` or `(hd0,gpt2)/PATH`.
    Ls {
        /// The guest's disk image.
        image: PathBuf,
        /// Path, optionally with a volume index or GRUB device.
        path: String,
    },
    /// Print a file: `[VOLUME:]PATH` or `(hd0,gpt2)/PATH`.
    Cat {
        /// The guest's disk image.
        image: PathBuf,
        /// Path, optionally with a volume index or GRUB device.
        path: String,
    },
}
