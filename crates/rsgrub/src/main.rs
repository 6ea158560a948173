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
    let result = if tool {
        run::run_tool(&cli::ToolCli::parse())
    } else {
        run::run(&cli::Cli::parse())
    };
    match result {
        Ok(()) => {}
        Err(run::Failure(msg)) => {
            // XAPI reports the text after "RuntimeError: " from PyGrub's stderr.
            eprintln!("rsgrub: RuntimeError: {msg}");
            std::process::exit(1);
        }
    }
}
