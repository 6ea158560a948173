//! rsgrub: a drop-in replacement for Xen's PyGrub.
//!
//! The parent process (this crate's [`run`]) never parses guest bytes; [`child`] does, inside
//! the sandbox of `rsgrub-sandbox`.
#![forbid(unsafe_code)]

mod child;
mod cli;
mod discover;
mod extract;
mod guest;
mod menu;
mod output;
mod protocol;
mod run;
mod tools;

use clap::Parser;

fn main() {
    let first = std::env::args_os().nth(1);
    let tool = first
        .as_ref()
        .and_then(|a| a.to_str())
        .is_some_and(|a| matches!(a, "inspect" | "ls" | "cat"));
    // XAPI shows the text after a line beginning "RuntimeError: " (PyGrub's traceback tail):
    // speak that way when run as `pygrub` or with XAPI's `--output-format=simple`.
    let invoked_as_pygrub = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| n == "pygrub");
    let (result, xapi) = if tool {
        (run::run_tool(&cli::ToolCli::parse()), false)
    } else {
        let cli = cli::Cli::parse();
        let xapi = invoked_as_pygrub || cli.output_format == cli::OutputFormat::Simple;
        (run::run(&cli), xapi)
    };
    if let Err(run::Failure(msg)) = result {
        let msg = msg.replace(['\n', '\r'], " ");
        if xapi {
            eprintln!("RuntimeError: {msg}");
        } else {
            eprintln!("rsgrub: error: {msg}");
        }
        std::process::exit(1);
    }
}
