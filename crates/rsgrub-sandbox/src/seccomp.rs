//! The worker's seccomp filter: an allowlist, everything else kills the whole process
//! (`SECCOMP_RET_KILL_PROCESS`, seen by the parent as `SIGSYS`).
//!
//! Built with `seccompiler`, which also kills on a foreign audit architecture (so x32 and
//! i386 entry points, whose numbers differ, all fall to the default action).
//!
//! | group | system calls | restriction |
//! |---|---|---|
//! | fd I/O on inherited fds | `read` `write` `readv` `writev` `pread64` `pwrite64` `preadv` `pwritev` `lseek` `close` `ftruncate` `fsync` `fdatasync` | none needed: the worker has no way to make new fds |
//! | zero-copy between inherited fds | `copy_file_range` `sendfile` | |
//! | fd metadata | `fstat`; `newfstatat` and `statx` | the latter two only with `AT_EMPTY_PATH` and a real fd (not `AT_FDCWD`) — what glibc's `fstat` and std's `File::metadata` issue |
//! | memory | `mmap` `mprotect` | never `PROT_EXEC` |
//! | | `munmap` `mremap` `brk` `madvise` | |
//! | threads' plumbing (std, glibc) | `futex` `sched_yield` `restart_syscall` | |
//! | signals | `rt_sigreturn` `rt_sigprocmask` `rt_sigaction` `sigaltstack` | |
//! | `abort()` | `getpid` `gettid`; `tgkill` | `tgkill` only to the worker's own pid and only `SIGABRT` |
//! | time | `clock_gettime` `clock_getres` `gettimeofday` `clock_nanosleep` `nanosleep` | |
//! | randomness | `getrandom` (std's `HashMap` keys) | |
//! | terminal (menu on inherited tty fds) | `poll` (x86_64) `ppoll`; `ioctl` | `ioctl` only `TCGETS` `TCSETS` `TCSETSW` `TCSETSF`, their `*2` forms (rustix uses them), `TIOCGWINSZ` |
//! | fd check (std debug builds, when dropping a `File`) | `fcntl` | only `F_GETFD` |
//! | identity (read-only) | `getuid` `geteuid` `getgid` `getegid` | |
//! | leaving | `exit` `exit_group` | |
//!
//! Notably absent: every `open*`, `socket*`, `connect`, `execve*`, `fork`/`clone*`, `ptrace`,
//! `kill`, `pidfd_*`, `process_vm_*`, `mount`, `unshare`, `setns`, `prctl`, `seccomp`, `bpf`,
//! `io_uring_*`, `userfaultfd`, `keyctl`, `fcntl` (but `F_GETFD`), `dup*`, `pipe*`, `memfd_create`,
//! `pkey_mprotect`, and `ioctl` with any other request.
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// Terminal ioctls the menu may use on inherited fds. (The constants' type differs between
/// libcs, hence the casts.)
#[allow(clippy::unnecessary_cast)]
pub const TERMINAL_IOCTLS: [u64; 9] = [
    libc::TCGETS as u64,
    libc::TCSETS as u64,
    libc::TCSETSW as u64,
    libc::TCSETSF as u64,
    libc::TCGETS2 as u64,
    libc::TCSETS2 as u64,
    libc::TCSETSW2 as u64,
    libc::TCSETSF2 as u64,
    libc::TIOCGWINSZ as u64,
];

fn cond(arg: u8, op: Op, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, Len::Dword, op, value).map_err(|e| e.to_string())
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conds).map_err(|e| e.to_string())
}

/// `arg` has none of the bits of `mask`.
fn lacks(arg: u8, mask: u64) -> Result<SeccompCondition, String> {
    cond(arg, Op::MaskedEq(mask), 0)
}

/// `arg` has all the bits of `mask`.
fn has(arg: u8, mask: u64) -> Result<SeccompCondition, String> {
    cond(arg, Op::MaskedEq(mask), mask)
}

/// `arg`, as a 32-bit fd, is a real descriptor (not negative such as `AT_FDCWD`).
fn real_fd(arg: u8) -> Result<SeccompCondition, String> {
    cond(arg, Op::Lt, 0x8000_0000)
}

/// The system calls allowed without conditions.
fn plain() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_pread64,
        libc::SYS_pwrite64,
        libc::SYS_preadv,
        libc::SYS_pwritev,
        libc::SYS_lseek,
        libc::SYS_close,
        libc::SYS_ftruncate,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_copy_file_range,
        libc::SYS_sendfile,
        libc::SYS_fstat,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_brk,
        libc::SYS_madvise,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_restart_syscall,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_sigaltstack,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_gettimeofday,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_getrandom,
        libc::SYS_ppoll,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    v.push(libc::SYS_poll);
    v
}

/// Build the filter for a worker whose pid (as it sees itself) is `own_pid`.
pub fn build(own_pid: i32) -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| format!("no seccomp filter for {}", std::env::consts::ARCH))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in plain() {
        rules.insert(nr, Vec::new());
    }
    let prot_exec = libc::PROT_EXEC as u64;
    rules.insert(libc::SYS_mmap, vec![rule(vec![lacks(2, prot_exec)?])?]);
    rules.insert(libc::SYS_mprotect, vec![rule(vec![lacks(2, prot_exec)?])?]);
    let empty_path = libc::AT_EMPTY_PATH as u64;
    // newfstatat(dirfd, path, buf, flags); statx(dirfd, path, flags, mask, buf)
    rules.insert(
        libc::SYS_newfstatat,
        vec![rule(vec![real_fd(0)?, has(3, empty_path)?])?],
    );
    rules.insert(
        libc::SYS_statx,
        vec![rule(vec![real_fd(0)?, has(2, empty_path)?])?],
    );
    // The kernel takes the ioctl request as an `unsigned int`: compare the low 32 bits.
    let mut ioctls = Vec::new();
    for req in TERMINAL_IOCTLS {
        ioctls.push(rule(vec![cond(1, Op::Eq, req & 0xffff_ffff)?])?);
    }
    rules.insert(libc::SYS_ioctl, ioctls);
    // fcntl(fd, F_GETFD) only: std's debug builds check that an fd is open before closing it.
    rules.insert(
        libc::SYS_fcntl,
        vec![rule(vec![cond(1, Op::Eq, libc::F_GETFD as u64)?])?],
    );
    let pid = u64::from(u32::try_from(own_pid).map_err(|_| "bad pid".to_string())?);
    rules.insert(
        libc::SYS_tgkill,
        vec![rule(vec![
            cond(0, Op::Eq, pid)?,
            cond(2, Op::Eq, libc::SIGABRT as u64)?,
        ])?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    BpfProgram::try_from(filter).map_err(|e| e.to_string())
}

/// Install `prog` on the calling thread (the worker is single-threaded). Also sets
/// `no_new_privs`, already set by then.
pub fn install(prog: &BpfProgram) -> Result<(), String> {
    seccompiler::apply_filter(prog).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds() {
        let p = super::build(1).unwrap();
        assert!(p.len() > 50 && p.len() < 4096, "{}", p.len());
    }

    #[test]
    fn allowlist_excludes_the_dangerous() {
        let plain = super::plain();
        for nr in [
            libc::SYS_openat,
            libc::SYS_socket,
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_ioctl,
            libc::SYS_clone,
            libc::SYS_kill,
            libc::SYS_fcntl,
            libc::SYS_prctl,
            libc::SYS_mmap,
            libc::SYS_mprotect,
        ] {
            assert!(!plain.contains(&nr), "{nr} allowed unconditionally");
        }
    }
}
