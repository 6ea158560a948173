//! The boot menu on real terminals: tmux (80×24, `TERM=vt100`) driven with `send-keys` and
//! read with `capture-pane`, and a bare pty pair like the one libxl gives the bootloader.
//! Each run uses libxl's arguments; the produced kernel, ramdisk and args are checked.
//!
//! Every wait polls for text with a generous deadline: a hang guard, not a speed check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const KVER: &str = "6.1.0-13-amd64";
const UUID: &str = "0d1bd6bc-6a49-4b6d-9b1a-27a0b2e5c3f1";
const DEADLINE: Duration = Duration::from_secs(30);

struct Image {
    disk: PathBuf,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

fn build(name: &str, files: &[(&str, &[u8])], gpt: bool) -> PathBuf {
    // Shared by the tests of one run (statics are never dropped): rebuilt in the target's
    // scratch directory each run rather than left in /tmp.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("menu_tmux")
        .join(name);
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    let root = tmp.join("root");
    populate(&root, files);
    let fsimg = tmp.join(format!("{name}.img"));
    mkfs_ext("ext4", &root, &fsimg, 24, &["-U", UUID]);
    if !gpt {
        return fsimg;
    }
    let disk = tmp.join("disk.img");
    gpt_disk(&disk, 32, &[(1, None, "ef02"), (24, Some(&fsimg), "8300")]);
    disk
}

/// A Debian 12-style guest (GPT, ext4, grub-mkconfig's grub.cfg), built once.
fn debian() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let kernel = pseudo_random(1 << 20, 11);
        let initrd = pseudo_random(2 << 20, 12);
        let cfg = debian_grub_cfg(UUID, KVER, "/boot");
        let disk = build(
            "debian",
            &[
                (&format!("boot/vmlinuz-{KVER}"), &kernel),
                (&format!("boot/initrd.img-{KVER}"), &initrd),
                ("boot/grub/grub.cfg", cfg.as_bytes()),
                ("etc/hostname", b"guest\n"),
            ],
            true,
        );
        Image {
            disk,
            kernel,
            initrd,
        }
    })
}

/// The same guest with `timeout=1`.
fn debian_short_timeout() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| debian_timeout(1))
}

/// The same guest with `timeout=0`.
fn debian_no_timeout() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| debian_timeout(0))
}

fn debian_timeout(secs: u32) -> Image {
    {
        let kernel = pseudo_random(100_000, 13);
        let initrd = pseudo_random(200_000, 14);
        let cfg = debian_grub_cfg(UUID, KVER, "/boot")
            .replace("set timeout=5", &format!("set timeout={secs}"));
        let disk = build(
            &format!("timeout{secs}"),
            &[
                (&format!("boot/vmlinuz-{KVER}"), &kernel),
                (&format!("boot/initrd.img-{KVER}"), &initrd),
                ("boot/grub/grub.cfg", cfg.as_bytes()),
            ],
            true,
        );
        Image {
            disk,
            kernel,
            initrd,
        }
    }
}

/// `openssl passwd -1 -salt saltsalt password`.
const MD5_PASSWORD: &str = "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/";

/// A GRUB legacy guest (whole-disk ext4) with an md5 `password` and no timeout.
fn legacy() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let kernel = pseudo_random(150_000, 15);
        let menu = legacy_menu_lst();
        let disk = build(
            "legacy",
            &[
                ("boot/vmlinuz", &kernel),
                ("boot/initrd", b"INITRD"),
                ("boot/grub/menu.lst", menu.as_bytes()),
            ],
            false,
        );
        Image {
            disk,
            kernel,
            initrd: b"INITRD".to_vec(),
        }
    })
}

/// The editor line of the first command `word` of entry 0 (the editor shows its source).
fn source_line(m: &rsgrub_bootcfg::Menu, word: &str) -> usize {
    m.entry(&[0])
        .unwrap()
        .source
        .iter()
        .position(|l| l.split_whitespace().next() == Some(word))
        .unwrap_or_else(|| panic!("no {word} in {:?}", m.entry(&[0]).unwrap().source))
}

fn debian_source_line(word: &str) -> usize {
    let cfg = debian_grub_cfg(UUID, KVER, "/boot");
    let mut src = rsgrub_bootcfg::MapSource::default();
    let m = rsgrub_bootcfg::parse_grub2(cfg.as_bytes(), "/boot/grub/grub.cfg", &mut src).unwrap();
    source_line(&m, word)
}

fn legacy_source_line(word: &str) -> usize {
    let mut src = rsgrub_bootcfg::MapSource::default();
    let m = rsgrub_bootcfg::parse_legacy(
        legacy_menu_lst().as_bytes(),
        "/boot/grub/menu.lst",
        &mut src,
    )
    .unwrap();
    source_line(&m, word)
}

fn legacy_menu_lst() -> String {
    format!(
        "default 0\npassword --md5 {MD5_PASSWORD}\n\ntitle Legacy Linux\n\tkernel /boot/vmlinuz ro root=/dev/xvda1\n\tinitrd /boot/initrd\n\ntitle Other\n\tkernel /boot/vmlinuz other\n"
    )
}

/// Where one run's results go.
struct Out {
    dir: tempfile::TempDir,
}

impl Out {
    fn new() -> Out {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        fs::write(dir.path().join("result"), b"").unwrap();
        Out { dir }
    }
    fn result_path(&self) -> PathBuf {
        self.dir.path().join("result")
    }
    fn args(&self, disk: &Path, extra: &[&str]) -> Vec<String> {
        let mut v = vec![
            format!("--output={}", self.result_path().display()),
            "--output-format=simple0".to_string(),
            format!(
                "--output-directory={}",
                self.dir.path().join("out").display()
            ),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(disk.display().to_string());
        v
    }
    fn items(&self) -> Vec<(String, String)> {
        parse_simple(&fs::read(self.result_path()).unwrap(), 0)
    }
    fn get(&self, key: &str) -> Option<String> {
        self.items()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    fn file(&self, key: &str) -> Vec<u8> {
        fs::read(
            self.get(key)
                .unwrap_or_else(|| panic!("no {key} in {:?}", self.items())),
        )
        .unwrap()
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A tmux server of its own (`-L`, sockets in a directory of its own), killed on drop.
struct Tmux {
    sock: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut c = Command::new(tool("tmux"));
        c.arg("-L").arg(&self.sock).arg("-f").arg("/dev/null");
        c.env_remove("TMUX").env("TMUX_TMPDIR", self.dir.path());
        c
    }

    /// Run rsgrub with `args` in an 80×24 pane, `TERM=vt100`; the pane then prints the
    /// exit status and stays.
    fn start(name: &str, args: &[String]) -> Tmux {
        let t = Tmux {
            sock: format!("rsgrub-menu-{}-{name}", std::process::id()),
            dir: tempfile::tempdir().unwrap(),
        };
        let mut cmd = format!(
            "env TERM=vt100 LANG=C.UTF-8 {}",
            shell_quote(env!("CARGO_BIN_EXE_rsgrub"))
        );
        for a in args {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        cmd.push_str(" 2>/dev/null; echo EXIT=$?; sleep 600");
        sh(t.tmux()
            .args(["new-session", "-d", "-x", "80", "-y", "24", "-s", "m"])
            .arg(cmd));
        t
    }

    fn send(&self, keys: &[&str]) {
        sh(self.tmux().args(["send-keys", "-t", "m"]).args(keys));
    }

    fn type_text(&self, text: &str) {
        sh(self.tmux().args(["send-keys", "-t", "m", "-l", text]));
    }

    fn capture(&self) -> String {
        let o = sh(self.tmux().args(["capture-pane", "-p", "-t", "m"]));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Poll the pane until `needle` shows.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle))
    }

    /// Poll the pane until `ok` holds.
    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let s = self.capture();
            if ok(&s) {
                return s;
            }
            if Instant::now() > end {
                panic!("never: {what}; the pane shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

const COUNTDOWN: &str = "The highlighted entry will be booted automatically in";

#[test]
fn tmux_main_menu_down_enter_into_submenu() {
    let g = debian();
    let out = Out::new();
    let t = Tmux::start("submenu", &out.args(&g.disk, &[]));
    let screen = t.wait_for(COUNTDOWN);
    assert!(screen.contains(" +-----"), "{screen}");
    assert!(screen.contains(" |*Debian GNU/Linux "), "{screen}");
    assert!(screen.contains(" | Advanced options for Debian GNU/Linux"));
    assert!(screen.contains("Use the ^ and v keys to select which entry is highlighted."));
    assert!(screen.contains("`e' to edit the commands"));
    if let Ok(p) = std::env::var("RSGRUB_MENU_CAPTURE_DIR") {
        fs::write(Path::new(&p).join("main.txt"), &screen).unwrap();
    }
    t.send(&["Down"]);
    let screen = t.wait_for(" |*Advanced options");
    assert!(
        !screen.contains(COUNTDOWN),
        "any key stops the countdown:\n{screen}"
    );
    t.send(&["Enter"]);
    let screen = t.wait_for("(recovery mode)");
    assert!(screen.contains("ESC to return previous menu."), "{screen}");
    t.send(&["Down", "Enter"]);
    t.wait_for("EXIT=0");
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro single").as_str())
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&out.file("ramdisk")), sha256(&g.initrd));
    // The screen was cleared on the way out.
    let screen = t.capture();
    assert!(!screen.contains("Advanced options"), "{screen}");
}

#[test]
fn tmux_edit_the_linux_line_then_ctrl_x() {
    let g = debian();
    let out = Out::new();
    let t = Tmux::start("edit", &out.args(&g.disk, &[]));
    t.wait_for(COUNTDOWN);
    t.send(&["e"]);
    // GRUB's editor shows the entry's stored commands.
    let screen = t.wait_for("Minimum Emacs-like screen editing is supported.");
    assert!(
        screen.contains("| setparams 'Debian GNU/Linux'"),
        "{screen}"
    );
    assert!(screen.contains("| load_video"), "{screen}");
    assert!(screen.contains("| set root='hd0,gpt2'"), "{screen}");
    assert!(screen.contains("v\n"), "more lines below: {screen}");
    if let Ok(p) = std::env::var("RSGRUB_MENU_CAPTURE_DIR") {
        fs::write(Path::new(&p).join("editor.txt"), &screen).unwrap();
    }
    // Down to the linux line (the box scrolls), drop `quiet`, add a console.
    let n = debian_source_line("linux");
    t.send(&vec!["Down"; n]);
    // Longer than the box: cut, with a `>` at the right edge.
    let screen = t.wait_for(&format!("| linux /boot/vmlinuz-{KVER} root=UUID=0d1bd6bc"));
    assert!(screen.contains(">|"), "{screen}");
    t.send(&["End", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace"]);
    t.type_text("console=hvc0 init=/bin/sh");
    t.wait_for("ro  console=hvc0 init=/bin/sh");
    t.send(&["C-x"]);
    t.wait_for("EXIT=0");
    // GRUB joins the linux command's words with single spaces.
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro console=hvc0 init=/bin/sh").as_str())
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&out.file("ramdisk")), sha256(&g.initrd));
}

#[test]
fn tmux_escape_discards_and_f10_boots() {
    let g = debian();
    let out = Out::new();
    let t = Tmux::start("esc", &out.args(&g.disk, &[]));
    t.wait_for(COUNTDOWN);
    t.send(&["e", "Down", "C-k"]);
    t.wait_until("the load_video line is killed", |s| {
        s.contains("| insmod gzio") && !s.contains("| load_video")
    });
    t.send(&["Escape"]);
    t.wait_for(" |*Debian GNU/Linux ");
    t.send(&["e"]);
    t.wait_for("| load_video");
    t.send(&["F10"]);
    t.wait_for("EXIT=0");
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
}

#[test]
fn tmux_command_line_linux_initrd_boot() {
    let g = debian();
    let out = Out::new();
    let t = Tmux::start("cmdline", &out.args(&g.disk, &[]));
    t.wait_for(COUNTDOWN);
    t.send(&["c"]);
    t.wait_for("grub>");
    t.type_text("ls /boot");
    t.send(&["Enter"]);
    t.wait_for(&format!("vmlinuz-{KVER}"));
    t.type_text("cat /etc/hostname");
    t.send(&["Enter"]);
    t.wait_for("\nguest\n");
    t.type_text("linux /boot/nonexistent");
    t.send(&["Enter"]);
    t.wait_for("error: file `/boot/nonexistent' not found.");
    t.type_text(&format!(
        "linux /boot/vmlinuz-{KVER} root=/dev/xvda1 ro console=hvc0"
    ));
    t.send(&["Enter"]);
    t.type_text(&format!("initrd /boot/initrd.img-{KVER}"));
    t.send(&["Enter"]);
    t.type_text("boot");
    t.send(&["Enter"]);
    t.wait_for("EXIT=0");
    assert_eq!(
        out.get("args").as_deref(),
        Some("root=/dev/xvda1 ro console=hvc0")
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&out.file("ramdisk")), sha256(&g.initrd));
}

#[test]
fn tmux_timeout_expiry_boots_the_default() {
    let g = debian_short_timeout();
    let out = Out::new();
    let t = Tmux::start("timeout", &out.args(&g.disk, &[]));
    t.wait_for("EXIT=0");
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&out.file("ramdisk")), sha256(&g.initrd));
}

#[test]
fn tmux_legacy_password_prompt() {
    let g = legacy();
    let out = Out::new();
    let t = Tmux::start("password", &out.args(&g.disk, &[]));
    let screen = t.wait_for("`p' to enter a password");
    assert!(screen.contains(" |*Legacy Linux"), "{screen}");
    assert!(
        !screen.contains(COUNTDOWN),
        "no timeout: no countdown\n{screen}"
    );
    // Editing is refused until the password is given.
    t.send(&["e"]);
    t.send(&["p"]);
    t.wait_for("Password:");
    t.type_text("wrong");
    t.wait_for("Password: *****");
    t.send(&["Enter"]);
    t.wait_for("Failed!");
    t.send(&["Enter", "p"]);
    t.wait_for("Password:");
    t.type_text("password");
    t.send(&["Enter"]);
    t.wait_for("`e' to edit the commands");
    t.send(&["e"]);
    t.wait_for("| linux /boot/vmlinuz ro root=/dev/xvda1");
    t.send(&vec!["Down"; legacy_source_line("linux")]);
    t.send(&["End"]);
    t.type_text(" single");
    t.send(&["C-x"]);
    t.wait_for("EXIT=0");
    assert_eq!(
        out.get("args").as_deref(),
        Some("ro root=/dev/xvda1 single")
    );
    assert_eq!(out.file("kernel"), g.kernel);
    assert_eq!(out.file("ramdisk"), g.initrd);
}

// ---- A bare pty pair, as libxl gives the bootloader ------------------------------------

struct Pty {
    master: Arc<std::fs::File>,
    slave: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn open(cols: u16, rows: u16) -> Pty {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let master = Arc::new(std::fs::File::from(master));
        Pty::resize_fd(&master, cols, rows);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (m, s) = (master.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave fd is closed.
            while let Ok(n) = (&*m).read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            master,
            slave,
            seen,
        }
    }

    fn resize_fd(f: &std::fs::File, cols: u16, rows: u16) {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(f, ws).unwrap();
    }

    fn write(&self, b: &[u8]) {
        (&*self.master).write_all(b).unwrap();
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Poll what the program wrote until `needle` shows; returns the bytes after the mark.
    fn wait_for(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let s = self.output();
            if s.contains(needle) {
                return s;
            }
            if Instant::now() > end {
                panic!("`{needle}` never appeared; output:\n{s:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(&self, args: &[String]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_rsgrub"))
            .args(args)
            .env("TERM", "vt100")
            .stdin(self.slave.try_clone().unwrap())
            .stdout(self.slave.try_clone().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn cooked(&self) -> bool {
        let t = rustix::termios::tcgetattr(&self.slave).unwrap();
        use rustix::termios::LocalModes;
        t.local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO)
    }
}

fn wait_exit(c: &mut std::process::Child) -> std::process::ExitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > end {
            let _ = c.kill();
            panic!("rsgrub did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pty_split_escape_sequences_and_terminal_restored() {
    let g = debian();
    let out = Out::new();
    let pty = Pty::open(80, 24);
    assert!(pty.cooked());
    let mut child = pty.spawn(&out.args(&g.disk, &[]));
    pty.wait_for(COUNTDOWN);
    assert!(!pty.cooked(), "the menu runs in raw mode");
    // ↓ split across writes (CSI form), Enter opens the submenu, ↓ in SS3 form, Enter.
    pty.write(b"\x1b");
    std::thread::sleep(Duration::from_millis(20));
    pty.write(b"[");
    std::thread::sleep(Duration::from_millis(20));
    pty.write(b"B");
    // (Reverse video starts after the border.)
    pty.wait_for("*Advanced options");
    pty.write(b"\r");
    pty.wait_for("(recovery mode)");
    pty.write(b"\x1bOB\r");
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro single").as_str())
    );
    assert_eq!(sha256(&out.file("ramdisk")), sha256(&g.initrd));
    // Cooked again, screen cleared, cursor shown, attributes reset.
    assert!(pty.cooked());
    assert!(
        pty.output().ends_with("\x1b[0m\x1b[?25h\x1b[H\x1b[2J"),
        "{:?}",
        pty.output()
    );
    // vt100 only: no UTF-8, no colour.
    let o = pty.output();
    assert!(o.is_ascii());
    // The only attributes: reverse video and reset (no colour).
    for sgr in o.split("\x1b[").skip(1) {
        let params: String = sgr
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ';')
            .collect();
        if sgr[params.len()..].starts_with('m') {
            assert!(params == "0" || params == "7", "attribute {params:?}");
        }
    }
}

#[test]
fn pty_resize_redraws_at_the_new_size() {
    let g = debian();
    let out = Out::new();
    let pty = Pty::open(80, 24);
    let mut child = pty.spawn(&out.args(&g.disk, &[]));
    pty.wait_for(&format!("+{}+", "-".repeat(76)));
    pty.write(b"\x1b[B"); // stop the countdown
    Pty::resize_fd(&pty.master, 100, 30);
    pty.wait_for(&format!("+{}+", "-".repeat(96)));
    pty.write(b"\x1b[A\r");
    assert!(wait_exit(&mut child).success());
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
}

#[test]
fn pty_quiet_shows_no_menu() {
    let g = debian();
    let out = Out::new();
    let pty = Pty::open(80, 24);
    let mut child = pty.spawn(&out.args(&g.disk, &["-q"]));
    assert!(wait_exit(&mut child).success());
    assert!(
        !pty.output().contains("rsgrub  version"),
        "{:?}",
        pty.output()
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    let mut child = pty.spawn(&out.args(&g.disk, &["--entry=1"]));
    assert!(wait_exit(&mut child).success());
    assert!(!pty.output().contains("rsgrub  version"));
    assert!(pty.cooked());
}

#[test]
fn pty_timeout_zero_boots_without_drawing() {
    let g = debian_no_timeout();
    let out = Out::new();
    let pty = Pty::open(80, 24);
    let mut child = pty.spawn(&out.args(&g.disk, &[]));
    assert!(wait_exit(&mut child).success());
    assert_eq!(
        out.get("args").as_deref(),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
    assert_eq!(sha256(&out.file("kernel")), sha256(&g.kernel));
    // Nothing drawn, nothing cleared.
    assert!(!pty.output().contains('\x1b'), "{:?}", pty.output());
    assert!(pty.cooked());
}

#[test]
fn pty_sigterm_restores_the_terminal() {
    let g = legacy();
    let out = Out::new();
    let pty = Pty::open(80, 24);
    let mut child = pty.spawn(&out.args(&g.disk, &[]));
    pty.wait_for("`p' to enter a password");
    assert!(!pty.cooked());
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = wait_exit(&mut child);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc_sigterm()), "{status:?}");
    assert!(pty.cooked(), "termios restored after SIGTERM");
    assert!(
        pty.output().ends_with("\x1b[0m\x1b[?25h\x1b[H\x1b[2J"),
        "screen reset"
    );
    // Dropping the pty hangs it up: a worker still in the menu sees the end of its input.
    drop(pty);
}

fn libc_sigterm() -> i32 {
    rustix::process::Signal::TERM.as_raw()
}
