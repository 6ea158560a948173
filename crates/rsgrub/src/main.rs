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

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    match run::run(&cli) {
        Ok(()) => {}
        Err(run::Failure(msg)) => {
            // XAPI reports the text after "RuntimeError: " from PyGrub's stderr.
            eprintln!("rsgrub: RuntimeError: {msg}");
            std::process::exit(1);
        }
    }
}
