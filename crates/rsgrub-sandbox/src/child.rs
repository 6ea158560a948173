//! The child side: the intermediate process A and the worker W.
//!
//! Both are forked copies of the parent's memory that must never return into the caller's
//! code: every path ends in [`exit_now`] (`_exit(2)`, no destructors, no atexit handlers, no
//! stdio flush of the parent's buffers). Panics are caught at the top of each.
//!
//! The caller may be multi-threaded (the test harness is): after `fork` only this thread
//! exists, so the code here only takes locks that glibc resets in the child (`malloc`'s) and
//! uses raw system calls through `rustix` (no `setxid` broadcast to threads that are gone).
use crate::protocol::{self, kind, MAX_SETUP_FRAME, MAX_TEXT};
use crate::seccomp;
use rustix::io::Errno;
use rustix::process::{Pid, Resource, Rlimit, Signal};
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::AssertUnwindSafe;

/// Exit codes of the child (mirrored by A from W). Anything the worker says after the
/// go-ahead is untrusted, and that includes these: they only pick a message.
pub const EXIT_SETUP: i32 = 125;
/// The parent never gave the go-ahead (it found a wall missing, or died).
pub const EXIT_NO_GO: i32 = 124;
/// The result could not be written to the pipe.
pub const EXIT_WRITE: i32 = 123;
/// `f` panicked (unwinding build).
pub const EXIT_PANIC: i32 = 101;
/// `abort()` (out-of-memory, panic=abort, ...): the worker's `SIGABRT` handler exits with
/// this, because a PID-namespace init ignores its own `SIGABRT`.
pub const EXIT_ABORT: i32 = 134;

/// Which ids the worker ends with.
#[derive(Debug, Clone, Copy)]
pub enum Ids {
    /// The parent is root: switch to these (no supplementary groups).
    Switch {
        /// uid
        uid: u32,
        /// gid
        gid: u32,
    },
    /// Not root: keep ours; a user namespace maps exactly them to themselves.
    Keep {
        /// uid
        uid: u32,
        /// gid
        gid: u32,
    },
}

impl Ids {
    /// The uid the worker must end with.
    pub fn uid(self) -> u32 {
        match self {
            Ids::Switch { uid, .. } | Ids::Keep { uid, .. } => uid,
        }
    }
    /// The gid the worker must end with.
    pub fn gid(self) -> u32 {
        match self {
            Ids::Switch { gid, .. } | Ids::Keep { gid, .. } => gid,
        }
    }
}

/// Everything the child needs, prepared by the parent before `fork`.
#[derive(Debug)]
pub struct Plan {
    /// Sorted, unique: the caller's `keep_fds` plus `res_w` and `go_r`.
    pub keep: Vec<RawFd>,
    /// Write end of the result pipe.
    pub res_w: RawFd,
    /// Read end of the go-ahead pipe.
    pub go_r: RawFd,
    /// The parent's pid, to detect its death before `PR_SET_PDEATHSIG` was set.
    pub parent: Pid,
    /// Target ids.
    pub ids: Ids,
    /// RLIMIT_AS.
    pub max_memory: u64,
    /// RLIMIT_FSIZE.
    pub max_file_size: u64,
    /// RLIMIT_CPU (seconds): a little more than the wall-clock timeout.
    pub cpu_secs: u64,
}

/// Leave this process now. Never returns into the caller's code.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions. It deliberately skips destructors and atexit
    // handlers: this process is a copy of the parent, whose buffers and handlers it must not
    // flush or run a second time.
    unsafe { libc::_exit(code) }
}

/// The pipe to the parent.
#[derive(Clone, Copy)]
struct Out(RawFd);

impl Out {
    fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `res_w` is in `Plan::keep`, so `close_other_fds` leaves it open, and no code
        // in the child closes it before `_exit`; the borrow cannot outlive the process.
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }

    fn write_all(&self, mut buf: &[u8]) -> Result<(), Errno> {
        while !buf.is_empty() {
            match rustix::io::write(self.fd(), buf) {
                Ok(0) => return Err(Errno::PIPE),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A small frame, in one `write` (atomic: at most `PIPE_BUF` bytes).
    fn small(&self, k: u8, payload: &[u8]) -> Result<(), Errno> {
        self.write_all(&protocol::encode(k, payload))
    }

    fn text(&self, k: u8, s: &str, cap: usize) -> Result<(), Errno> {
        let s = protocol::truncate(s, cap);
        if s.len() <= MAX_SETUP_FRAME {
            self.small(k, s.as_bytes())
        } else {
            self.big(k, s.as_bytes())
        }
    }

    /// A large frame: header, then payload, without copying it.
    fn big(&self, k: u8, payload: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(payload.len()).map_err(|_| Errno::FBIG)?;
        let mut h = [k, 0, 0, 0, 0];
        h[1..].copy_from_slice(&len.to_le_bytes());
        self.write_all(&h)?;
        self.write_all(payload)
    }

    /// Report a setup failure; returns the exit code to use.
    fn fail(&self, what: &str) -> i32 {
        let _ = self.text(kind::SETUP_FAILED, what, MAX_SETUP_FRAME);
        EXIT_SETUP
    }
}

/// Walls raised and warnings, collected during setup and sent to the parent in one go.
#[derive(Default)]
struct Notes(Vec<(u8, String)>);

impl Notes {
    fn wall(&mut self, s: impl Into<String>) {
        self.0.push((kind::WALL, s.into()));
    }
    fn warn(&mut self, s: impl Into<String>) {
        self.0.push((kind::WARNING, s.into()));
    }
    fn send(&mut self, out: Out) -> Result<(), Errno> {
        for (k, s) in self.0.drain(..) {
            out.text(k, &s, MAX_SETUP_FRAME)?;
        }
        Ok(())
    }
}

fn raw_close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: close_range(2) takes plain integers and touches no memory. Closing fds under
    // live `OwnedFd`s of this (forked) process is intended: only the kept fds may survive,
    // and the child never drops an owner of a closed fd (it leaves through `_exit`).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
    }
}

/// Close every fd but `keep` (sorted, unique, non-negative).
fn close_other_fds(keep: &[RawFd]) -> Result<(), String> {
    let mut gaps = Vec::with_capacity(keep.len() + 1);
    let mut next: u32 = 0;
    for &k in keep {
        let k = k as u32;
        if k > next {
            gaps.push((next, k - 1));
        }
        next = k.saturating_add(1);
    }
    gaps.push((next, u32::MAX));
    for &(first, last) in &gaps {
        match raw_close_range(first, last) {
            Ok(()) => {}
            Err(Errno::NOSYS) => {
                // Kernels before 5.9: close one by one up to the fd limit.
                let limit = rustix::process::getrlimit(Resource::Nofile)
                    .current
                    .unwrap_or(1 << 20)
                    .min(1 << 20) as u32;
                for fd in first..=last.min(limit) {
                    // SAFETY: as in `raw_close_range`; `fd` is not a kept fd (it is in a gap).
                    unsafe { libc::close(fd as RawFd) };
                }
            }
            Err(e) => return Err(format!("close_range: {e}")),
        }
    }
    Ok(())
}

fn unblock_all_signals() {
    // SAFETY: `set` is a local, initialised by sigemptyset before use; sigprocmask only reads
    // it. The child is single-threaded.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

fn set_disposition(sig: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: `sa` is a zeroed local (a valid `sigaction`: empty mask, no flags) with
    // `sa_sigaction` set to SIG_IGN, SIG_DFL or `on_abort`, an `extern "C" fn(c_int)` that
    // only calls the async-signal-safe `_exit`.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

extern "C" fn on_abort(_: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe and has no preconditions.
    unsafe { libc::_exit(EXIT_ABORT) }
}

/// Die the way the worker died, so the parent sees it through our wait status.
fn reraise(sig: i32) {
    set_disposition(sig, libc::SIG_DFL);
    unblock_all_signals();
    // SAFETY: plain integers; sends `sig` to this very process.
    unsafe { libc::kill(libc::getpid(), sig) };
}

/// The intermediate process A: closes fds, new session, parent-death signal, non-dumpable,
/// namespaces, empty root; forks the worker (PID 1 of a new PID namespace when possible),
/// closes everything and mirrors the worker's fate as its own exit status.
pub fn intermediate<F>(plan: &Plan, f: F) -> !
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let out = Out(plan.res_w);
    let code = match std::panic::catch_unwind(AssertUnwindSafe(|| run_intermediate(plan, f, out))) {
        Ok(code) => code,
        Err(_) => out.fail("internal error (panic) while raising the sandbox"),
    };
    exit_now(code)
}

fn run_intermediate<F>(plan: &Plan, f: F, out: Out) -> i32
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let mut notes = Notes::default();
    // 1. Only the kept fds survive. First, before anything opens a file of its own.
    if let Err(e) = close_other_fds(&plan.keep) {
        return out.fail(&format!("closing inherited fds: {e}"));
    }
    notes.wall(format!(
        "fds: all closed but {} kept by the caller and the result pipe",
        plan.keep.len() - 2
    ));
    unblock_all_signals();
    // 2. New session: no controlling terminal, its own process group (the parent kills the
    //    group), no job-control signals from the tty.
    match rustix::process::setsid() {
        Ok(_) => notes.wall("new session and process group"),
        Err(e) => notes.warn(format!("setsid failed: {e}")),
    }
    // 3. Die with the parent. Check it did not die before this took effect.
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return out.fail(&format!("PR_SET_PDEATHSIG: {e}"));
    }
    if rustix::process::getppid() != Some(plan.parent) {
        return EXIT_NO_GO;
    }
    // 4. Namespaces (the user namespace's maps are written through /proc/self, which a
    //    non-dumpable process does not own: dumpability goes after).
    let ns = namespaces(plan.ids, &mut notes);
    // 5. Not dumpable: no core, no ptrace attach by same-uid processes, /proc/PID owned by root.
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        notes.warn(format!("PR_SET_DUMPABLE 0 failed: {e}"));
    }
    set_limit(Resource::Core, 0, "CORE", &mut notes);
    // 6. The empty root.
    match empty_root(ns.mount) {
        Ok(()) => {
            notes.wall("root: an empty read-only tmpfs (chroot), nothing of the host visible")
        }
        Err(e) => notes.warn(format!(
            "no empty root ({e}): the host's filesystem stays visible by path (Landlock and \
             seccomp still deny opening anything)"
        )),
    }
    if notes.send(out).is_err() {
        return EXIT_WRITE;
    }
    // SAFETY: fork(2) in a single-threaded process (this one: forked from the caller's
    // thread). The child continues in `worker`, which never returns (it ends in `_exit`).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return out.fail(&format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        worker(plan, f, out);
    }
    // A never runs `f` nor drops what it captured (the parent's objects).
    std::mem::forget(f);
    if out
        .small(kind::WORKER_PID, &(pid as u32).to_le_bytes())
        .is_err()
    {
        // SAFETY: plain integers: kill our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // A needs nothing any more: no fd of the caller, not even the pipe.
    let _ = raw_close_range(0, u32::MAX);
    mirror(pid)
}

fn mirror(pid: libc::pid_t) -> i32 {
    let Some(child) = Pid::from_raw(pid) else {
        return EXIT_SETUP;
    };
    loop {
        match rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return code;
                }
                if let Some(sig) = status.terminating_signal() {
                    reraise(sig);
                    return 128 + sig;
                }
            }
            Ok(None) | Err(Errno::INTR) => {}
            Err(_) => return EXIT_SETUP,
        }
    }
}

#[derive(Default)]
struct Ns {
    mount: bool,
}

fn user_namespace(uid: u32, gid: u32) -> Result<(), String> {
    // SAFETY: CLONE_NEWUSER in a single-threaded process (required by the kernel) that does
    // not rely on its ids staying the same: it writes its own maps next.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) }
        .map_err(|e| format!("unshare(CLONE_NEWUSER): {e}"))?;
    let w = |path: &str, s: String| {
        std::fs::write(path, s.as_bytes()).map_err(|e| format!("{path}: {e}"))
    };
    w("/proc/self/setgroups", "deny".into())?;
    w("/proc/self/uid_map", format!("{uid} {uid} 1\n"))?;
    w("/proc/self/gid_map", format!("{gid} {gid} 1\n"))?;
    Ok(())
}

fn namespaces(ids: Ids, notes: &mut Notes) -> Ns {
    use rustix::thread::UnshareFlags as U;
    let mut ns = Ns::default();
    if let Ids::Keep { uid, gid } = ids {
        if let Err(e) = user_namespace(uid, gid) {
            notes.warn(format!(
                "no user namespace ({e}): without root there is then no mount, network, IPC, \
                 UTS or PID namespace and no empty root"
            ));
            return ns;
        }
        notes.wall(format!(
            "user namespace: only uid {uid} and gid {gid} mapped (to themselves)"
        ));
    }
    let all = [
        (U::NEWNS, "mount"),
        (U::NEWNET, "network"),
        (U::NEWIPC, "IPC"),
        (U::NEWUTS, "UTS"),
        (U::NEWPID, "PID"),
    ];
    let unshare = |flags: U| {
        // SAFETY: single-threaded process; these namespaces change what later mounts,
        // sockets, IPC objects, hostnames and children see, nothing this code relies on.
        unsafe { rustix::thread::unshare_unsafe(flags) }
    };
    let union = all.iter().fold(U::empty(), |acc, (f, _)| acc | *f);
    let mut made = Vec::new();
    if unshare(union).is_ok() {
        made.extend(all.iter().map(|(_, n)| *n));
        ns.mount = true;
    } else {
        for (flag, name) in all {
            match unshare(flag) {
                Ok(()) => {
                    made.push(name);
                    ns.mount |= flag == U::NEWNS;
                }
                Err(e) => notes.warn(format!("no {name} namespace: {e}")),
            }
        }
    }
    if !made.is_empty() {
        let mut s = format!("namespaces: {}", made.join(", "));
        if made.contains(&"network") {
            s.push_str(" (no network interface but a down loopback)");
        }
        notes.wall(s);
    }
    ns
}

/// chroot into a fresh, detached, read-only, empty tmpfs (never attached anywhere, so the
/// host's mount table never sees it; it disappears with the last process inside).
fn empty_root(private_ns: bool) -> Result<(), String> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, mount_change, FsMountFlags,
        FsOpenFlags, MountAttrFlags, MountPropagationFlags,
    };
    if !private_ns {
        return Err("no mount namespace".into());
    }
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;
    let fs = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| format!("fsopen: {e}"))?;
    fsconfig_set_string(&fs, "size", "4k").map_err(|e| format!("tmpfs size: {e}"))?;
    fsconfig_set_string(&fs, "mode", "0555").map_err(|e| format!("tmpfs mode: {e}"))?;
    fsconfig_create(&fs).map_err(|e| format!("tmpfs: {e}"))?;
    let mnt = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )
    .map_err(|e| format!("fsmount: {e}"))?;
    rustix::process::fchdir(&mnt).map_err(|e| format!("fchdir: {e}"))?;
    rustix::process::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    rustix::process::chdir("/").map_err(|e| format!("chdir: {e}"))?;
    Ok(())
}

fn set_limit(res: Resource, want: u64, name: &str, notes: &mut Notes) -> Option<u64> {
    let hard = rustix::process::getrlimit(res).maximum.unwrap_or(u64::MAX);
    let v = want.min(hard);
    match rustix::process::setrlimit(
        res,
        Rlimit {
            current: Some(v),
            maximum: Some(v),
        },
    ) {
        Ok(()) => Some(v),
        Err(e) => {
            notes.warn(format!("RLIMIT_{name} not set: {e}"));
            None
        }
    }
}

/// The worker W: parent-death signal, signal dispositions, ids and capabilities,
/// no_new_privs, Landlock, rlimits, seccomp; reports; waits for the parent's go-ahead (the
/// parent checks `/proc/PID/status` meanwhile); runs `f`; sends the result; `_exit(0)`.
fn worker<F>(plan: &Plan, f: F, out: Out) -> !
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let code = match std::panic::catch_unwind(AssertUnwindSafe(|| run_worker(plan, f, out))) {
        Ok(code) => code,
        // The panic hook already sent the message.
        Err(_) => EXIT_PANIC,
    };
    exit_now(code)
}

fn run_worker<F>(plan: &Plan, f: F, out: Out) -> i32
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let mut notes = Notes::default();
    // fork cleared it. If A is already gone, the parent kills our process group.
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return out.fail(&format!("PR_SET_PDEATHSIG: {e}"));
    }
    // Writes past RLIMIT_FSIZE fail with EFBIG instead of killing; a closed pipe is EPIPE;
    // abort() exits with EXIT_ABORT (as PID 1 of a namespace its own SIGABRT is ignored).
    set_disposition(libc::SIGPIPE, libc::SIG_IGN);
    set_disposition(libc::SIGXFSZ, libc::SIG_IGN);
    set_disposition(libc::SIGABRT, on_abort as *const () as libc::sighandler_t);
    // Panic messages go to the parent (stderr is usually closed), and the default hook's
    // backtrace would try to open files.
    let fd = out.0;
    std::panic::set_hook(Box::new(move |info| {
        let _ = Out(fd).text(kind::PANIC, &info.to_string(), MAX_TEXT);
    }));
    backtraces_off();

    if let Err(e) = drop_privileges(plan.ids, &mut notes) {
        return out.fail(&e);
    }
    // A change of credentials also clears the parent-death signal: set it again, or a worker
    // run as another uid would outlive a killed rsgrub (seen with the menu waiting on a tty).
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return out.fail(&format!("PR_SET_PDEATHSIG after the uid change: {e}"));
    }
    // A change of credentials resets dumpability: set it again.
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        notes.warn(format!("PR_SET_DUMPABLE 0 failed: {e}"));
    }
    if let Err(e) = rustix::thread::set_no_new_privs(true) {
        return out.fail(&format!("PR_SET_NO_NEW_PRIVS: {e}"));
    }
    notes.wall("no_new_privs");
    landlock(&mut notes);

    let own_pid = rustix::process::getpid().as_raw_nonzero().get();
    let prog = match seccomp::build(own_pid) {
        Ok(p) => p,
        Err(e) => return out.fail(&format!("seccomp filter: {e}")),
    };
    // Limits last before seccomp: Landlock needed one more fd, the filter some memory.
    let nofile = plan.keep.last().map_or(1, |&fd| fd as u64 + 1);
    let cpu = plan.cpu_secs;
    let mut limited = Vec::new();
    let mib = |v: u64| {
        if v >= u64::MAX >> 1 {
            "unlimited".to_string()
        } else {
            format!("{} MiB", v >> 20)
        }
    };
    if let Some(v) = set_limit(Resource::As, plan.max_memory, "AS", &mut notes) {
        limited.push(format!("address space {}", mib(v)));
    }
    if let Some(v) = set_limit(Resource::Fsize, plan.max_file_size, "FSIZE", &mut notes) {
        limited.push(format!("file size {}", mib(v)));
    }
    if set_limit(Resource::Nproc, 0, "NPROC", &mut notes).is_some() {
        limited.push("no new processes".into());
    }
    if set_limit(Resource::Core, 0, "CORE", &mut notes).is_some() {
        limited.push("no core".into());
    }
    if let Some(v) = set_limit(Resource::Nofile, nofile, "NOFILE", &mut notes) {
        limited.push(format!("fds below {v}"));
    }
    if let Some(v) = set_limit(Resource::Cpu, cpu, "CPU", &mut notes) {
        limited.push(format!("CPU {v} s"));
    }
    notes.wall(format!("rlimits: {}", limited.join(", ")));

    if let Err(e) = seccomp::install(&prog) {
        return out.fail(&format!("seccomp: {e}"));
    }
    drop(prog);
    notes.wall("seccomp: system-call allowlist, anything else kills the process (SIGSYS)");

    // Walls up: say so and wait for the parent to check them from outside.
    if notes.send(out).is_err() || out.small(kind::READY, &[]).is_err() {
        return EXIT_WRITE;
    }
    // SAFETY: `go_r` is in `Plan::keep`, left open by `close_other_fds`, and closed only below,
    // after this borrow ends.
    let go = unsafe { BorrowedFd::borrow_raw(plan.go_r) };
    let mut b = [0u8; 1];
    let go_ahead = loop {
        match rustix::io::read(go, &mut b) {
            Ok(1) => break b[0] == b'g',
            Err(Errno::INTR) => {}
            _ => break false,
        }
    };
    // SAFETY: `go_r` is owned by nothing in this process that will use it again.
    unsafe { libc::close(plan.go_r) };
    if !go_ahead {
        return EXIT_NO_GO;
    }

    let sent = match f() {
        Ok(data) => {
            if u32::try_from(data.len()).is_ok() {
                out.big(kind::OK, &data)
            } else {
                out.text(kind::ERR, "result too large", MAX_TEXT)
            }
        }
        Err(msg) => out.text(kind::ERR, &msg, MAX_TEXT),
    };
    match sent {
        Ok(()) => 0,
        Err(_) => EXIT_WRITE,
    }
}

/// With `RUST_BACKTRACE` set, std's out-of-memory handler prints a symbolised backtrace,
/// which needs to open files: seccomp would turn an OOM abort into a misleading SIGSYS (and
/// nothing can be symbolised without files anyway). Turn both variables to "0".
///
/// Not with `std::env::set_var`: it takes std's environment lock, which another thread of the
/// parent may have held (for reading) at the instant of `fork`, and then never releases here.
fn backtraces_off() {
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    const OFF: [(&[u8], &[u8]); 2] = [
        (b"RUST_BACKTRACE=", b"RUST_BACKTRACE=0\0"),
        (b"RUST_LIB_BACKTRACE=", b"RUST_LIB_BACKTRACE=0\0"),
    ];
    // SAFETY: POSIX `environ` is a null-terminated array of pointers to NUL-terminated
    // strings; this process is single-threaded, so nothing reads or changes it concurrently.
    // We only read the entries and replace some pointers with pointers to static
    // NUL-terminated strings (what `putenv` does). glibc only ever frees strings its own
    // `setenv` allocated, never these.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return;
        }
        while !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            for (prefix, off) in OFF {
                if entry.starts_with(prefix) {
                    *p = off.as_ptr() as *mut libc::c_char;
                }
            }
            p = p.add(1);
        }
    }
}

fn drop_privileges(ids: Ids, notes: &mut Notes) -> Result<(), String> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{CapabilitySet, CapabilitySets};
    // Bounding set first (needs CAP_SETPCAP, gone after the uid change).
    let mut bounding = Ok(());
    for cap in 0..64 {
        // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes integers only.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINVAL) {
                bounding = Err(e);
            }
            break; // EINVAL: past the last capability this kernel knows
        }
    }
    if let Ids::Switch { uid, gid } = ids {
        rustix::thread::set_thread_groups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        let g = Some(Gid::from_raw(gid));
        rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| format!("setresgid: {e}"))?;
        let u = Some(Uid::from_raw(uid));
        rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| format!("setresuid: {e}"))?;
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, none).map_err(|e| format!("capset: {e}"))?;
    // Check rather than trust.
    let (uid, gid) = (ids.uid(), ids.gid());
    if rustix::process::getuid().as_raw() != uid
        || rustix::process::geteuid().as_raw() != uid
        || rustix::process::getgid().as_raw() != gid
        || rustix::process::getegid().as_raw() != gid
    {
        return Err(format!("ids did not change to {uid}:{gid}"));
    }
    let caps = rustix::thread::capabilities(None).map_err(|e| format!("capget: {e}"))?;
    if !(caps.effective.is_empty() && caps.permitted.is_empty() && caps.inheritable.is_empty()) {
        return Err("capabilities remain after dropping them".into());
    }
    match ids {
        Ids::Switch { .. } => notes.wall(format!("uid {uid}, gid {gid}, no supplementary groups")),
        Ids::Keep { .. } => notes.warn(format!(
            "not root: the parser keeps uid {uid}, gid {gid} and the supplementary groups \
             (no --runas possible)"
        )),
    }
    match bounding {
        Ok(()) => notes.wall("capabilities: none, bounding set empty"),
        Err(e) => notes.wall(format!(
            "capabilities: none (bounding set left as is: {e}; moot with no_new_privs and no exec)"
        )),
    }
    Ok(())
}

fn landlock(notes: &mut Notes) {
    use landlock::{
        Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope,
        ABI,
    };
    // Handle every right this crate knows, add no rule: everything handled is denied. Best
    // effort: rights the running kernel lacks are dropped, and reported below.
    let asked = ABI::V10;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(asked))
        .and_then(|r| r.handle_access(AccessNet::from_all(asked)))
        .and_then(|r| r.scope(Scope::from_all(asked)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            notes.warn(format!("Landlock not enforced: {e}"));
            return;
        }
    };
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi,
        LandlockStatus::NotEnabled => {
            notes.warn("Landlock not enforced: disabled in this kernel (lsm= boot option)");
            return;
        }
        LandlockStatus::NotImplemented => {
            notes.warn("Landlock not enforced: not built into this kernel");
            return;
        }
    };
    if status.ruleset == RulesetStatus::NotEnforced {
        notes.warn(format!("Landlock (ABI {abi}) not enforced"));
        return;
    }
    let mut denied = vec!["all filesystem access"];
    if abi >= ABI::V4 {
        denied.push("TCP bind and connect");
    } else {
        // Older kernels (Debian 12's 6.1: ABI 2) lack these; the other walls cover them, so
        // this is a note for --debug, not a warning on every boot.
        notes.wall(format!(
            "Landlock ABI {abi}: no network rights (kernel < 6.7); seccomp still denies socket()"
        ));
    }
    if abi >= ABI::V6 {
        denied.push("signals and abstract UNIX sockets outside the sandbox");
    } else {
        notes.wall(format!(
            "Landlock ABI {abi}: no signal or abstract-socket scoping (kernel < 6.12); \
             the PID namespace and seccomp's kill/socket rules stand in"
        ));
    }
    notes.wall(format!("Landlock ABI {abi}: denies {}", denied.join(", ")));
}
