//! The menu state machine driven without a terminal: each test asserts the boot choice and
//! the screen text.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::auth::Auth;
use super::keys::Key;
use super::password::Credential;
use super::render::{self, Profile, Screen};
use super::state::{Host, Mode, Outcome, State};
use rsgrub_bootcfg::{Entry, FileSource, MapSource, Menu};

const CFG: &str = r#"
set default=0
set timeout=5
menuentry 'Debian GNU/Linux' --id simple {
	set root='hd0,gpt2'
	linux	/boot/vmlinuz-6.1 root=UUID=abcd ro  quiet
	initrd	/boot/initrd.img-6.1
}
submenu 'Advanced options for Debian GNU/Linux' {
	menuentry 'Debian GNU/Linux, with Linux 6.1' {
		set root='hd0,gpt2'
		linux	/boot/vmlinuz-6.1 root=UUID=abcd ro  quiet
		initrd	/boot/initrd.img-6.1
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1 (recovery mode)' {
		set root='hd0,gpt2'
		linux	/boot/vmlinuz-6.1 root=UUID=abcd ro single
		initrd	/boot/initrd.img-6.1
	}
}
menuentry 'Xen hypervisor' {
	multiboot2 /boot/xen.gz placeholder dom0_mem=1G
	module2 /boot/vmlinuz-6.1 placeholder root=UUID=abcd ro
	module2 --nounzip /boot/initrd.img-6.1
}
menuentry 'Missing kernel' {
	linux /boot/vmlinuz-gone ro
}
"#;

fn files() -> MapSource {
    MapSource::default()
        .with("/boot/vmlinuz-6.1", b"kernel".to_vec())
        .with("/boot/initrd.img-6.1", b"initrd".to_vec())
        .with("/boot/xen.gz", b"xen".to_vec())
        .with("/etc/hostname", b"guest\n".to_vec())
        .with("/boot/grub/grub.cfg", CFG.as_bytes().to_vec())
}

struct Fake {
    src: MapSource,
}

impl Host for Fake {
    fn check(&mut self, e: &Entry) -> Result<(), String> {
        let k = e.kernel.as_ref().ok_or("no kernel")?;
        for f in std::iter::once(k).chain(&e.initrds) {
            // The fake has one volume: devices are ignored.
            if !self.src.exists(None, &f.path) {
                return Err(format!("file `{f}' not found"));
            }
        }
        Ok(())
    }
    fn files(&mut self) -> &mut dyn FileSource {
        &mut self.src
    }
    fn devices(&mut self) -> Vec<String> {
        vec!["hd0".into(), "hd0,gpt1".into(), "hd0,gpt2".into()]
    }
}

fn grub_menu(cfg: &str) -> Menu {
    rsgrub_bootcfg::parse_grub2(cfg.as_bytes(), "/boot/grub/grub.cfg", &mut files()).unwrap()
}

struct T<'m> {
    st: State<'m>,
    host: Fake,
    profile: Profile,
}

impl<'m> T<'m> {
    fn new(menu: &'m Menu, auth: Auth) -> Self {
        let default = menu.default.clone().unwrap_or_default();
        T {
            st: State::new(menu, auth, default, 80, 24),
            host: Fake { src: files() },
            profile: Profile::new("vt100", "C"),
        }
    }
    fn key(&mut self, k: Key) -> Outcome {
        self.st.key(k, &mut self.host)
    }
    fn keys(&mut self, ks: &[Key]) -> Outcome {
        let mut last = Outcome::Continue;
        for k in ks {
            last = self.key(*k);
            if last != Outcome::Continue {
                break;
            }
        }
        last
    }
    fn typed(&mut self, s: &str) -> Outcome {
        let mut last = Outcome::Continue;
        for c in s.chars() {
            last = self.key(Key::Char(c));
        }
        last
    }
    fn ticks(&mut self, n: usize) -> Outcome {
        for _ in 0..n {
            let o = self.st.tick(&mut self.host);
            if o != Outcome::Continue {
                return o;
            }
        }
        Outcome::Continue
    }
    fn screen(&self) -> Screen {
        render::draw(&self.st, self.profile)
    }
    fn text(&self) -> String {
        self.screen().text()
    }
    /// The highlighted menu entry, as shown.
    fn highlighted(&self) -> String {
        let s = self.screen();
        (0..s.rows)
            .map(|r| s.reversed_text(r))
            .find(|t| !t.is_empty())
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn booted(o: Outcome) -> Entry {
    match o {
        Outcome::Boot(e) => *e,
        Outcome::Continue => panic!("nothing booted"),
    }
}

#[test]
fn main_menu_screen() {
    let m = grub_menu(CFG);
    let t = T::new(&m, Auth::default());
    let text = t.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1].trim(),
        format!("rsgrub  version {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        lines[3].starts_with(" +---") && lines[3].ends_with("---+"),
        "{text}"
    );
    assert_eq!(lines[3].len(), 79);
    assert!(lines[4].starts_with(" |*Debian GNU/Linux"), "{text}");
    assert!(lines[4].ends_with('|'));
    assert!(lines[5].starts_with(" | Advanced options for Debian GNU/Linux"));
    assert!(lines[5].ends_with(">|"), "submenu marker: {text}");
    assert!(text.contains("Use the ^ and v keys to select which entry is highlighted."));
    assert!(text.contains("Press enter to boot the selected OS, `e' to edit the commands"));
    assert!(text.contains("or `c' for a command-line."));
    assert!(text.contains("The highlighted entry will be booted automatically in 5s."));
    assert!(!text.contains("ESC to return"));
    assert_eq!(t.highlighted(), "*Debian GNU/Linux");
    assert!(text.lines().count() <= 24);
    // ASCII only on a vt100.
    assert!(text.is_ascii());
}

#[test]
fn countdown_boots_the_default_and_any_key_stops_it() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    assert_eq!(t.ticks(10), Outcome::Continue);
    assert!(t.text().contains("automatically in 4s."));
    assert_eq!(t.ticks(9), Outcome::Continue);
    assert!(t.text().contains("automatically in 4s."));
    assert_eq!(t.ticks(1), Outcome::Continue);
    assert!(t.text().contains("automatically in 3s."));
    let e = booted(t.ticks(100));
    assert_eq!(e.title, "Debian GNU/Linux");
    assert_eq!(e.args, "root=UUID=abcd ro quiet");

    let mut t = T::new(&m, Auth::default());
    assert_eq!(t.key(Key::Down), Outcome::Continue);
    assert!(!t.text().contains("automatically"));
    assert_eq!(t.ticks(1000), Outcome::Continue);
    assert_eq!(t.highlighted(), "*Advanced options for Debian GNU/Linux >");
}

#[test]
fn timeout_zero_and_none() {
    // timeout=0: boots at once, without drawing.
    let m = grub_menu(&CFG.replace("set timeout=5", "set timeout=0"));
    let mut t = T::new(&m, Auth::default());
    assert!(!t.st.visible());
    assert_eq!(booted(t.ticks(1)).title, "Debian GNU/Linux");
    // ... unless a key is already there: then the menu shows and waits.
    let mut t = T::new(&m, Auth::default());
    assert_eq!(t.key(Key::Esc), Outcome::Continue);
    assert!(t.st.visible());
    assert_eq!(t.ticks(1000), Outcome::Continue);
    assert!(t.text().contains("*Debian GNU/Linux"));
    // No timeout (-1): wait forever.
    let m = grub_menu(&CFG.replace("set timeout=5", "set timeout=-1"));
    let mut t = T::new(&m, Auth::default());
    assert!(t.st.visible());
    assert_eq!(t.ticks(10_000), Outcome::Continue);
    assert!(!t.text().contains("automatically"));
}

#[test]
fn hidden_menu_waits_then_boots_or_shows() {
    let cfg = CFG.replace("set timeout=5", "set timeout=3\nset timeout_style=hidden");
    let m = grub_menu(&cfg);
    assert!(m.hidden);
    let mut t = T::new(&m, Auth::default());
    assert!(!t.st.visible());
    assert_eq!(booted(t.ticks(30)).title, "Debian GNU/Linux");
    let mut t = T::new(&m, Auth::default());
    t.ticks(10);
    assert_eq!(t.key(Key::Esc), Outcome::Continue);
    assert!(t.st.visible());
    assert_eq!(t.ticks(100), Outcome::Continue);
    assert!(!t.text().contains("automatically"));
    // Syslinux-style tenths.
    let mut m2 = m.clone();
    m2.hidden = false;
    m2.timeout_tenths = Some(7);
    let mut t = T::new(&m2, Auth::default());
    assert!(t.text().contains("automatically in 1s."));
    assert_eq!(t.ticks(6), Outcome::Continue);
    assert!(booted(t.ticks(1)).title.starts_with("Debian"));
}

#[test]
fn submenus_open_and_close() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.key(Key::Down);
    assert_eq!(t.key(Key::Enter), Outcome::Continue);
    let text = t.text();
    assert!(text.contains("*Debian GNU/Linux, with Linux 6.1"), "{text}");
    assert!(text.contains(" Debian GNU/Linux, with Linux 6.1 (recovery mode)"));
    assert!(text.contains("ESC to return previous menu."));
    assert!(!text.contains("Advanced options"));
    t.key(Key::Left);
    assert!(t.text().contains("Advanced options"));
    t.key(Key::Right);
    t.key(Key::Ctrl(b'n'));
    assert_eq!(
        t.highlighted(),
        "*Debian GNU/Linux, with Linux 6.1 (recovery mode)"
    );
    t.key(Key::Esc);
    assert_eq!(t.highlighted(), "*Advanced options for Debian GNU/Linux >");
    t.keys(&[Key::Enter, Key::End]);
    let e = booted(t.key(Key::Enter));
    assert_eq!(e.title, "Debian GNU/Linux, with Linux 6.1 (recovery mode)");
    assert_eq!(e.args, "root=UUID=abcd ro single");
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
}

#[test]
fn default_inside_a_submenu_is_highlighted_there() {
    let m = grub_menu(&CFG.replace("set default=0", "set default='1>1'"));
    let mut t = T::new(&m, Auth::default());
    assert!(t.highlighted().starts_with("*Advanced options"));
    t.key(Key::Enter);
    assert_eq!(
        t.highlighted(),
        "*Debian GNU/Linux, with Linux 6.1 (recovery mode)"
    );
    // And the timeout boots it.
    let mut t = T::new(&m, Auth::default());
    assert!(booted(t.ticks(50)).title.ends_with("(recovery mode)"));
}

#[test]
fn long_lists_scroll() {
    let mut cfg = String::from("set timeout=-1\n");
    for i in 0..40 {
        cfg.push_str(&format!(
            "menuentry 'entry {i:02}' {{ linux /boot/vmlinuz-6.1 n={i} }}\n"
        ));
    }
    let m = grub_menu(&cfg);
    let mut t = T::new(&m, Auth::default());
    let rows = render::list_rows(&t.st);
    assert!((10..=16).contains(&rows), "{rows}");
    let text = t.text();
    assert!(text.contains(&format!(" entry {:02}", rows - 1)));
    assert!(!text.contains(&format!(" entry {rows:02}")));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[3 + rows].ends_with('v'), "down arrow: {text}");
    t.key(Key::End);
    assert_eq!(t.highlighted(), "*entry 39");
    let text = t.text();
    assert!(text.lines().nth(4).unwrap().ends_with('^'), "{text}");
    assert!(!text.contains("entry 00"));
    t.key(Key::PageUp);
    assert_eq!(t.highlighted(), format!("*entry {:02}", 39 - rows));
    t.key(Key::Home);
    assert_eq!(t.highlighted(), "*entry 00");
    t.key(Key::PageDown);
    assert_eq!(t.highlighted(), format!("*entry {rows:02}"));
    for _ in 0..100 {
        t.key(Key::Up);
    }
    t.key(Key::Char('v'));
    assert_eq!(booted(t.key(Key::Enter)).args, "n=1");
    // Bigger terminals show more; smaller ones still work.
    let mut t = T::new(&m, Auth::default());
    t.st.resize(120, 50);
    assert!(render::list_rows(&t.st) > rows);
    assert_eq!(t.screen().cols, 120);
    t.st.resize(20, 5);
    t.key(Key::End);
    assert!(t.text().contains("entry 39"));
}

#[test]
fn edit_an_entry_then_boot_it() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    assert_eq!(t.key(Key::Char('e')), Outcome::Continue);
    let text = t.text();
    // GRUB's stored source: `setparams` and the body as written.
    assert!(text.contains("| setparams 'Debian GNU/Linux'"), "{text}");
    assert!(text.contains("| set root='hd0,gpt2'"), "{text}");
    assert!(text.contains("| linux /boot/vmlinuz-6.1 root=UUID=abcd ro  quiet"));
    assert!(text.contains("| initrd /boot/initrd.img-6.1"));
    assert!(text.contains("Minimum Emacs-like screen editing is supported."));
    assert!(text.contains("Ctrl-x or F10"));
    // The cursor is at the start of the first line.
    assert_eq!(t.screen().cursor, Some((4, 3)));
    t.keys(&[Key::Down, Key::Down, Key::End]);
    t.typed(" console=hvc0");
    t.keys(&[Key::Ctrl(b'a'), Key::Ctrl(b'f')]);
    assert!(t
        .text()
        .contains("linux /boot/vmlinuz-6.1 root=UUID=abcd ro  quiet console=hvc0"));
    let e = booted(t.key(Key::Ctrl(b'x')));
    assert_eq!(e.args, "root=UUID=abcd ro quiet console=hvc0");
    assert_eq!(e.kernel.unwrap().path, "/boot/vmlinuz-6.1");
    assert_eq!(e.initrds.len(), 1);
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
    assert_eq!(e.title, "Debian GNU/Linux");

    // Unchanged: exactly the entry.
    let mut t = T::new(&m, Auth::default());
    t.key(Key::Char('e'));
    let e = booted(t.key(Key::F(10)));
    assert_eq!(&e, m.entry(&[0]).unwrap());

    // Esc discards.
    let mut t = T::new(&m, Auth::default());
    t.keys(&[Key::Char('e'), Key::Down, Key::Down, Key::Ctrl(b'k')]);
    t.key(Key::Esc);
    assert!(t.text().contains("*Debian GNU/Linux"));
    assert_eq!(booted(t.key(Key::Enter)).args, "root=UUID=abcd ro quiet");
}

#[test]
fn editor_errors_stay_in_the_editor() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.key(Key::Char('e'));
    t.keys(&[Key::Down, Key::Down, Key::Down, Key::End, Key::Enter]);
    // A syntax error.
    t.typed("if true; then");
    assert_eq!(t.key(Key::Ctrl(b'x')), Outcome::Continue);
    let text = t.text();
    assert!(text.contains("     error: line "), "{text}");
    assert!(matches!(t.st.mode(), Mode::Editor { .. }));
    // A kernel that is not there: GRUB's file error.
    t.keys(&[Key::Ctrl(b'a'), Key::Ctrl(b'k'), Key::Backspace]);
    t.keys(&[Key::Up, Key::End]);
    for _ in 0.."root=UUID=abcd ro  quiet".len() + 1 {
        t.key(Key::Ctrl(b'b'));
    }
    t.typed("-gone");
    assert_eq!(t.key(Key::Ctrl(b'x')), Outcome::Continue);
    assert!(
        t.text().contains("vmlinuz-6.1-gone' not found."),
        "{}",
        t.text()
    );
    // What the interpreter accepts runs as in GRUB: `;`, variables, no-op commands.
    t.keys(&[Key::Ctrl(b'a'), Key::Ctrl(b'k')]);
    t.typed("insmod gzio; linux /boot/vmlinuz-6.1 $unset single");
    let e = booted(t.key(Key::Ctrl(b'x')));
    assert_eq!(e.args, "single");
}

#[test]
fn long_lines_scroll_horizontally_in_the_editor() {
    let long = "x".repeat(200);
    let cfg = format!("set timeout=-1\nmenuentry 'long' {{ linux /boot/vmlinuz-6.1 a={long}z }}\n");
    let m = grub_menu(&cfg);
    let mut t = T::new(&m, Auth::default());
    t.keys(&[Key::Char('e'), Key::Down]);
    let text = t.text();
    let line = text.lines().nth(5).unwrap();
    assert_eq!(line.len(), 79);
    assert!(line.contains("| linux /boot/vmlinuz-6.1 a=xxx"));
    assert!(line.ends_with(">|"), "{line}");
    t.key(Key::End);
    let text = t.text();
    let line = text.lines().nth(5).unwrap();
    assert!(line.starts_with(" |<"), "{line}");
    assert!(line.contains("xxxz"));
    let (row, col) = t.screen().cursor.unwrap();
    assert_eq!(row, 5);
    assert!(col > 70 && col < 78, "{col}");
    t.typed(" b");
    assert!(booted(t.key(Key::Ctrl(b'x'))).args.ends_with("xz b"));
}

#[test]
fn append_edits_the_kernel_arguments() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.key(Key::Char('a'));
    let text = t.text();
    assert!(
        text.contains("grub append> root=UUID=abcd ro quiet"),
        "{text}"
    );
    t.typed(" single");
    let e = booted(t.key(Key::Enter));
    assert_eq!(e.args, "root=UUID=abcd ro quiet single");
    assert_eq!(e.title, "Debian GNU/Linux");
    // Esc goes back; `a` on a submenu does nothing.
    let mut t = T::new(&m, Auth::default());
    t.keys(&[Key::Char('a'), Key::Esc, Key::Down, Key::Char('a')]);
    assert!(matches!(t.st.mode(), Mode::Menu));
}

#[test]
fn command_line() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.key(Key::Char('c'));
    let text = t.text();
    assert!(
        text.contains("Minimal BASH-like line editing is supported."),
        "{text}"
    );
    assert!(text.ends_with("grub>"));
    t.typed("ls");
    t.key(Key::Enter);
    assert!(t.text().contains("(hd0) (hd0,gpt1) (hd0,gpt2)"));
    t.typed("ls /boot");
    t.key(Key::Enter);
    assert!(
        t.text().contains("initrd.img-6.1 vmlinuz-6.1 xen.gz"),
        "{}",
        t.text()
    );
    t.typed("cat /etc/hostname");
    t.key(Key::Enter);
    assert!(t.text().contains("\nguest\n"));
    t.typed("frobnicate");
    t.key(Key::Enter);
    assert!(t.text().contains("error: can't find command `frobnicate'."));
    t.typed("boot");
    t.key(Key::Enter);
    assert!(t
        .text()
        .contains("error: you need to load the kernel first."));
    t.typed("linux /boot/nope");
    t.key(Key::Enter);
    assert!(t.text().contains("error: file `/boot/nope' not found."));
    t.typed("linux /boot/vmlinuz-6.1 root=/dev/xvda1 'console=hvc0 x'");
    t.key(Key::Enter);
    t.typed("initrd /boot/initrd.img-6.1");
    t.key(Key::Enter);
    // History.
    t.keys(&[Key::Up, Key::Up]);
    assert!(t
        .text()
        .ends_with("grub> linux /boot/vmlinuz-6.1 root=/dev/xvda1 'console=hvc0 x'"));
    t.keys(&[Key::Ctrl(b'a'), Key::Ctrl(b'k')]);
    t.typed("boot");
    let e = booted(t.key(Key::Enter));
    assert_eq!(e.kernel.unwrap().path, "/boot/vmlinuz-6.1");
    assert_eq!(e.initrds[0].path, "/boot/initrd.img-6.1");
    assert_eq!(e.args, "root=/dev/xvda1 \"console=hvc0 x\"");

    // exit and Esc return to the menu.
    let mut t = T::new(&m, Auth::default());
    t.keys(&[Key::Char('c')]);
    t.typed("exit");
    t.key(Key::Enter);
    assert!(matches!(t.st.mode(), Mode::Menu));
    t.keys(&[Key::Char('c'), Key::Esc]);
    assert!(matches!(t.st.mode(), Mode::Menu));
    // From the editor, Ctrl-C opens it and Esc goes back to the editor.
    t.keys(&[Key::Char('e'), Key::Ctrl(b'c')]);
    assert!(t.text().contains("ESC returns to the entry editor"));
    t.key(Key::Esc);
    assert!(matches!(t.st.mode(), Mode::Editor { .. }));
}

#[test]
fn boot_errors_are_shown_and_the_menu_comes_back() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.keys(&[Key::End]);
    assert_eq!(t.key(Key::Enter), Outcome::Continue);
    let text = t.text();
    assert!(
        text.starts_with("error: file `/boot/vmlinuz-gone' not found."),
        "{text}"
    );
    assert!(text.contains("Press any key to continue..."));
    t.key(Key::Char(' '));
    assert_eq!(t.highlighted(), "*Missing kernel");
    // A Xen hypervisor entry cannot boot in a guest: an error, in the menu or the editor.
    t.key(Key::Up);
    t.key(Key::Enter);
    assert!(t.text().contains("is not a Linux entry"));
    t.key(Key::Enter);
    t.key(Key::Char('e'));
    let text = t.text();
    assert!(
        text.contains("| multiboot2 /boot/xen.gz placeholder dom0_mem=1G"),
        "{text}"
    );
    assert_eq!(t.key(Key::Ctrl(b'x')), Outcome::Continue);
    assert!(t.text().contains("is not a Linux entry"));
    // With its commands replaced by linux and initrd, it boots.
    t.keys(&[Key::Down, Key::Ctrl(b'k')]);
    t.typed("linux /boot/vmlinuz-6.1 root=UUID=abcd ro");
    t.keys(&[
        Key::Down,
        Key::Ctrl(b'a'),
        Key::Ctrl(b'k'),
        Key::Down,
        Key::Ctrl(b'a'),
    ]);
    t.key(Key::Ctrl(b'k'));
    t.typed("initrd /boot/initrd.img-6.1");
    let e = booted(t.key(Key::Ctrl(b'x')));
    assert_eq!(e.args, "root=UUID=abcd ro");
    assert_eq!(e.initrds[0].path, "/boot/initrd.img-6.1");
}

#[test]
fn timeout_falls_back_when_the_default_cannot_boot() {
    let mut m = grub_menu(&CFG.replace("set default=0", "set default=3"));
    m.fallback = vec![vec![0]];
    let mut t = T::new(&m, Auth::default());
    assert_eq!(booted(t.ticks(50)).title, "Debian GNU/Linux");
    m.fallback.clear();
    let mut t = T::new(&m, Auth::default());
    assert_eq!(t.ticks(50), Outcome::Continue);
    assert!(t
        .text()
        .contains("error: file `/boot/vmlinuz-gone' not found."));
}

const LEGACY: &str = "default 0\ntimeout 5\npassword --md5 $1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\n\
title Debian\n root (hd0,0)\n kernel /boot/vmlinuz-6.1 root=/dev/xvda1 ro\n initrd /boot/initrd.img-6.1\n\
title Other\n kernel /boot/vmlinuz-6.1 other\n";

#[test]
fn legacy_password_unlocks_editing() {
    let m = rsgrub_bootcfg::parse_legacy(LEGACY.as_bytes(), "/boot/grub/menu.lst", &mut files())
        .unwrap();
    let auth = Auth::from_menu(&m);
    assert!(auth.legacy.is_some());
    let mut t = T::new(&m, auth);
    let text = t.text();
    assert!(
        text.contains("Press enter to boot the selected OS or `p' to enter a password"),
        "{text}"
    );
    // e, a, c do nothing until the password is given.
    t.keys(&[Key::Char('e'), Key::Char('c'), Key::Char('a')]);
    assert!(matches!(t.st.mode(), Mode::Menu));
    t.key(Key::Char('p'));
    t.typed("wrong");
    assert!(t.text().contains("Password: *****"));
    t.key(Key::Enter);
    assert!(t.text().starts_with("Failed!"));
    t.key(Key::Enter);
    t.key(Key::Char('p'));
    t.typed("password");
    t.key(Key::Enter);
    let text = t.text();
    assert!(text.contains("`e' to edit the commands"), "{text}");
    t.key(Key::Char('e'));
    assert!(t.text().contains("| set root=hd0,msdos1"), "{}", t.text());
    t.key(Key::Esc);
    // Booting never needed it.
    assert_eq!(booted(t.key(Key::Enter)).title, "Debian");
}

#[test]
fn legacy_lock() {
    // `lock` in the second entry, as menu.lst writes it.
    let cfg = LEGACY.replace("title Other\n", "title Other\n lock\n");
    let m =
        rsgrub_bootcfg::parse_legacy(cfg.as_bytes(), "/boot/grub/menu.lst", &mut files()).unwrap();
    let auth = Auth::from_menu(&m);
    assert_eq!(auth.legacy_locked, [vec![1]].into_iter().collect());
    // The unlocked entry boots without the password.
    let mut t = T::new(&m, auth.clone());
    assert_eq!(booted(t.key(Key::Enter)).title, "Debian");
    let mut t = T::new(&m, auth);
    t.key(Key::Down);
    t.key(Key::Enter);
    assert!(t.text().starts_with("Error 32: Must be authenticated"));
    t.key(Key::Enter);
    t.key(Key::Char('p'));
    t.typed("password");
    t.key(Key::Enter);
    assert_eq!(booted(t.key(Key::Enter)).title, "Other");
}

fn grub2_auth() -> Auth {
    let mut a = Auth::default();
    a.grub2.superusers = Some("root".into());
    a.grub2.users = vec![
        (
            "root".into(),
            // grub-mkpasswd-pbkdf2 -c 1000 -l 64 -s 16, password `hunter2`.
            Credential::Pbkdf2(
                "grub.pbkdf2.sha512.1000.6891734F31EDF134002165F9FAF0220A.\
                 3AEF62E1AC4F6F1E23B240EE59BF1EF49D36BF085CBDC1D295BB661FC5D69196\
                 C693BED93B5F7C7EBF068880AEB8CB87A434B8C991D6983F8F19FE487F51AA3C"
                    .into(),
            ),
        ),
        ("alice".into(), Credential::Plain("wonder".into())),
    ];
    // Entry 0 --unrestricted, the submenu --users alice; the rest superusers only.
    a.grub2.access.insert(vec![0], None);
    a.grub2.access.insert(vec![1], Some("alice".into()));
    a.grub2.access.insert(vec![1, 0], Some("alice".into()));
    a
}

#[test]
fn grub2_passwords_as_grub_enforces_them() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, grub2_auth());
    // --unrestricted boots without a question.
    assert_eq!(booted(t.key(Key::Enter)).title, "Debian GNU/Linux");

    // Editing needs a superuser.
    let mut t = T::new(&m, grub2_auth());
    t.key(Key::Char('e'));
    assert_eq!(t.text(), "Enter username:");
    t.typed("alice");
    t.key(Key::Enter);
    t.typed("wonder");
    assert_eq!(t.text(), "Enter username: alice\nEnter password:");
    t.key(Key::Enter);
    assert!(t.text().starts_with("error: access denied."));
    // GRUB's delay: keys are ignored for a second.
    t.key(Key::Enter);
    assert!(t.text().starts_with("error: access denied."));
    t.ticks(10);
    t.key(Key::Enter);
    assert!(matches!(t.st.mode(), Mode::Menu));
    // alice may open the submenu and boot its first entry, without asking again...
    t.key(Key::Down);
    t.key(Key::Enter);
    assert!(
        t.text().contains("*Debian GNU/Linux, with Linux 6.1"),
        "{}",
        t.text()
    );
    assert!(booted(t.key(Key::Enter)).title.ends_with("with Linux 6.1"));
    // ... but not the recovery entry (superusers only).
    let mut t = T::new(&m, grub2_auth());
    t.keys(&[Key::Down, Key::Enter]);
    assert!(t.text().starts_with("Enter username:"));
    t.typed("alice");
    t.key(Key::Enter);
    t.typed("wonder");
    t.key(Key::Enter);
    t.key(Key::Down);
    t.key(Key::Enter);
    assert!(t.text().starts_with("Enter username:"), "{}", t.text());
    t.typed("root");
    t.key(Key::Enter);
    t.typed("hunter2");
    let e = booted(t.key(Key::Enter));
    assert!(e.title.ends_with("(recovery mode)"));
}

#[test]
fn grub2_superuser_edits_and_timeout_asks_for_restricted_default() {
    let m = grub_menu(&CFG.replace("set default=0", "set default=2"));
    let mut t = T::new(&m, grub2_auth());
    // The countdown reaches a restricted default: GRUB asks.
    assert_eq!(t.ticks(50), Outcome::Continue);
    assert_eq!(t.text(), "Enter username:");
    t.typed("root");
    t.key(Key::Enter);
    t.typed("hunter2");
    // The default is the Xen entry: not bootable here, so an error, then the menu.
    t.key(Key::Enter);
    assert!(t.text().contains("is not a Linux entry"));
    t.key(Key::Enter);
    // Now authenticated: `c` and `e` open without asking.
    t.key(Key::Char('c'));
    assert!(t.text().ends_with("grub>"));
    t.key(Key::Esc);
    t.key(Key::Char('e'));
    assert!(matches!(t.st.mode(), Mode::Editor { .. }));
    // Esc at the username prompt is a denial too.
    let mut t = T::new(&m, grub2_auth());
    t.keys(&[Key::Up, Key::Up, Key::Char('c'), Key::Esc]);
    assert!(t.text().starts_with("error: access denied."));
}

#[test]
fn grub2_users_come_from_the_parser() {
    let hash = "grub.pbkdf2.sha512.1000.6891734F31EDF134002165F9FAF0220A.\
                3AEF62E1AC4F6F1E23B240EE59BF1EF49D36BF085CBDC1D295BB661FC5D69196\
                C693BED93B5F7C7EBF068880AEB8CB87A434B8C991D6983F8F19FE487F51AA3C";
    let body = CFG
        .replace("--id simple", "--id simple --unrestricted")
        .replace(
            "submenu 'Advanced options for Debian GNU/Linux'",
            "submenu 'Advanced' --users alice",
        );
    let cfg = format!(
        "set timeout=-1\nset superusers=\"root\"\npassword alice wonder\npassword_pbkdf2 root {hash}\n{body}"
    );
    let m = grub_menu(&cfg);
    let auth = Auth::from_menu(&m);
    assert_eq!(auth.grub2.superusers.as_deref(), Some("root"));
    assert_eq!(auth.grub2.access.get(&vec![0]), Some(&None));
    assert_eq!(
        auth.grub2.access.get(&vec![1]),
        Some(&Some("alice".to_string()))
    );
    assert_eq!(auth.grub2.access.get(&vec![2]), None);
    assert!(auth.grub2_login("root", "hunter2") && auth.grub2_login("alice", "wonder"));
    let mut t = T::new(&m, auth);
    // The submenu asks; alice may open it.
    t.key(Key::Down);
    t.key(Key::Enter);
    assert_eq!(t.text(), "Enter username:");
    t.typed("alice");
    t.key(Key::Enter);
    t.typed("wonder");
    t.key(Key::Enter);
    assert!(
        t.text().contains("*Debian GNU/Linux, with Linux 6.1"),
        "{}",
        t.text()
    );
    // The editor asks for a superuser.
    t.key(Key::Char('e'));
    assert_eq!(t.text(), "Enter username:");
    t.typed("root");
    t.key(Key::Enter);
    t.typed("hunter2");
    t.key(Key::Enter);
    assert!(matches!(t.st.mode(), Mode::Editor { .. }));
    t.keys(&[Key::Esc, Key::Esc, Key::Up]);
    // The --unrestricted entry boots without a question.
    assert_eq!(booted(t.key(Key::Enter)).title, "Debian GNU/Linux");
    // Without superusers nothing is asked.
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::from_menu(&m));
    t.key(Key::Char('e'));
    assert!(matches!(t.st.mode(), Mode::Editor { .. }));
    // `set superusers=""`: authentication on with nobody a superuser — the editor asks and
    // no login can pass; an --unrestricted entry still boots.
    let body = CFG.replace("--id simple", "--id simple --unrestricted");
    let m = grub_menu(&format!(
        "set superusers=\"\"\npassword alice wonder\n{body}"
    ));
    let auth = Auth::from_menu(&m);
    assert_eq!(auth.grub2.superusers.as_deref(), Some(""));
    let mut t = T::new(&m, auth);
    t.key(Key::Char('e'));
    assert_eq!(t.text(), "Enter username:");
    t.typed("alice");
    t.key(Key::Enter);
    t.typed("wonder");
    t.key(Key::Enter);
    assert!(!matches!(t.st.mode(), Mode::Editor { .. }));
}

#[test]
fn empty_superusers_lock_what_is_not_unrestricted() {
    let body = CFG.replace("--id simple", "--id simple --unrestricted");
    let m = grub_menu(&format!("set superusers=\"\"\n{body}"));
    let mut t = T::new(&m, Auth::from_menu(&m));
    t.key(Key::Down);
    t.key(Key::Enter);
    assert_eq!(
        t.text(),
        "Enter username:",
        "the submenu is superusers-only"
    );
    t.keys(&[Key::Esc, Key::Esc]);
    let mut t = T::new(&m, Auth::from_menu(&m));
    assert_eq!(booted(t.key(Key::Enter)).title, "Debian GNU/Linux");
}

#[test]
fn unicode_terminals_get_box_drawing() {
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    t.profile = Profile::new("xterm-256color", "en_US.UTF-8");
    let text = t.text();
    assert!(text.contains("┌───"), "{text}");
    assert!(text.contains("│*Debian GNU/Linux"));
    assert!(text.contains("Use the ↑ and ↓ keys"));
}

#[test]
fn hostile_titles_cannot_drive_the_terminal() {
    let cfg = "set timeout=-1\nmenuentry \"evil \x1b]0;pwned\x07\x1b[2J\u{9b}31m\" { linux /boot/vmlinuz-6.1 }\n";
    let m = grub_menu(cfg);
    let t = T::new(&m, Auth::default());
    let bytes = render::Writer::new(t.profile).frame(&t.screen(), true);
    let s = String::from_utf8(bytes).unwrap();
    // Only our own control sequences: one clear screen, no OSC, no BEL, no C1.
    assert!(!s.contains('\x07') && !s.contains("\x1b]") && !s.contains('\u{9b}'));
    assert_eq!(s.matches("\x1b[2J").count(), 1);
    assert!(t.text().contains("evil ?]0;pwned??[2J?31m"), "{}", t.text());
}

#[test]
fn capture_for_the_docs() {
    // Regenerates docs/menu.md's captures when RSGRUB_MENU_CAPTURE is set.
    let m = grub_menu(CFG);
    let mut t = T::new(&m, Auth::default());
    let main = t.text();
    t.key(Key::Char('e'));
    let editor = t.text();
    assert!(main.contains("Advanced options") && editor.contains("linux /boot/vmlinuz-6.1"));
    if let Ok(p) = std::env::var("RSGRUB_MENU_CAPTURE") {
        std::fs::write(p, format!("{main}\n\n---\n\n{editor}\n")).unwrap();
    }
}
