//! Hostile input: random token soup and byte noise must give a menu or an error — never a
//! panic, a hang or unbounded work — in every parser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use rsgrub_bootcfg::{
    eval_entry_commands, parse_grub2, parse_legacy, parse_lilo, parse_netbsd_bootcfg,
    parse_syslinux, parse_systemd_boot, MapSource, Menu,
};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const GRUB_TOKENS: &[&str] = &[
    "menuentry",
    "submenu",
    "'t'",
    "\"t $x\"",
    "{",
    "}",
    "\n",
    ";",
    "if",
    "then",
    "elif",
    "else",
    "fi",
    "while",
    "until",
    "do",
    "done",
    "for",
    "in",
    "function",
    "f",
    "f()",
    "[",
    "]",
    "-f",
    "-z",
    "=",
    "!",
    "set",
    "x=1",
    "x=$x$x",
    "$x",
    "${x}",
    "$1",
    "$@",
    "\"$@\"",
    "$#",
    "$?",
    "linux",
    "/k",
    "initrd",
    "multiboot",
    "module",
    "source",
    "/s.cfg",
    "configfile",
    "load_env",
    "search",
    "--set=root",
    "-u",
    "export",
    "unset",
    "return",
    "break",
    "continue",
    "shift",
    "eval",
    "true",
    "false",
    "\\",
    "'",
    "\"",
    "#",
    "|",
    "&&",
    ">",
    "(hd0,1)/x",
    "default=1>0",
    "timeout=5",
    "--id",
    "--class",
    "exit",
    "boot",
    "chainloader",
    "x",
];

const LEGACY_TOKENS: &[&str] = &[
    "title",
    "root",
    "(hd0,0)",
    "(hd",
    "kernel",
    "initrd",
    "module",
    "default",
    "saved",
    "timeout",
    "fallback",
    "hiddenmenu",
    "password",
    "--md5",
    "=",
    " ",
    "\t",
    "\n",
    "\\\n",
    "#",
    "/vmlinuz",
    "0",
    "99999999999999999999",
    "chainloader",
    "+1",
    "kernel$",
    "--type=multiboot",
];

const SYSLINUX_TOKENS: &[&str] = &[
    "LABEL",
    "KERNEL",
    "LINUX",
    "APPEND",
    "INITRD",
    "DEFAULT",
    "ONTIMEOUT",
    "TIMEOUT",
    "UI",
    "MENU",
    "BEGIN",
    "END",
    "LABEL",
    "DEFAULT",
    "HIDE",
    "INCLUDE",
    "/a.cfg",
    "b.cfg",
    "TEXT",
    "HELP",
    "ENDTEXT",
    "mboot.c32",
    "---",
    "initrd=",
    "a,b",
    "-",
    " ",
    "\n",
    "\r",
    "#",
    "x",
    "menu.c32",
    "PROMPT",
    "0",
    "1",
    "^",
    "SEPARATOR",
    "EXIT",
];

fn soup(rng: &mut Rng, tokens: &[&str], n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(tokens));
        s.push(if rng.next() & 3 == 0 { '\n' } else { ' ' });
    }
    s
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    for i in 0..600 {
        let n = 5 + (rng.next() % 120) as usize;
        let g = soup(&mut rng, GRUB_TOKENS, n);
        let inc = soup(&mut rng, GRUB_TOKENS, 20);
        let mut src = MapSource::default().with("/s.cfg", inc.into_bytes()).with(
            "/boot/grub/grubenv",
            b"# GRUB Environment Block\nx=1\n".to_vec(),
        );
        let _ = parse_grub2(g.as_bytes(), "/boot/grub/grub.cfg", &mut src);

        let l = soup(&mut rng, LEGACY_TOKENS, n);
        let _ = parse_legacy(
            l.as_bytes(),
            "/boot/grub/menu.lst",
            &mut MapSource::default(),
        );

        let s = soup(&mut rng, SYSLINUX_TOKENS, n);
        let inc = soup(&mut rng, SYSLINUX_TOKENS, 30);
        let mut src = MapSource::default()
            .with("/a.cfg", inc.clone().into_bytes())
            .with("/boot/b.cfg", inc.into_bytes());
        let _ = parse_syslinux(s.as_bytes(), "/boot/syslinux.cfg", &mut src);
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "iteration {i}: too slow"
        );
    }
}

#[test]
fn byte_noise_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..300 {
        let len = (rng.next() % 2000) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let _ = parse_grub2(&bytes, "/boot/grub/grub.cfg", &mut MapSource::default());
        let _ = parse_legacy(&bytes, "/boot/grub/menu.lst", &mut MapSource::default());
        let _ = parse_syslinux(&bytes, "/syslinux.cfg", &mut MapSource::default());
    }
}

#[test]
fn hostile_strings_stay_data() {
    // Quotes, parentheses, NUL-free control characters and code-like text pass through as
    // data; a huge argument is kept whole (the caller enforces Xen's command-line limit).
    let long = "x".repeat(5000);
    let cfg = format!(
        "menuentry \"$(reboot)\" {{ linux '/../../etc/shadow' \"a'b\" ')(' `id` {long} }}\n"
    );
    let m = parse_grub2(
        cfg.as_bytes(),
        "/boot/grub/grub.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.title, "$(reboot)");
    assert_eq!(e.kernel.as_ref().unwrap().path, "/../../etc/shadow");
    assert!(e.args.starts_with(r"a\'b )( `id` xxx"), "{}", e.args);
    assert_eq!(e.args.len(), "a\\'b )( `id` ".len() + 5000);
}

const BLS_TOKENS: &[&str] = &[
    "title",
    "version",
    "machine-id",
    "sort-key",
    "linux",
    "initrd",
    "options",
    "efi",
    "uki",
    "devicetree",
    "architecture",
    "x64",
    "aa64",
    "grub_users",
    "grub_arg",
    "grub_class",
    "$kernelopts",
    "$",
    "\\$x",
    "$x$",
    "/vmlinuz",
    "\"",
    "\"q\"",
    "#",
    " ",
    "\t",
    "\n",
    "\n\n",
    "\r",
    "1.0~rc1",
    "5.18.0-1",
    "+",
    "-",
    "^",
    "default",
    "timeout",
    "menu-force",
    "*",
    "[a-",
    "?",
    "@saved",
];

const LILO_TOKENS: &[&str] = &[
    "image",
    "other",
    "label",
    "alias",
    "append",
    "addappend",
    "literal",
    "root",
    "initrd",
    "read-only",
    "read-write",
    "ramdisk",
    "default",
    "timeout",
    "delay",
    "prompt",
    "=",
    "\"",
    "\\",
    "\\\n",
    "#",
    " ",
    "\t",
    "\n",
    "/vmlinuz",
    "0x10",
    "$HOME",
    "${X}",
    "current",
    "range",
    "vga=1",
];

const NETBSD_TOKENS: &[&str] = &[
    "menu=",
    "default=",
    "timeout=",
    "load=",
    "format=n",
    "banner=",
    "boot",
    "multiboot",
    "load",
    "prompt",
    ":",
    ";",
    " ",
    "\n",
    "#",
    "-s",
    "-",
    "hd0a:",
    "netbsd",
    "/xen.gz",
    "-1",
    "99999999999999999999",
    "menux=",
    "consdev com0",
];

fn check(m: &Menu) {
    if let Some(p) = &m.default {
        assert!(m.entry(p).is_some(), "default {p:?} is not an entry");
    }
    assert!(m.warnings.len() <= 1000);
}

#[test]
fn new_languages_token_soup() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let start = Instant::now();
    for i in 0..400 {
        let n = 5 + (rng.next() % 100) as usize;
        // systemd-boot and blscfg over the same random entry files.
        let mut src = MapSource::default().with("/vmlinuz", b"k".to_vec());
        for k in 0..(rng.next() % 6) {
            let body = soup(&mut rng, BLS_TOKENS, n);
            let name = format!(
                "/loader/entries/{}-{k}.conf",
                rng.pick(&["a", "b+1-2", "auto-x", ".h"])
            );
            src = src.with(&name, body.into_bytes());
        }
        let conf = soup(&mut rng, BLS_TOKENS, 10);
        if let Ok(m) = parse_systemd_boot(conf.as_bytes(), "/loader/loader.conf", &mut src) {
            check(&m);
        }
        let g = format!(
            "set x=1\nset kernelopts='ro'\nblscfg\n{}\nblscfg\n",
            rng.pick(&["", "blscfg default", "blscfg x"])
        );
        let m = parse_grub2(g.as_bytes(), "/grub2/grub.cfg", &mut src).unwrap();
        check(&m);
        // Editing any entry: a result or an error.
        if let Some((_, e)) = m.entries().first() {
            let mut edited = e.source.clone();
            edited.push(soup(&mut rng, GRUB_TOKENS, 10));
            let _ = eval_entry_commands(&e.title, &edited, &m, &mut src);
        }

        let l = soup(&mut rng, LILO_TOKENS, n);
        if let Ok(m) = parse_lilo(l.as_bytes(), "/etc/lilo.conf", &mut MapSource::default()) {
            check(&m);
        }
        let b = soup(&mut rng, NETBSD_TOKENS, n).replace(' ', "");
        if let Ok(m) = parse_netbsd_bootcfg(b.as_bytes(), "/boot.cfg", &mut MapSource::default()) {
            check(&m);
            assert!(!m.items.is_empty() && m.items.len() <= 20);
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "iteration {i}: too slow"
        );
    }
}

#[test]
fn new_languages_byte_noise() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let len = (rng.next() % 2000) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let mut src = MapSource::default()
            .with("/loader/entries/x.conf", bytes.clone())
            .with("/vmlinuz", b"k".to_vec());
        check(&parse_systemd_boot(&bytes, "/loader/loader.conf", &mut src).unwrap());
        check(&parse_grub2(b"blscfg\n", "/grub.cfg", &mut src).unwrap());
        if let Ok(m) = parse_lilo(&bytes, "/etc/lilo.conf", &mut MapSource::default()) {
            check(&m);
        }
        check(&parse_netbsd_bootcfg(&bytes, "/boot.cfg", &mut MapSource::default()).unwrap());
        let lines: Vec<String> = String::from_utf8_lossy(&bytes)
            .split('\n')
            .map(str::to_string)
            .collect();
        let _ = eval_entry_commands(
            "t",
            &lines,
            &Menu::new(rsgrub_bootcfg::ConfigKind::Grub2),
            &mut src,
        );
    }
}
