//! The thin terminal layer: raw mode on fd 0, the size of fd 1, reading with a timeout,
//! writing. Only what the sandbox's seccomp filter allows: `ioctl` `TCGETS`/`TCSETS*`/
//! `TIOCGWINSZ`, `ppoll`, `read`, `write` on the inherited fds — never `open` (no
//! `/dev/tty`), no terminfo files, no child process.
//!
//! [`TtyGuard`] is the parent's backstop: it saves the terminal's settings before the
//! sandboxed child runs and puts them back afterwards, on every return path and on
//! SIGINT/SIGTERM/SIGHUP/SIGQUIT, whatever happened to the child.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::termios::{self, OptionalActions, Termios};
use std::io;
use std::time::Duration;

fn stdin() -> std::os::fd::BorrowedFd<'static> {
    rustix::stdio::stdin()
}

fn stdout() -> std::os::fd::BorrowedFd<'static> {
    rustix::stdio::stdout()
}

/// What resets a terminal the menu drew on: attributes off, cursor shown, screen cleared.
pub const RESET: &[u8] = b"\x1b[0m\x1b[?25h\x1b[H\x1b[2J";

/// Whether the menu can be shown: fds 0 and 1 are terminals, and (when it is our
/// controlling terminal) we are in its foreground process group — else restoring its
/// settings afterwards would stop us with SIGTTOU.
pub fn usable() -> bool {
    if !termios::isatty(stdin()) || !termios::isatty(stdout()) {
        return false;
    }
    match termios::tcgetpgrp(stdin()) {
        Ok(pgrp) => pgrp == rustix::process::getpgrp(),
        // Not our controlling terminal (libxl's pty): nothing to stop us.
        Err(_) => true,
    }
}

fn write_all(mut b: &[u8]) -> io::Result<()> {
    let mut spins = 0u32;
    while !b.is_empty() {
        match rustix::io::write(stdout(), b) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "terminal closed")),
            Ok(n) => b = b.get(n..).unwrap_or_default(),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                // A non-blocking terminal: wait until it takes more (bounded).
                spins += 1;
                if spins > 1000 {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "terminal stuck"));
                }
                let out = stdout();
                let mut fds = [PollFd::new(&out, PollFlags::OUT)];
                let ts = Timespec {
                    tv_sec: 0,
                    tv_nsec: 10_000_000,
                };
                let _ = poll(&mut fds, Some(&ts));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What a read produced.
#[derive(Debug)]
pub enum Input {
    /// Bytes typed.
    Bytes(Vec<u8>),
    /// Nothing within the timeout.
    Timeout,
    /// The terminal went away (hang-up, end of file, error).
    Eof,
}

/// The terminal in raw mode; dropping it restores it.
pub struct Tty {
    saved: Termios,
    dumb: bool,
    restored: bool,
    /// Something was drawn (a menu that never showed leaves the screen alone).
    drew: bool,
}

impl Tty {
    /// Put fd 0 in raw mode (no echo, no line buffering, no signals from ^C/^Z, no output
    /// processing: the renderer sends `\r\n` itself).
    pub fn open(dumb: bool) -> io::Result<Tty> {
        let saved = termios::tcgetattr(stdin())?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin(), OptionalActions::Now, &raw)?;
        Ok(Tty {
            saved,
            dumb,
            restored: false,
            drew: false,
        })
    }

    /// Columns and rows of fd 1 (80×24 when the terminal does not say). Called every tick,
    /// which is how a resize is noticed: the sandboxed child gets no SIGWINCH.
    pub fn size(&self) -> (usize, usize) {
        match termios::tcgetwinsize(stdout()).or_else(|_| termios::tcgetwinsize(stdin())) {
            Ok(w) if w.ws_col > 0 && w.ws_row > 0 => (usize::from(w.ws_col), usize::from(w.ws_row)),
            _ => (80, 24),
        }
    }

    /// Wait up to `timeout` for input on fd 0.
    pub fn read(&mut self, timeout: Duration) -> io::Result<Input> {
        let ts = Timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let input = stdin();
        let mut fds = [PollFd::new(&input, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(Errno::INTR) => return Ok(Input::Timeout),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let ev = fds
            .first()
            .map(PollFd::revents)
            .unwrap_or(PollFlags::empty());
        if !ev.contains(PollFlags::IN) {
            if ev.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                return Ok(Input::Eof);
            }
            return Ok(Input::Timeout);
        }
        let mut buf = [0u8; 256];
        match rustix::io::read(stdin(), &mut buf) {
            Ok(0) => Ok(Input::Eof),
            Ok(n) => Ok(Input::Bytes(buf.get(..n).unwrap_or_default().to_vec())),
            Err(Errno::INTR | Errno::AGAIN) => Ok(Input::Timeout),
            // EIO: the other end of the pty is gone.
            Err(_) => Ok(Input::Eof),
        }
    }

    /// Send bytes to fd 1.
    pub fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.drew = true;
        write_all(b)
    }

    /// Clear the screen, reset attributes, show the cursor, and restore the settings.
    pub fn restore(&mut self) {
        if self.restored {
            return;
        }
        self.restored = true;
        if self.drew {
            let _ = write_all(if self.dumb { b"\r\n" } else { RESET });
        }
        let _ = termios::tcsetattr(stdin(), OptionalActions::Now, &self.saved);
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.restore();
    }
}

fn same_mode(a: &Termios, b: &Termios) -> bool {
    a.local_modes == b.local_modes
        && a.input_modes == b.input_modes
        && a.output_modes == b.output_modes
        && a.control_modes == b.control_modes
}

/// The parent's backstop (see the module docs). Inert unless made with `active`.
pub struct TtyGuard {
    saved: Option<Termios>,
    signals: Option<signal_hook::iterator::Handle>,
}

impl TtyGuard {
    /// Save the terminal's settings (when `active`) and restore them on drop and on the
    /// usual termination signals.
    pub fn save(active: bool) -> TtyGuard {
        let saved = if active {
            termios::tcgetattr(stdin()).ok()
        } else {
            None
        };
        let signals = saved.clone().and_then(|s| {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
            let mut sigs =
                signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]).ok()?;
            let handle = sigs.handle();
            std::thread::Builder::new()
                .name("rsgrub-tty".into())
                .spawn(move || {
                    if let Some(sig) = sigs.forever().next() {
                        put_back(&s);
                        // Then die of the signal, as without us.
                        let _ = signal_hook::low_level::emulate_default_handler(sig);
                        std::process::exit(128 + sig);
                    }
                })
                .ok()?;
            Some(handle)
        });
        TtyGuard { saved, signals }
    }
}

/// Restore `saved`; when the terminal was left in another mode (the child died in the
/// menu), also reset what the menu drew.
fn put_back(saved: &Termios) {
    if let Ok(now) = termios::tcgetattr(stdin()) {
        if !same_mode(&now, saved) {
            let _ = write_all(RESET);
        }
    }
    let _ = termios::tcsetattr(stdin(), OptionalActions::Now, saved);
}

impl Drop for TtyGuard {
    fn drop(&mut self) {
        if let Some(h) = self.signals.take() {
            h.close();
        }
        if let Some(s) = &self.saved {
            put_back(s);
        }
    }
}
