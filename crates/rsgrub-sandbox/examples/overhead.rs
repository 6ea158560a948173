//! Ad-hoc measurement of what one sandboxed run costs, and which walls this machine gives.
//!
//! `cargo run --release -p rsgrub-sandbox --example overhead [RUNS]`
use rsgrub_sandbox::{run_report, status, Policy};
use std::time::{Duration, Instant};

fn main() {
    for line in status() {
        println!("{line}");
    }
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let policy = Policy::default();
    let inproc = Policy {
        enabled: false,
        ..Policy::default()
    };
    let mut times = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        let t = Instant::now();
        let r = run_report(&policy, || Ok(b"x".to_vec()));
        times.push(t.elapsed());
        assert_eq!(r.result.unwrap(), b"x");
    }
    let t = Instant::now();
    for _ in 0..runs {
        let _ = run_report(&inproc, || Ok(b"x".to_vec()));
    }
    let base = t.elapsed() / runs;
    times.sort();
    let avg = times.iter().sum::<Duration>() / runs;
    println!(
        "{runs} sandboxed runs of a trivial closure: average {avg:?}, median {:?}, min {:?}, \
         max {:?} (in-process: {base:?})",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
