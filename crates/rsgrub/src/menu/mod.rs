//! The interactive boot menu, on the guest's console (`xl create -c`: a pty bridged by
//! xenconsoled, `TERM=vt100`, 80×24, often a serial line without colours).
//!
//! It looks and behaves like GRUB's own text menu: a title, a boxed list with the selection
//! in reverse video (and GRUB's `*`), scrolling, submenus (Enter/→ opens, Esc/← goes back),
//! the countdown "The highlighted entry will be booted automatically in Ns." that any key
//! stops, GRUB's help text; `e` edits the entry's commands (Ctrl-X/F10 boots, Esc
//! discards), `a` edits the kernel arguments then boots (PyGrub), `c` opens a command line
//! (`linux`, `initrd`, `set root=`, `boot`, `ls`, `cat`, `exit`), `p` takes a GRUB legacy
//! password. Passwords are enforced as GRUB does (see [`auth`]).
//!
//! - [`state`]: a pure state machine (keys and 100 ms ticks in, a boot choice out);
//! - [`render`]: state → screen model → vt100 bytes (ASCII boxes unless UTF-8 is known to
//!   work; `TERM=dumb` gets plain lines);
//! - [`keys`]: bytes → keys (escape sequences, split reads, escape timeout);
//! - [`term`]: raw mode and I/O on fds 0 and 1, within the sandbox's system calls;
//! - [`editor`], [`script`]: the line and entry editors, entry ↔ GRUB commands;
//! - [`auth`], [`password`]: who may do what, md5-crypt and PBKDF2 checks.
//!
//! Timeouts: `Menu::timeout_tenths` `None` waits forever, `Some(0)` boots at once without
//! drawing unless a key comes within the first tick; `Menu::hidden` waits the timeout
//! without drawing and shows the menu on a key.
//!
//! Passwords come from the parsed menu ([`auth::Auth::from_menu`]): GRUB 2's
//! `Menu::superusers`/`passwords` and each item's `users`/`unrestricted`, GRUB legacy's
//! `Menu::password`. GRUB legacy `lock` (`Entry::locked`) is enforced for the paths in
//! [`auth::Auth::legacy_locked`].

pub mod auth;
pub mod editor;
pub mod keys;
pub mod password;
pub mod render;
pub mod script;
pub mod state;
pub mod term;

pub use term::TtyGuard;

use crate::discover::{self, Found};
use crate::guest::{Guest, GuestFiles};
use keys::{Decoder, ESCAPE_TIMEOUT};
use render::{Profile, Writer};
use rsgrub_bootcfg::{Entry, FileSource, Menu};
use state::{Host, Outcome, State};
use std::time::{Duration, Instant};
use term::{Input, Tty};

/// Whether fds 0 and 1 are a terminal the menu can use (see [`term::usable`]).
pub fn terminal_usable() -> bool {
    term::usable()
}

/// Whether the kernel and initrds of `e` exist where booting would look for them.
pub fn check_entry(guest: &Guest, home: usize, e: &Entry) -> Result<(), String> {
    let kernel = e
        .kernel
        .as_ref()
        .ok_or("you need to load the kernel first")?;
    let kvol = discover::locate(guest, home, e.root.as_deref(), kernel)
        .ok_or_else(|| format!("file `{kernel}' not found"))?;
    for i in &e.initrds {
        discover::locate(guest, kvol, e.root.as_deref(), i)
            .ok_or_else(|| format!("file `{i}' not found"))?;
    }
    Ok(())
}

struct GuestHost<'a> {
    files: GuestFiles<'a>,
}

impl Host for GuestHost<'_> {
    fn check(&mut self, entry: &Entry) -> Result<(), String> {
        check_entry(self.files.guest, self.files.home, entry)
    }
    fn files(&mut self) -> &mut dyn FileSource {
        &mut self.files
    }
    fn devices(&mut self) -> Vec<String> {
        let g = self.files.guest;
        let mut v = vec!["hd0".to_string()];
        v.extend(
            g.volumes
                .iter()
                .filter(|vol| !vol.name.is_empty())
                .map(|vol| vol.grub_device()),
        );
        v
    }
}

/// Show the menu of `found` on the terminal and return the entry chosen (possibly edited)
/// with the volume its kernel is on. If the terminal fails or goes away, the default
/// boots, as without a terminal.
pub fn choose(guest: &Guest, found: &Found) -> Result<(Entry, usize), String> {
    let mut warnings = Vec::new();
    let default = discover::select(&found.menu, None, &mut warnings)
        .ok_or("no bootable entry in the config")?;
    let auth = auth::Auth::from_menu(&found.menu);
    let mut host = GuestHost {
        files: GuestFiles {
            guest,
            home: found.volume,
        },
    };
    let entry = match interact(&found.menu, auth, default.clone(), &mut host) {
        Ok(e) => e,
        Err(err) => {
            warnings.push(format!("menu: {err}; booting the default entry"));
            found
                .menu
                .entry(&default)
                .cloned()
                .ok_or("no bootable entry in the config")?
        }
    };
    // Printed after the menu is gone, so they are not drawn over.
    for w in &warnings {
        eprintln!("rsgrub: warning: {w}");
    }
    let kernel = entry.kernel.as_ref().ok_or("entry has no kernel")?;
    let home = discover::locate(guest, found.volume, entry.root.as_deref(), kernel)
        .ok_or_else(|| format!("entry '{}': kernel {kernel}: no such file", entry.title))?;
    Ok((entry, home))
}

/// Most ticks caught up at once (after the process was stopped, say).
const MAX_CATCH_UP: u32 = 50;

/// The terminal loop.
fn interact(
    menu: &Menu,
    auth: auth::Auth,
    default: Vec<usize>,
    host: &mut dyn Host,
) -> std::io::Result<Entry> {
    let profile = Profile::from_env();
    let mut tty = Tty::open(profile.dumb)?;
    let (cols, rows) = tty.size();
    let mut st = State::new(menu, auth, default, cols, rows);
    let mut dec = Decoder::new();
    let mut out = Writer::new(profile);
    let tick = Duration::from_millis(state::TICK_MS);
    let mut next_tick = Instant::now() + tick;
    let mut esc_deadline: Option<Instant> = None;
    loop {
        let (c, r) = tty.size();
        st.resize(c, r);
        if st.visible() {
            let full = st.take_redraw();
            let bytes = out.frame(&render::draw(&st, profile), full);
            if !bytes.is_empty() {
                tty.write(&bytes)?;
            }
        }
        let mut deadline = next_tick;
        if let Some(d) = esc_deadline {
            deadline = deadline.min(d);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let mut keys = Vec::new();
        match tty.read(wait)? {
            Input::Bytes(b) => {
                keys = dec.feed(&b);
                esc_deadline = dec.has_pending().then(|| Instant::now() + ESCAPE_TIMEOUT);
            }
            Input::Timeout => {}
            Input::Eof => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the terminal closed",
                ))
            }
        }
        if esc_deadline.is_some_and(|d| Instant::now() >= d) {
            keys.extend(dec.flush());
            esc_deadline = None;
        }
        for k in keys {
            if let Outcome::Boot(e) = st.key(k, host) {
                tty.restore();
                return Ok(*e);
            }
        }
        let now = Instant::now();
        let mut n = 0;
        while now >= next_tick && n < MAX_CATCH_UP {
            next_tick += tick;
            n += 1;
            if let Outcome::Boot(e) = st.tick(host) {
                tty.restore();
                return Ok(*e);
            }
        }
        if now >= next_tick {
            next_tick = now + tick;
        }
    }
}

#[cfg(test)]
mod tests;
