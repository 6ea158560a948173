//! The parent side: fork, watch the pipe with a deadline, check the walls from outside, give
//! the go-ahead, read the (hostile) result, reap, classify.
use crate::child::{self, Ids, Plan};
use crate::protocol::{Decoder, Frame};
use crate::{Policy, Report, SandboxError};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// `nobody` / `nogroup`: the ids used as root when no `--runas` is given.
pub const NOBODY: u32 = 65534;

/// The forked intermediate. Dropping it kills its process group and reaps it, so no path
/// out of [`supervise`] (not even a panic) leaves a sandboxed process behind.
struct Child {
    pid: Pid,
    reaped: bool,
}

impl Child {
    /// SIGKILL the whole process group (A and W). Only valid while A is unreaped: its pid
    /// (= the group id) cannot have been reused then.
    fn kill(&self) {
        let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
        let _ = rustix::process::kill_process(self.pid, Signal::KILL);
    }

    fn reap(&mut self) -> Result<rustix::process::WaitStatus, Errno> {
        loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::empty()) {
                Ok(Some((_, st))) => {
                    self.reaped = true;
                    return Ok(st);
                }
                Ok(None) | Err(Errno::INTR) => {}
                Err(e) => {
                    self.reaped = true;
                    return Err(e);
                }
            }
        }
    }

    /// Has A terminated? (Without reaping it.)
    fn has_exited(&self) -> bool {
        use rustix::process::{WaitId, WaitIdOptions};
        matches!(
            rustix::process::waitid(
                WaitId::Pid(self.pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
            ),
            Ok(Some(_)) | Err(Errno::CHILD)
        )
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let _ = self.reap();
        }
    }
}

fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: fcntl(F_GETFD) on an integer: no memory involved, no state changed.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
}

/// The primary gid of `uid` from the user database, if any (and not 0).
fn primary_gid(uid: u32) -> Option<u32> {
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    // SAFETY: `pwd` is plain old data, zero is a valid value for all its fields.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are to live locals; `buf.len()` is the buffer's real size;
    // getpwuid_r is thread-safe and writes only into `pwd`, `buf` and `res`.
    let r = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut res) };
    if r != 0 || res.is_null() || pwd.pw_gid == 0 {
        return None;
    }
    Some(pwd.pw_gid)
}

/// Read the fields of `/proc/<pid>/status` that prove the walls.
fn field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Check the worker's walls from outside, in the kernel's own words. `Err` = a wall that
/// should be there is not.
pub fn check_status(status: &str, ids: Ids) -> Result<(), String> {
    let want = |name: &str, expected: &str| -> Result<(), String> {
        match field(status, name) {
            Some(v) if v == expected => Ok(()),
            Some(v) => Err(format!("{name}: {v} (expected {expected})")),
            None => Err(format!("no {name} line")),
        }
    };
    want("Seccomp", "2")?;
    want("NoNewPrivs", "1")?;
    want("CapEff", "0000000000000000")?;
    want("CapPrm", "0000000000000000")?;
    if field(status, "CapAmb").is_some() {
        want("CapAmb", "0000000000000000")?;
    }
    let all = |n: u32| format!("{n}\t{n}\t{n}\t{n}");
    let norm = |name: &str| {
        field(status, name).map(|v| v.split_whitespace().collect::<Vec<_>>().join("\t"))
    };
    if norm("Uid") != Some(all(ids.uid())) {
        return Err(format!(
            "Uid: {:?} (expected {})",
            field(status, "Uid"),
            ids.uid()
        ));
    }
    if norm("Gid") != Some(all(ids.gid())) {
        return Err(format!(
            "Gid: {:?} (expected {})",
            field(status, "Gid"),
            ids.gid()
        ));
    }
    if matches!(ids, Ids::Switch { .. }) {
        want("Groups", "")?;
    }
    Ok(())
}

/// One-line description of a death by signal.
pub fn describe_signal(sig: i32) -> String {
    match sig {
        libc::SIGSYS => "killed by seccomp: forbidden system call (SIGSYS)".into(),
        libc::SIGKILL => {
            "killed (SIGKILL: CPU-time limit, out-of-memory killer or an outside kill)".into()
        }
        libc::SIGABRT => "aborted (SIGABRT: out of memory or internal error)".into(),
        libc::SIGSEGV => "crashed (SIGSEGV: invalid memory access or stack overflow)".into(),
        libc::SIGBUS => "crashed (SIGBUS)".into(),
        libc::SIGILL => "crashed (SIGILL)".into(),
        libc::SIGFPE => "crashed (SIGFPE)".into(),
        libc::SIGXCPU => "CPU-time limit exceeded (SIGXCPU)".into(),
        libc::SIGXFSZ => "file-size limit exceeded (SIGXFSZ)".into(),
        s => format!("killed by signal {s}"),
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Fork the sandboxed child and supervise it. `policy.enabled` is true here.
pub fn run<F>(policy: &Policy, f: F) -> Report
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let mut report = Report {
        result: Err(SandboxError::Setup("not started".into())),
        warnings: Vec::new(),
        walls: Vec::new(),
        child_status: None,
    };
    match start(policy, f, &mut report) {
        Ok(r) => report.result = r,
        Err(e) => report.result = Err(e),
    }
    report
}

fn start<F>(
    policy: &Policy,
    f: F,
    report: &mut Report,
) -> Result<Result<Vec<u8>, SandboxError>, SandboxError>
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    let setup = |what: &str, e: Errno| SandboxError::Setup(format!("{what}: {e}"));
    for &fd in &policy.keep_fds {
        if !fd_is_open(fd) {
            return Err(SandboxError::Setup(format!(
                "keep_fds: fd {fd} is not open"
            )));
        }
    }
    let euid = rustix::process::geteuid().as_raw();
    let ids = if euid == 0 {
        let uid = policy.runas.unwrap_or(NOBODY);
        let gid = match policy.runas {
            Some(u) => primary_gid(u).unwrap_or(if u == 0 { 0 } else { u }),
            None => NOBODY,
        };
        if uid == 0 {
            report.warnings.push(
                "--runas 0: the parser keeps uid 0 (capabilities are still all dropped)".into(),
            );
        }
        Ids::Switch { uid, gid }
    } else {
        if let Some(u) = policy.runas {
            if u != euid {
                return Err(SandboxError::Setup(format!(
                    "--runas {u} needs root (running as uid {euid})"
                )));
            }
        }
        Ids::Keep {
            uid: euid,
            gid: rustix::process::getegid().as_raw(),
        }
    };
    let (res_r, res_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| setup("pipe", e))?;
    let (go_r, go_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| setup("pipe", e))?;
    let mut keep: Vec<RawFd> = policy.keep_fds.clone();
    keep.push(res_w.as_raw_fd());
    keep.push(go_r.as_raw_fd());
    keep.sort_unstable();
    keep.dedup();
    let plan = Plan {
        keep,
        res_w: res_w.as_raw_fd(),
        go_r: go_r.as_raw_fd(),
        parent: rustix::process::getpid(),
        ids,
        max_memory: policy.max_memory,
        max_file_size: policy.max_file_size,
        cpu_secs: ceil_secs(policy.timeout).saturating_add(1),
    };
    let deadline = Instant::now() + policy.timeout;

    // SAFETY: fork(2). The child runs only `child::intermediate`, which never returns and
    // ends in `_exit`; it relies on no lock but malloc's (which glibc's fork resets) and on
    // no other thread, as documented on `run`. The parent continues normally.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        child::intermediate(&plan, f);
    }
    if pid < 0 {
        return Err(SandboxError::Setup(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    drop(res_w);
    drop(go_r);
    let mut child = Child {
        pid: Pid::from_raw(pid).ok_or_else(|| SandboxError::Setup("fork: bad pid".into()))?,
        reaped: false,
    };
    Ok(supervise(
        &mut child,
        res_r,
        go_w,
        deadline,
        policy.timeout,
        ids,
        report,
    ))
}

#[derive(Default)]
struct Seen {
    worker: Option<u32>,
    ready: bool,
    go_sent: bool,
    setup_failed: Option<String>,
    panic: Option<String>,
    result: Option<Result<Vec<u8>, String>>,
}

#[allow(clippy::too_many_arguments)]
fn supervise(
    child: &mut Child,
    res_r: OwnedFd,
    go_w: OwnedFd,
    deadline: Instant,
    timeout: Duration,
    ids: Ids,
    report: &mut Report,
) -> Result<Vec<u8>, SandboxError> {
    let pidfd = rustix::process::pidfd_open(child.pid, rustix::process::PidfdFlags::empty()).ok();
    let mut dec = Decoder::default();
    let mut go = Some(go_w);
    let mut seen = Seen::default();
    let mut failure: Option<SandboxError> = None;
    let (mut eof, mut exited, mut timed_out, mut killed) = (false, false, false, false);
    let mut buf = vec![0u8; 64 << 10];

    while !(eof && exited) {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        let left = deadline - now;
        let watch_pidfd = pidfd.as_ref().filter(|_| !exited);
        if eof && watch_pidfd.is_none() {
            // No pidfd (kernel < 5.3): poll for A's exit.
            if child.has_exited() {
                exited = true;
            } else {
                std::thread::sleep(left.min(Duration::from_millis(2)));
            }
            continue;
        }
        let mut fds = Vec::with_capacity(2);
        if !eof {
            fds.push(PollFd::new(&res_r, PollFlags::IN));
        }
        if let Some(p) = watch_pidfd {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        // Without a pidfd, wake up now and then to notice A's exit.
        let wait = if pidfd.is_none() {
            left.min(Duration::from_millis(50))
        } else {
            left
        };
        let ts = Timespec {
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as _,
        };
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => {
                failure = Some(SandboxError::Setup(format!("poll: {e}")));
                break;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(fds);
        let mut idx = 0;
        if !eof {
            if ready.first() == Some(&true) {
                match rustix::io::read(&res_r, &mut buf) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        dec.push(buf.get(..n).unwrap_or_default());
                        if let Err(e) = handle_frames(&mut dec, &mut seen, report) {
                            failure = Some(SandboxError::Protocol(e));
                            break;
                        }
                    }
                    Err(Errno::INTR) | Err(Errno::AGAIN) => {}
                    Err(e) => {
                        failure = Some(SandboxError::Setup(format!("reading the pipe: {e}")));
                        break;
                    }
                }
            }
            idx = 1;
        }
        if watch_pidfd.is_some() && ready.get(idx) == Some(&true) {
            exited = true;
        }
        if pidfd.is_none() && !exited && child.has_exited() {
            exited = true;
        }
        if exited && !killed {
            killed = true;
            // A is gone (a zombie until reaped): make sure nothing of its group outlives it.
            child.kill();
        }
        // Walls reported up and the worker's pid known: check them, then let `f` run.
        if seen.ready && !seen.go_sent {
            if let Some(wpid) = seen.worker {
                match verify(wpid, ids, report) {
                    Ok(()) => {
                        if let Some(g) = go.take() {
                            if rustix::io::write(&g, b"g").is_err() {
                                failure = Some(SandboxError::Setup("go-ahead: write".into()));
                                break;
                            }
                        }
                        seen.go_sent = true;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
    }
    drop(go);

    if timed_out || failure.is_some() {
        child.kill();
        let _ = child.reap();
        if timed_out {
            return Err(SandboxError::Timeout(ceil_secs(timeout)));
        }
        return Err(failure.unwrap_or_else(|| SandboxError::Setup("unknown".into())));
    }
    let status = child.reap().map_err(|e| {
        SandboxError::Died(format!(
            "could not collect its exit status ({e}); is SIGCHLD ignored?"
        ))
    })?;
    if dec.pending() != 0 {
        return Err(SandboxError::Protocol(format!(
            "{} bytes of an incomplete message",
            dec.pending()
        )));
    }
    classify(status, seen)
}

fn handle_frames(dec: &mut Decoder, seen: &mut Seen, report: &mut Report) -> Result<(), String> {
    while let Some(frame) = dec.next_frame()? {
        if seen.result.is_some() {
            return Err("data after the result".into());
        }
        match frame {
            Frame::Panic(m) => {
                if seen.panic.is_none() {
                    seen.panic = Some(m);
                }
            }
            Frame::Ok(d) if seen.go_sent => seen.result = Some(Ok(d)),
            Frame::Err(m) if seen.go_sent => seen.result = Some(Err(m)),
            _ if seen.go_sent => return Err("unexpected message while running".into()),
            Frame::Wall(w) => report.walls.push(w),
            Frame::Warning(w) => report.warnings.push(w),
            Frame::WorkerPid(p) if seen.worker.is_none() => seen.worker = Some(p),
            Frame::SetupFailed(m) => seen.setup_failed = Some(m),
            Frame::Ready if !seen.ready => seen.ready = true,
            _ => return Err("unexpected message during setup".into()),
        }
    }
    Ok(())
}

fn verify(wpid: u32, ids: Ids, report: &mut Report) -> Result<(), SandboxError> {
    let path = format!("/proc/{wpid}/status");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let r = check_status(&s, ids);
            report.child_status = Some(s);
            r.map_err(|e| SandboxError::Setup(format!("the child's walls are not up: {path}: {e}")))
        }
        Err(e) => {
            report.warnings.push(format!(
                "could not check the walls from outside ({path}: {e})"
            ));
            Ok(())
        }
    }
}

fn classify(status: rustix::process::WaitStatus, seen: Seen) -> Result<Vec<u8>, SandboxError> {
    use child::{EXIT_ABORT, EXIT_NO_GO, EXIT_PANIC, EXIT_SETUP, EXIT_WRITE};
    if let Some(sig) = status.terminating_signal() {
        return Err(SandboxError::Died(describe_signal(sig)));
    }
    let code = status.exit_status().unwrap_or(-1);
    let panicked = |fallback: &str| match &seen.panic {
        Some(m) => format!("panicked: {m}"),
        None => fallback.to_string(),
    };
    match code {
        0 => match seen.result {
            Some(Ok(d)) => Ok(d),
            Some(Err(m)) => Err(SandboxError::Child(m)),
            None => Err(SandboxError::Died("exited without a result".into())),
        },
        EXIT_SETUP if !seen.go_sent => Err(SandboxError::Setup(
            seen.setup_failed
                .unwrap_or_else(|| "failed without saying why".into()),
        )),
        EXIT_NO_GO if !seen.go_sent => Err(SandboxError::Setup("the child stopped early".into())),
        EXIT_PANIC => Err(SandboxError::Died(panicked("panicked"))),
        EXIT_ABORT => Err(SandboxError::Died(panicked(
            "aborted (out of memory, stack overflow or internal error)",
        ))),
        EXIT_WRITE => Err(SandboxError::Died("could not send its result".into())),
        c => Err(SandboxError::Died(format!("exited with status {c}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "Name:\tx\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n\
        Groups:\t\nNoNewPrivs:\t1\nSeccomp:\t2\nCapPrm:\t0000000000000000\n\
        CapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n";
    const IDS: Ids = Ids::Switch {
        uid: 65534,
        gid: 65534,
    };

    #[test]
    fn status_check_accepts_the_real_thing() {
        check_status(GOOD, IDS).unwrap();
    }

    #[test]
    fn status_check_catches_each_missing_wall() {
        for (from, to) in [
            ("Seccomp:\t2", "Seccomp:\t0"),
            ("NoNewPrivs:\t1", "NoNewPrivs:\t0"),
            ("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff"),
            ("Uid:\t65534\t65534\t65534", "Uid:\t65534\t0\t65534"),
            ("Gid:\t65534", "Gid:\t0"),
            ("Groups:\t", "Groups:\t0"),
        ] {
            let s = GOOD.replacen(from, to, 1);
            assert_ne!(s, GOOD);
            assert!(check_status(&s, IDS).is_err(), "{to} accepted");
        }
        assert!(check_status("", IDS).is_err());
    }

    #[test]
    fn signals_described() {
        assert!(describe_signal(libc::SIGSYS).contains("seccomp"));
        assert!(describe_signal(libc::SIGABRT).contains("abort"));
        assert!(describe_signal(99).contains("99"));
    }
}
