//! The walls, proven by hostile closures run in the sandbox.
//!
//! These run as root here and in CI, where the strong walls are asserted. Run as another user
//! they check that every missing wall is reported instead.
use rsgrub_sandbox::{run_report, Policy, Report, SandboxError, MAX_RESULT_LEN};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// This process's address space: the forked child starts with all of it (the harness'
/// threads' stacks and malloc arenas included).
fn vm_size() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb << 10
}

fn policy() -> Policy {
    Policy {
        enabled: true,
        runas: None,
        max_file_size: 64 << 20,
        max_memory: vm_size() + (1 << 30),
        timeout: Duration::from_secs(20),
        keep_fds: Vec::new(),
    }
}

/// As root: no warning and the strong walls listed. Otherwise: the weakening is reported.
fn assert_walls(r: &Report) {
    if is_root() {
        assert!(r.warnings.is_empty(), "warnings as root: {:#?}", r.warnings);
        for wall in [
            "fds: all closed",
            "new session",
            "namespaces: mount, network, IPC, UTS, PID",
            "root: an empty read-only tmpfs",
            "uid 65534, gid 65534, no supplementary groups",
            "capabilities: none, bounding set empty",
            "no_new_privs",
            "Landlock ABI",
            "rlimits: address space",
            "seccomp",
        ] {
            assert!(
                r.walls.iter().any(|w| w.contains(wall)),
                "wall {wall:?} missing from {:#?}",
                r.walls
            );
        }
    } else {
        assert!(
            r.warnings.iter().any(|w| w.contains("not root")),
            "not root, yet no warning says so: {:#?}",
            r.warnings
        );
    }
}

fn died_with(r: &Report, what: &str) {
    match &r.result {
        Err(SandboxError::Died(m)) => assert!(m.contains(what), "died, but: {m}"),
        other => panic!("expected a death ({what}), got {other:?}"),
    }
}

#[test]
fn trivial_closure_returns_its_bytes() {
    let r = run_report(&policy(), || Ok(b"hello".to_vec()));
    assert_eq!(r.result.as_deref().unwrap(), b"hello");
    assert_walls(&r);
}

#[test]
fn child_error_is_reported_and_sanitized() {
    let r = run_report(&policy(), || Err("no config\x1b[2J found".into()));
    match r.result {
        Err(SandboxError::Child(m)) => {
            assert!(m.starts_with("no config"), "{m}");
            assert!(!m.contains('\x1b'), "{m:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn open_etc_passwd_is_killed_by_seccomp() {
    let r = run_report(&policy(), || {
        let mut s = String::new();
        std::fs::File::open("/etc/passwd")
            .and_then(|mut f| f.read_to_string(&mut s))
            .map_err(|e| e.to_string())?;
        Ok(s.into_bytes())
    });
    died_with(&r, "seccomp");
    died_with(&r, "SIGSYS");
}

#[test]
fn reading_own_proc_status_is_killed() {
    let r = run_report(&policy(), || {
        std::fs::read("/proc/self/status").map_err(|e| e.to_string())
    });
    died_with(&r, "SIGSYS");
}

#[test]
fn socket_is_killed_by_seccomp() {
    let r = run_report(&policy(), || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        Ok(format!("{s:?}").into_bytes())
    });
    died_with(&r, "SIGSYS");
}

#[test]
fn spawning_a_process_is_killed() {
    let r = run_report(&policy(), || {
        let st = std::process::Command::new("/bin/true")
            .status()
            .map_err(|e| e.to_string())?;
        Ok(format!("{st:?}").into_bytes())
    });
    died_with(&r, "SIGSYS");
}

#[test]
fn executable_memory_is_killed() {
    let r = run_report(&policy(), || {
        use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing aliases
        // nothing.
        let p = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                4096,
                ProtFlags::READ | ProtFlags::EXEC,
                MapFlags::PRIVATE,
            )
        };
        Ok(format!("{p:?}").into_bytes())
    });
    died_with(&r, "SIGSYS");
}

#[test]
fn creating_a_file_is_impossible() {
    let path = std::env::temp_dir().join(format!("rsgrub-sandbox-{}-new", std::process::id()));
    let p2 = path.clone();
    let r = run_report(&policy(), move || {
        std::fs::write(&p2, b"pwned").map_err(|e| e.to_string())?;
        Ok(Vec::new())
    });
    assert!(!path.exists(), "the child created {}", path.display());
    assert!(r.result.is_err(), "{:?}", r.result);
}

#[test]
fn the_child_is_not_root() {
    let r = run_report(&policy(), || {
        let ids = [
            rustix::process::getuid().as_raw(),
            rustix::process::geteuid().as_raw(),
            rustix::process::getgid().as_raw(),
            rustix::process::getegid().as_raw(),
        ];
        Ok(ids.iter().flat_map(|i| i.to_le_bytes()).collect())
    });
    let b = r.result.as_deref().unwrap();
    let ids: Vec<u32> = b
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    if is_root() {
        assert_eq!(ids, [65534; 4]);
    } else {
        let me = rustix::process::getuid().as_raw();
        assert_eq!(ids[..2], [me, me]);
        assert_walls(&r);
    }
    assert_ne!(ids[0], 0);
}

#[test]
fn runas_is_honoured() {
    let p = Policy {
        runas: Some(4242),
        ..policy()
    };
    let r = run_report(&p, || {
        Ok(rustix::process::geteuid().as_raw().to_le_bytes().to_vec())
    });
    if is_root() {
        assert_eq!(r.result.as_deref().unwrap(), 4242u32.to_le_bytes());
        assert!(r
            .child_status
            .unwrap()
            .contains("Uid:\t4242\t4242\t4242\t4242"));
    } else {
        // Not root: a different uid cannot be had, and that is an error, not a silent no.
        assert!(matches!(r.result, Err(SandboxError::Setup(ref m)) if m.contains("needs root")));
    }
}

#[test]
fn seccomp_and_no_new_privs_seen_from_outside() {
    // The parent reads /proc/<worker>/status while the worker waits, walls up, for the
    // go-ahead: the kernel's own view of the child that then runs the closure.
    let parent_pid = std::process::id();
    let r = run_report(&policy(), || Ok(Vec::new()));
    assert!(r.result.is_ok(), "{:?}", r.result);
    let status = r.child_status.expect("the parent read the child's status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("Seccomp:"), "2");
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("CapEff:"), "0000000000000000");
    assert_eq!(field("CapPrm:"), "0000000000000000");
    assert_ne!(
        field("Pid:"),
        parent_pid.to_string(),
        "status of the parent, not the child"
    );
    if is_root() {
        assert_eq!(field("Uid:"), "65534\t65534\t65534\t65534");
        assert_eq!(field("Groups:"), "");
        // PID 1 of its own PID namespace.
        let nspid = field("NSpid:");
        let nspid: Vec<&str> = nspid.split_whitespace().collect();
        assert_eq!(nspid.len(), 2, "not in a new PID namespace: {nspid:?}");
        assert_eq!(nspid[1], "1", "{nspid:?}");
        assert_eq!(field("Seccomp_filters:"), "1");
    }
}

#[test]
fn allocation_past_the_address_space_cap() {
    let p = policy();
    let too_much = (p.max_memory + (2 << 30)) as usize;
    // A plain allocation aborts (Rust's alloc error handler): a died child, not a crash here.
    let r = run_report(&p, move || Ok(Vec::with_capacity(too_much)));
    died_with(&r, "abort");
    // A fallible one fails cleanly.
    let r = run_report(&p, move || {
        let mut v: Vec<u8> = Vec::new();
        v.try_reserve_exact(too_much)
            .map_err(|e| format!("allocation failed: {e}"))?;
        Ok(v)
    });
    assert!(
        matches!(r.result, Err(SandboxError::Child(ref m)) if m.starts_with("allocation failed")),
        "{:?}",
        r.result
    );
}

#[test]
fn a_parser_loop_is_killed_at_the_timeout() {
    let p = Policy {
        timeout: Duration::from_secs(1),
        ..policy()
    };
    let t = Instant::now();
    let r = run_report(&p, || loop {
        std::hint::black_box(0u64);
    });
    let took = t.elapsed();
    assert!(
        matches!(r.result, Err(SandboxError::Timeout(1))),
        "{:?}",
        r.result
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn a_kept_fd_works_and_its_bytes_arrive() {
    let mut f = tempfile::tempfile().unwrap();
    let p = Policy {
        keep_fds: vec![f.as_raw_fd()],
        ..policy()
    };
    let out = &f;
    let r = run_report(&p, move || {
        let mut out = out;
        out.write_all(b"kernel bytes").map_err(|e| e.to_string())?;
        // fstat through std's File::metadata (statx with AT_EMPTY_PATH) is allowed.
        let len = out.metadata().map_err(|e| e.to_string())?.len();
        Ok(len.to_le_bytes().to_vec())
    });
    assert_eq!(r.result.as_deref().unwrap(), 12u64.to_le_bytes());
    let mut s = String::new();
    f.rewind().unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "kernel bytes");
}

#[test]
fn an_fd_not_kept_is_closed_in_the_child() {
    let mut f = tempfile::tempfile().unwrap();
    let fd = f.as_raw_fd();
    let out = &f;
    let r = run_report(&policy(), move || {
        let mut out = out;
        let e = out.write_all(b"leak").err().and_then(|e| e.raw_os_error());
        Ok(format!("{e:?}").into_bytes())
    });
    assert_eq!(
        r.result.as_deref().unwrap(),
        format!("{:?}", Some(libc::EBADF)).as_bytes(),
        "fd {fd} was usable in the child"
    );
    let mut s = String::new();
    f.rewind().unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "");
}

#[test]
fn writing_past_the_file_size_cap_fails_cleanly() {
    let f = tempfile::tempfile().unwrap();
    let p = Policy {
        keep_fds: vec![f.as_raw_fd()],
        max_file_size: 1 << 20,
        ..policy()
    };
    let out = &f;
    let r = run_report(&p, move || {
        let mut out = out;
        out.write_all(&vec![7u8; 2 << 20])
            .map_err(|e| e.to_string())?;
        Ok(Vec::new())
    });
    assert!(
        matches!(r.result, Err(SandboxError::Child(ref m)) if m.contains("too large")),
        "{:?}",
        r.result
    );
    assert_eq!(f.metadata().unwrap().len(), 1 << 20);
}

#[test]
fn oversized_result_is_rejected() {
    let r = run_report(&policy(), || Ok(vec![0u8; MAX_RESULT_LEN + 1]));
    assert!(
        matches!(r.result, Err(SandboxError::Protocol(ref m)) if m.contains("exceeds")),
        "{:?}",
        r.result
    );
}

#[test]
fn result_of_exactly_the_cap_arrives_whole() {
    let r = run_report(&policy(), || {
        Ok((0..MAX_RESULT_LEN).map(|i| (i % 251) as u8).collect())
    });
    let d = r.result.unwrap();
    assert_eq!(d.len(), MAX_RESULT_LEN);
    assert!(d.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn a_panic_is_a_died_child_with_its_message() {
    let r = run_report(&policy(), || -> Result<Vec<u8>, String> {
        panic!("guest made us panic")
    });
    died_with(&r, "guest made us panic");
}

#[test]
fn terminal_ioctls_on_a_kept_tty_work_and_others_are_killed() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let p = Policy {
        keep_fds: vec![tty.as_raw_fd()],
        ..policy()
    };
    let t = &tty;
    let r = run_report(&p, move || {
        use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions};
        let mut attrs = tcgetattr(t).map_err(|e| format!("tcgetattr: {e}"))?;
        attrs.make_raw();
        tcsetattr(t, OptionalActions::Now, &attrs).map_err(|e| format!("tcsetattr: {e}"))?;
        tcsetattr(t, OptionalActions::Drain, &attrs).map_err(|e| format!("tcsetattr: {e}"))?;
        tcgetwinsize(t).map_err(|e| format!("tcgetwinsize: {e}"))?;
        let mut w = t;
        w.write_all(b"menu").map_err(|e| e.to_string())?;
        Ok(b"ok".to_vec())
    });
    assert_eq!(r.result.as_deref().unwrap(), b"ok");
    let mut buf = [0u8; 4];
    rustix::io::read(&master, &mut buf).unwrap();
    assert_eq!(&buf, b"menu");
    // Any other ioctl, here FIONBIO, kills.
    let r = run_report(&p, move || {
        rustix::io::ioctl_fionbio(t, true).map_err(|e| e.to_string())?;
        Ok(Vec::new())
    });
    died_with(&r, "SIGSYS");
}

#[test]
fn disabled_runs_in_process_and_says_so_loudly() {
    let p = Policy {
        enabled: false,
        ..policy()
    };
    let me = std::process::id();
    let r = run_report(&p, || Ok(std::process::id().to_le_bytes().to_vec()));
    assert_eq!(r.result.unwrap(), me.to_le_bytes());
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].contains("SANDBOX DISABLED"));
}

#[test]
fn a_closed_keep_fd_is_a_setup_error() {
    let p = Policy {
        keep_fds: vec![100_000],
        ..policy()
    };
    let r = run_report(&p, || Ok(Vec::new()));
    assert!(
        matches!(r.result, Err(SandboxError::Setup(_))),
        "{:?}",
        r.result
    );
}

#[test]
fn status_lists_the_walls() {
    let lines = rsgrub_sandbox::status();
    assert!(
        lines.iter().any(|l| l.starts_with("raised: seccomp")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("FAILED")), "{lines:#?}");
    if is_root() {
        assert!(
            !lines.iter().any(|l| l.starts_with("MISSING")),
            "{lines:#?}"
        );
    }
}

#[test]
fn many_runs_in_parallel_threads() {
    let handles: Vec<_> = (0..8u8)
        .map(|i| {
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let r = run_report(&policy(), move || Ok(vec![i; 1000]));
                    assert_eq!(r.result.unwrap(), vec![i; 1000]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn the_host_tree_is_not_even_visible_by_path() {
    // statx/newfstatat with AT_EMPTY_PATH and a real fd pass the seccomp filter (std's
    // File::metadata needs them), and an absolute path then ignores the fd: only the empty
    // root keeps the host's files out of sight.
    let f = tempfile::tempfile().unwrap();
    let p = Policy {
        keep_fds: vec![f.as_raw_fd()],
        ..policy()
    };
    let kept = &f;
    let r = run_report(&p, move || {
        let st = rustix::fs::statat(kept, "/etc/passwd", rustix::fs::AtFlags::EMPTY_PATH);
        Ok(format!("{:?}", st.map(|s| s.st_size).err()).into_bytes())
    });
    let got = String::from_utf8(r.result.unwrap()).unwrap();
    if r.warnings.iter().any(|w| w.contains("no empty root")) {
        assert!(!is_root(), "root, yet no empty root: {:#?}", r.warnings);
    } else {
        assert_eq!(got, format!("{:?}", Some(rustix::io::Errno::NOENT)));
    }
}

#[test]
fn signalling_another_process_is_killed() {
    let r = run_report(&policy(), || {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(1).unwrap(),
            rustix::process::Signal::TERM,
        );
        Ok(Vec::new())
    });
    died_with(&r, "SIGSYS");
}
