//! The deprivileged child process that parses guest bytes. The only crate of rsgrub with
//! `unsafe`; every `unsafe` block states why it is sound (`// SAFETY:`).
//!
//! # API
//!
//! * [`run_report`]`(policy, f)` runs `f` in a sandboxed child and returns a [`Report`]: the
//!   result (`Ok` bytes of `f`, or a [`SandboxError`]), the **warnings** (walls that could not
//!   be raised — the caller must print them), the walls raised (for `--debug`) and the
//!   child's `/proc/PID/status` as the parent read it before `f` ran.
//! * [`run`]`(policy, f)` is the same, printing each warning to stderr itself
//!   (`rsgrub: warning: sandbox: …`) and returning only the result.
//! * [`status`] runs a trivial sandboxed child and describes which walls this machine gives.
//! * `Policy { enabled: false, .. }` (`--no-sandbox`) runs `f` in-process, with one loud
//!   warning.
//!
//! `f` returns `Result<Vec<u8>, String>`; the parent accepts at most [`MAX_RESULT_LEN`]
//! bytes (16 MiB) and 64 KiB of error text, sanitised (no control characters reach the
//! terminal).
//!
//! # Processes
//!
//! ```text
//! parent P (the caller)          intermediate A                 worker W (runs f)
//! pipe(res), pipe(go), fork ───► close fds, setsid,
//!                                pdeathsig, !dumpable,
//!                                [userns], unshare ns,
//!                                chroot empty tmpfs, fork ───► PID 1 of the new PID ns:
//!                                waitpid(W), die like W         ids, caps, no_new_privs,
//!                                                               Landlock, rlimits, seccomp,
//!  ◄──────── walls, warnings, W's pid, "ready" ──────────────── then blocks on `go`
//!  reads /proc/W/status: Seccomp 2, NoNewPrivs 1, no caps, uid/gid
//!  ──────── "g" ───────────────────────────────────────────────► f(); result; _exit(0)
//!  ◄──────── length-prefixed result ─────────────────────────────
//!  reap A; classify its wait status (A re-raises W's fatal signal)
//! ```
//!
//! The intermediate exists because a process can only enter a new PID namespace through
//! its children. It keeps no fd at all once W exists.
//!
//! # Walls, in order
//!
//! In A: (1) close every fd but `keep_fds` and the two pipe ends (`close_range`), before
//! anything opens a file; (2) `setsid`; (3) `PR_SET_PDEATHSIG` = SIGKILL (and check the
//! parent did not die before); (4) when not root, a user namespace mapping only our uid and
//! gid; `unshare` of the mount, network, IPC, UTS and PID namespaces; (5) `PR_SET_DUMPABLE`
//! 0 (after the user namespace: its maps are written through `/proc/self`), `RLIMIT_CORE` 0;
//! (6) `chroot` into a fresh, detached (never attached to any mount table), read-only,
//! `nosuid,nodev,noexec`, 4 KiB tmpfs made with `fsopen`/`fsmount`.
//!
//! In W: (7) `PR_SET_PDEATHSIG` again; SIGPIPE and SIGXFSZ ignored (EPIPE/EFBIG instead),
//! SIGABRT → `_exit(134)`; a panic hook that sends the message to the parent;
//! `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` turned to 0 (std's OOM handler would open files to
//! symbolise a backtrace, and die of seccomp instead of reporting an abort); (8) empty
//! capability bounding set, `setgroups([])`, `setresgid`, `setresuid` to `--runas` (or 65534
//! when root), ambient/effective/permitted/inheritable capabilities cleared, then checked;
//! `PR_SET_DUMPABLE` 0 again (credential changes reset it); (9) `PR_SET_NO_NEW_PRIVS`;
//! (10) Landlock handling every filesystem and network right and both scopes this crate
//! knows (ABI 10), with no rule: all denied, best effort by kernel ABI, reported; (11)
//! rlimits: AS = `max_memory`, FSIZE = `max_file_size`, NPROC 0, CORE 0, NOFILE = highest
//! kept fd + 1, CPU = timeout + 1 s; (12) the seccomp allowlist (see [`seccomp`]), default
//! action kill process.
//!
//! Then W reports "ready" and blocks. The parent reads `/proc/W/status` and requires
//! `Seccomp: 2`, `NoNewPrivs: 1`, zero `CapEff`/`CapPrm`/`CapAmb`, the four uids and gids
//! expected, and (root) no supplementary group; a mismatch kills the child
//! ([`SandboxError::Setup`]). Only then does it write the go-ahead and `f` run.
//!
//! # What degrades
//!
//! Every wall that cannot be raised becomes a warning in [`Report::warnings`]; none fails
//! silently. Failing to close fds, to set the parent-death signal, to drop ids or
//! capabilities, to set no_new_privs or to install seccomp is an error ([`SandboxError::Setup`]):
//! those are the walls everything else leans on. Without root the parser keeps the caller's
//! uid and groups (warned), and the namespaces and the empty root need an unprivileged user
//! namespace; Landlock and seccomp need no privilege.
//!
//! # Caller obligations
//!
//! * `fork` copies only the calling thread. The child uses raw system calls and takes no
//!   lock but malloc's (reset by glibc at fork) and std's panic-hook lock (taken for writing
//!   once, to install the hook), so it is fine to call [`run`] from a multi-threaded process
//!   (the tests do). A lock that another thread held at the instant of `fork` stays held in
//!   the child: `f` must not wait on the parent's locks (stdout's included). The worst case
//!   is bounded: a hung child is killed at the timeout.
//! * `PR_SET_PDEATHSIG` fires when the *thread* that forked exits; [`run`] blocks that
//!   thread until the child is gone, so this holds.
//! * The caller must not ignore SIGCHLD (the exit status is needed).
//! * Fds in `keep_fds` stay open in the child; all others are closed there, including 0, 1
//!   and 2 unless kept. `f` must not drop an owner (`File`) of an fd it was not given: with
//!   debug assertions, std aborts on closing an already-closed fd.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod child;
mod parent;
pub mod protocol;
pub mod seccomp;

pub use parent::NOBODY;
pub use protocol::MAX_RESULT_LEN;

/// What the child may keep and how it is limited.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `false` with `--no-sandbox`: run the closure in-process.
    pub enabled: bool,
    /// `--runas` uid; `None` = a fixed unprivileged uid (65534) when root, unchanged
    /// otherwise. Not root, a different uid is an error.
    pub runas: Option<u32>,
    /// RLIMIT_FSIZE and the cap the parent checks output files against.
    pub max_file_size: u64,
    /// RLIMIT_AS.
    pub max_memory: u64,
    /// Wall-clock limit; the child is killed after it.
    pub timeout: std::time::Duration,
    /// Raw fds the child keeps open (image, outputs, terminal). All others are closed.
    pub keep_fds: Vec<i32>,
}

impl Default for Policy {
    /// Sandbox on, uid 65534 when root, 512 MiB per file, 1 GiB of address space, 120 s, no fd.
    fn default() -> Self {
        Policy {
            enabled: true,
            runas: None,
            max_file_size: 512 << 20,
            max_memory: 1 << 30,
            timeout: std::time::Duration::from_secs(120),
            keep_fds: Vec::new(),
        }
    }
}

/// Why the child failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The child reported an error (its message, sanitised).
    #[error("{0}")]
    Child(String),
    /// Setting up the sandbox failed.
    #[error("sandbox: {0}")]
    Setup(String),
    /// Killed or crashed.
    #[error("parser process died: {0}")]
    Died(String),
    /// Took too long.
    #[error("parser process timed out after {0} s")]
    Timeout(u64),
    /// The child's message was malformed or over its cap (the child was killed).
    #[error("parser process sent a malformed result: {0}")]
    Protocol(String),
}

/// Everything a sandboxed run produced.
#[derive(Debug)]
#[must_use = "the warnings must be shown to the user"]
pub struct Report {
    /// `f`'s bytes, or why there are none.
    pub result: Result<Vec<u8>, SandboxError>,
    /// Walls that could not be raised or are weaker than asked. Print every one.
    pub warnings: Vec<String>,
    /// Walls that were raised, in order (for `--debug`).
    pub walls: Vec<String>,
    /// The worker's `/proc/PID/status`, read by the parent after the walls were up and
    /// before `f` ran (`None` when disabled, or when it could not be read: then warned).
    pub child_status: Option<String>,
}

/// The warning of `--no-sandbox`.
pub const DISABLED_WARNING: &str = "SANDBOX DISABLED (--no-sandbox): the guest's disk is parsed \
    in this process with all its privileges; never do this with an untrusted guest";

/// Run `f` in the sandbox and report everything (see the crate docs).
pub fn run_report<F>(policy: &Policy, f: F) -> Report
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    if !policy.enabled {
        return Report {
            result: f().map_err(SandboxError::Child),
            warnings: vec![DISABLED_WARNING.into()],
            walls: Vec::new(),
            child_status: None,
        };
    }
    parent::run(policy, f)
}

/// Run `f` in the sandbox; returns its result bytes. Each warning of [`Report::warnings`]
/// is printed to stderr; use [`run_report`] to handle them yourself.
pub fn run<F>(policy: &Policy, f: F) -> Result<Vec<u8>, SandboxError>
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let report = run_report(policy, f);
    for w in &report.warnings {
        eprintln!("rsgrub: warning: sandbox: {w}");
    }
    report.result
}

/// Which walls this machine gives, by running a trivial closure in the sandbox (a few ms).
/// One line per wall (`raised: …`), missing wall (`MISSING: …`) or failure.
pub fn status() -> Vec<String> {
    let euid = rustix::process::geteuid().as_raw();
    let mut lines = vec![format!(
        "running as uid {euid} ({})",
        if euid == 0 { "root" } else { "not root" }
    )];
    let policy = Policy {
        // Room for whatever address space this process already has.
        max_memory: u64::MAX,
        timeout: std::time::Duration::from_secs(10),
        ..Policy::default()
    };
    let r = run_report(&policy, || Ok(Vec::new()));
    lines.extend(r.walls.iter().map(|w| format!("raised: {w}")));
    lines.extend(r.warnings.iter().map(|w| format!("MISSING: {w}")));
    if r.child_status.is_some() {
        lines.push("checked from outside: Seccomp 2, NoNewPrivs 1, no capabilities, ids".into());
    }
    if let Err(e) = r.result {
        lines.push(format!("FAILED: {e}"));
    }
    lines
}
