//! Renders the man pages and shell completions from the CLI definition in `src/cli.rs`, into
//! `$OUT_DIR/assets/`:
//!
//! * `man/rsgrub.1`, `man/rsgrub-inspect.1`, `man/rsgrub-ls.1`, `man/rsgrub-cat.1`
//! * `completions/rsgrub.bash`, `completions/_rsgrub` (zsh), `completions/rsgrub.fish`
//!
//! `scripts/build-deb.sh` packages them. The binary has two command lines (the PyGrub one,
//! [`cli::Cli`], and the operator tools, [`cli::ToolCli`], chosen by the first argument);
//! the pages and completions describe them as one command with three subcommands.

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

use clap::CommandFactory;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| std::io::Error::other("OUT_DIR is not set"))?
        .join("assets");
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;

    let cmd = command();
    write_man_pages(&cmd, &man)?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "rsgrub", &completions)?;
    }
    Ok(())
}

/// `Cli` with `ToolCli`'s subcommands added: what a user can type.
fn command() -> clap::Command {
    let tools = cli::ToolCli::command();
    let mut cmd = cli::Cli::command()
        .subcommand_negates_reqs(true)
        .args_conflicts_with_subcommands(true)
        .disable_help_subcommand(true)
        // The tools take --no-sandbox too.
        .mut_arg("no_sandbox", |a| a.global(true));
    for sub in tools.get_subcommands() {
        cmd = cmd.subcommand(sub.clone());
    }
    cmd
}

/// rsgrub.1 (clap's sections plus how the toolstacks run rsgrub) and one page per
/// subcommand.
fn write_man_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    let mut cmd = cmd.clone().long_about(LONG_ABOUT);
    cmd.build();
    write_page(&cmd, "rsgrub", EXTRA_SECTIONS, &dir.join("rsgrub.1"))?;
    for sub in cmd.get_subcommands() {
        let name = format!("rsgrub-{}", sub.get_name());
        // The subcommand pages' SYNOPSIS already says `rsgrub inspect ...`.
        write_page(sub, &name, SUB_SEE_ALSO, &dir.join(format!("{name}.1")))?;
    }
    Ok(())
}

/// One page: our own `.TH` line (clap_mangen's drops the empty date and shifts the other
/// fields), clap's sections, then `extra`; non-ASCII characters as groff `\[uXXXX]`.
fn write_page(cmd: &clap::Command, name: &str, extra: &str, path: &Path) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone());
    let mut roff: Vec<u8> = Vec::new();
    writeln!(
        roff,
        ".TH {} 1 \"\" \"rsgrub {}\" \"User Commands\"",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION")
    )?;
    // NAME must say rsgrub-NAME for the subcommand pages (clap's display name, once built).
    let mut name_section = Vec::new();
    page.render_name_section(&mut name_section)?;
    let mut name_section = String::from_utf8_lossy(&name_section).into_owned();
    let want = format!("{} \\-", name.replace('-', "\\-"));
    if !name_section.contains(&want) && !name_section.contains(&format!("{name} \\-")) {
        name_section = name_section.replacen(
            &format!("{} \\-", cmd.get_name()),
            &format!("{name} \\-"),
            1,
        );
    }
    roff.extend_from_slice(name_section.as_bytes());
    page.render_synopsis_section(&mut roff)?;
    page.render_description_section(&mut roff)?;
    page.render_options_section(&mut roff)?;
    if cmd.has_subcommands() {
        page.render_subcommands_section(&mut roff)?;
    }
    roff.extend_from_slice(extra.as_bytes());
    if cmd.get_version().is_some() {
        page.render_version_section(&mut roff)?;
    }
    let mut ascii = String::new();
    for c in String::from_utf8_lossy(&roff).chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            ascii.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    std::fs::write(path, ascii)
}

/// The doc comment of `Cli` (clap's `long_about = None` keeps it out of `--help`).
const LONG_ABOUT: &str = "A drop-in replacement for PyGrub: reads the guest's disk image \
without mounting it, finds its GRUB 2 / GRUB legacy / syslinux config, picks an entry, copies \
the kernel and initrd out to new files and tells the toolstack what to boot.";

const SUB_SEE_ALSO: &str = ".SH \"SEE ALSO\"\n.BR rsgrub (1)\n";

/// Hand-written roff for rsgrub.1, after SUBCOMMANDS.
const EXTRA_SECTIONS: &str = r#".SH "USE WITH XL"
In a guest's
.BR xl.cfg (5):
.PP
.RS
.nf
bootloader = "/usr/bin/rsgrub"
bootloader_args = ["\-\-entry=Debian GNU/Linux"]
bootloader_restrict = 1
.fi
.RE
.PP
libxl runs rsgrub exactly as it runs PyGrub:
.B rsgrub
.RB [ \-\-runas=\fIUID\fP " " \-q ]
.B \-\-output=\fIFILE\fP \-\-output\-format=simple0 \-\-output\-directory=\fIDIR\fP
.RI [ args ]
.IR DISK .
With
.BR bootloader_restrict ,
libxl adds
.B \-\-runas
and
.BR \-\-quiet .
.SH "USE WITH XAPI"
XAPI runs
.B pygrub \-\-output\-format=simple \-q
and shows the text after
.B RuntimeError:
on failure.
Point it at
.IR /usr/lib/rsgrub/pygrub ,
a link to rsgrub: when run as
.B pygrub
or with
.BR \-\-output\-format=simple ,
rsgrub prints its one-line error as
.BR "RuntimeError: " ... .
.SH SECURITY
The guest's disk is parsed in a sandbox: a forked child with no privileges, no files but the
image and the two output files, its own namespaces, resource limits, Landlock and a seccomp
allowlist.
The parent never parses guest bytes; it checks the child's reply against the files it created
itself.
.B \-\-no\-sandbox
turns this off, for debugging only.
.SH FILES
.TP
.I /var/run/xen/pygrub
Default directory for the extracted kernel and ramdisk
.RI ( boot_kernel. XXXXXXXX ,
.IR boot_ramdisk. XXXXXXXX ).
.TP
.I /usr/lib/rsgrub/pygrub
PyGrub-compatible name for rsgrub.
.SH "EXIT STATUS"
0 on success; 1 if no kernel could be found or extracted (the reason is printed on standard
error); 2 for a command-line error.
.SH "SEE ALSO"
.BR xl (1),
.BR xl.cfg (5),
.BR rsgrub\-inspect (1),
.BR rsgrub\-ls (1),
.BR rsgrub\-cat (1)
"#;
