//! What the menu editor needs: every entry's source as GRUB 2's editor shows it, running
//! edited commands ([`eval_entry_commands`]), the menu's final variables, and GRUB 2's
//! users and passwords. Expected values follow GRUB's `menuentry.c` (the stored source is
//! `setparams 'TITLE' ...` + the body), `menu_entry.c` (the editor runs it in the menu's
//! context) and `auth.c` / `password*.c`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{
    eval_entry_commands, parse_grub2, parse_legacy, parse_syslinux, EntryKind, Item, MapSource,
    Menu, PasswordKind, SearchKind,
};

const CFG: &str = "/boot/grub/grub.cfg";

fn menu(src: &str) -> Menu {
    parse_grub2(src.as_bytes(), CFG, &mut MapSource::default()).unwrap_or_else(|e| panic!("{e}"))
}

const DEBIAN: &str = "set root='hd0,msdos1'
set kernelopts='root=/dev/vda1 ro'
export kernelopts
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --id gnulinux-simple-abc {
\tload_video
\tinsmod gzio
\tif [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi

\tset root='hd0,msdos2'
\techo\t'Loading Linux 6.1.0-13-amd64 ...'
\tlinux\t/boot/vmlinuz-6.1.0-13-amd64 root=UUID=abc ro  quiet
\techo\t'Loading initial ramdisk ...'
\tinitrd\t/boot/initrd.img-6.1.0-13-amd64
}
";

#[test]
fn grub2_source_is_setparams_and_the_body() {
    let m = menu(DEBIAN);
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.source,
        lines(&[
            "setparams 'Debian GNU/Linux'",
            "load_video",
            "insmod gzio",
            "if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi",
            "",
            "set root='hd0,msdos2'",
            "echo\t'Loading Linux 6.1.0-13-amd64 ...'",
            "linux\t/boot/vmlinuz-6.1.0-13-amd64 root=UUID=abc ro  quiet",
            "echo\t'Loading initial ramdisk ...'",
            "initrd\t/boot/initrd.img-6.1.0-13-amd64",
        ])
    );
    // Extra arguments are parameters too, quoted as GRUB quotes them.
    let m = menu("menuentry \"it's\" 'a b' c { linux /k $2 $3 }\n");
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.source,
        lines(&["setparams 'it'\\''s' 'a b' 'c'", "linux /k $2 $3"])
    );
    assert_eq!(e.args, "a b c");
}

#[test]
fn edited_commands_run_in_the_menus_context() {
    let m = menu(DEBIAN);
    assert_eq!(m.global("root"), Some("hd0,msdos1"));
    assert_eq!(m.global("kernelopts"), Some("root=/dev/vda1 ro"));
    let e = m.entry(&[0]).unwrap();
    // Unchanged: the same entry back.
    let back = eval_entry_commands(&e.title, &e.source, &m, &mut MapSource::default()).unwrap();
    assert_eq!(
        (
            &back.kernel,
            &back.initrds,
            &back.args,
            &back.root,
            back.kind
        ),
        (&e.kernel, &e.initrds, &e.args, &e.root, EntryKind::Linux)
    );
    assert_eq!(back.title, "Debian GNU/Linux");
    assert_eq!(back.source, e.source);
    // Edited: another root, a global variable, an extra argument, no initrd.
    let edited = lines(&[
        "setparams 'Debian GNU/Linux'",
        "linux /boot/vmlinuz-6.1.0-13-amd64 $kernelopts single",
    ]);
    let x =
        eval_entry_commands("Debian GNU/Linux", &edited, &m, &mut MapSource::default()).unwrap();
    assert_eq!(kernel(&x), "/boot/vmlinuz-6.1.0-13-amd64");
    assert_eq!(x.args, "root=/dev/vda1 ro single");
    // $root as the menu left it.
    assert_eq!(x.root.as_deref(), Some("hd0,msdos1"));
    assert!(x.initrds.is_empty());
    // `$1` is the title even without the setparams line.
    let x = eval_entry_commands(
        "T",
        &lines(&["linux /k title=$1"]),
        &m,
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(x.args, "title=T");
}

#[test]
fn edited_commands_search_files_and_errors() {
    let m = menu("set prefix=/boot/grub\n");
    let mut src =
        Src::new(MapSource::default().with("/boot/grub/extra.cfg", b"set extra=yes\n".to_vec()))
            .search(SearchKind::Label, "BOOT", "hd1,msdos1");
    let x = eval_entry_commands(
        "x",
        &lines(&[
            "search --no-floppy --label --set=root BOOT",
            "source $prefix/extra.cfg",
            "linux /vmlinuz extra=$extra",
            "initrd /initrd.img (hd0)/early.img",
        ]),
        &m,
        &mut src,
    )
    .unwrap();
    assert_eq!(x.root.as_deref(), Some("hd1,msdos1"));
    assert_eq!(kernel(&x), "/vmlinuz");
    assert_eq!(x.args, "extra=yes");
    assert_eq!(initrds(&x), ["/initrd.img", "(hd0)/early.img"]);
    // A syntax error is an error, with its line.
    let e =
        eval_entry_commands("x", &lines(&["linux /k", "if true; then"]), &m, &mut src).unwrap_err();
    assert_eq!(e.file, "(edited entry)");
    assert_eq!(e.line, 2);
    // Another menu cannot be opened from an edited entry.
    let mut src = MapSource::default().with("/other.cfg", b"menuentry o { linux /o }\n".to_vec());
    let e = eval_entry_commands("x", &lines(&["configfile /other.cfg"]), &m, &mut src).unwrap_err();
    assert!(e.msg.contains("configfile"), "{e}");
    // Limits still apply.
    let e = eval_entry_commands("x", &lines(&["while true; do; done"]), &m, &mut src).unwrap_err();
    assert!(e.msg.contains("commands"), "{e}");
}

#[test]
fn globals_come_from_the_configfile_that_replaced_the_menu() {
    let mut src = MapSource::default().with(
        "/boot/grub/real.cfg",
        b"set inner=1\nmenuentry r { linux /r $inner }\n".to_vec(),
    );
    let m = parse_grub2(
        b"set outer=1\nexport outer\nconfigfile /boot/grub/real.cfg\n",
        CFG,
        &mut src,
    )
    .unwrap();
    assert_eq!(titles(&m.items), ["r"]);
    assert_eq!(m.global("inner"), Some("1"));
    // Exported into the configfile's context.
    assert_eq!(m.global("outer"), Some("1"));
    assert_eq!(m.global("config_file"), Some("/boot/grub/real.cfg"));
}

#[test]
fn users_passwords_and_superusers() {
    let m = menu(
        "set superusers=\"root,admin ops\"
password admin secret
password_pbkdf2 root grub.pbkdf2.sha512.10000.0A1B.C2D3E4
password admin changed
password_pbkdf2 bad grub.pbkdf2.sha512.10000.0A1.C2D3
password_pbkdf2 bad2 grub.pbkdf2.sha256.1.00.00
password lonely
menuentry open --unrestricted { linux /a }
menuentry locked { linux /b }
menuentry some --users=alice,bob { linux /c }
menuentry both --users alice --unrestricted { linux /d }
submenu sub --unrestricted { menuentry inner { password x y; linux /e } }
",
    );
    assert_eq!(
        m.superusers.as_deref(),
        Some(&["root", "admin", "ops"].map(String::from)[..])
    );
    assert_eq!(
        m.passwords,
        vec![
            ("admin".to_string(), PasswordKind::Plain("changed".into())),
            (
                "root".to_string(),
                PasswordKind::Pbkdf2("grub.pbkdf2.sha512.10000.0A1B.C2D3E4".into())
            ),
        ]
    );
    // An odd-length salt, another hash, a missing argument: GRUB refuses them.
    assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
    let access = |p: &[usize]| {
        let e = m.entry(p).unwrap();
        (e.users.clone(), e.unrestricted)
    };
    assert_eq!(access(&[0]), (None, true));
    assert_eq!(access(&[1]), (None, false));
    assert_eq!(access(&[2]), (Some(lines(&["alice", "bob"])), false));
    // `--users` wins over `--unrestricted`.
    assert_eq!(access(&[3]), (Some(lines(&["alice"])), false));
    match &m.items[4] {
        Item::Submenu(s) => {
            assert!(s.unrestricted);
            assert_eq!(s.users, None);
        }
        _ => panic!(),
    }
    // `password` inside an entry's body runs only when that entry boots: not recorded.
    assert!(m.passwords.iter().all(|(u, _)| u != "x"));
    // No superusers: the lists are empty.
    assert_eq!(menu("menuentry a { linux /a }\n").superusers, None);
    // Set but empty: authentication on, nobody a superuser.
    assert_eq!(
        menu("set superusers=\"\"\nmenuentry a { linux /a }\n").superusers,
        Some(vec![])
    );
}

#[test]
fn other_languages_get_grub2_commands() {
    let legacy = b"default 0
timeout 5
title CentOS (2.6.18-398.el5xen)
\troot (hd0,0)
\tkernel /vmlinuz-2.6.18-398.el5xen ro root=/dev/VolGroup00/LogVol00 console=xvc0
\tinitrd /initrd-2.6.18-398.el5xen.img
title Xen
\tkernel /xen.gz dom0_mem=512M
\tmodule /vmlinuz-2.6.18 ro root=/dev/sda1
\tmodule /initrd-2.6.18.img
";
    let m = parse_legacy(legacy, "/boot/grub/menu.lst", &mut MapSource::default()).unwrap();
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.source,
        lines(&[
            "set root=hd0,msdos1",
            "linux /vmlinuz-2.6.18-398.el5xen ro root=/dev/VolGroup00/LogVol00 console=xvc0",
            "initrd /initrd-2.6.18-398.el5xen.img",
        ])
    );
    let back = eval_entry_commands(&e.title, &e.source, &m, &mut MapSource::default()).unwrap();
    assert_eq!(
        (&back.kernel, &back.initrds, &back.args, &back.root),
        (&e.kernel, &e.initrds, &e.args, &e.root)
    );
    let x = m.entry(&[1]).unwrap();
    assert_eq!(x.kind, EntryKind::Multiboot);
    assert_eq!(
        x.source,
        lines(&[
            "multiboot /xen.gz dom0_mem=512M",
            "module /vmlinuz-2.6.18 ro root=/dev/sda1",
            "module /initrd-2.6.18.img",
        ])
    );
    let back = eval_entry_commands(&x.title, &x.source, &m, &mut MapSource::default()).unwrap();
    assert_eq!(back.kind, EntryKind::Multiboot);
    assert_eq!(back.modules, x.modules);
    // The dom0 kernel taken out of it describes itself.
    let pv = x.linux_from_modules().unwrap();
    assert_eq!(
        pv.source,
        lines(&[
            "linux /vmlinuz-2.6.18 ro root=/dev/sda1",
            "initrd /initrd-2.6.18.img"
        ])
    );

    let sys = b"DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n  INITRD initrd.gz,extra.gz\n  APPEND root=/dev/xvda1 console=hvc0 'quoted'\n";
    let m = parse_syslinux(
        sys,
        "/boot/extlinux/extlinux.conf",
        &mut MapSource::default(),
    )
    .unwrap();
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.source,
        lines(&[
            "linux /boot/extlinux/vmlinuz root=/dev/xvda1 console=hvc0 ''\\''quoted'\\'''",
            "initrd /boot/extlinux/initrd.gz /boot/extlinux/extra.gz",
        ])
    );
    let back = eval_entry_commands(&e.title, &e.source, &m, &mut MapSource::default()).unwrap();
    assert_eq!((&back.kernel, &back.initrds), (&e.kernel, &e.initrds));
    // GRUB's `linux` escapes the quote characters: `\'quoted\'`.
    assert_eq!(back.args, "root=/dev/xvda1 console=hvc0 \\'quoted\\'");
}

#[test]
fn source_text_is_bounded() {
    // 10,000 entries × ~2 KiB of body: more than the 8 MiB kept.
    let body = format!("linux /k {}", "x".repeat(2000));
    let cfg = format!(
        "for i in {}; do menuentry e {{ {body} }}; done\n",
        "1 ".repeat(5000)
    );
    let m = menu(&cfg);
    assert_eq!(m.items.len(), 5000);
    let kept: usize = m
        .entries()
        .iter()
        .filter(|(_, e)| !e.source.is_empty())
        .count();
    assert!(kept > 3000 && kept < 5000, "{kept}");
    assert!(
        m.warnings.iter().any(|w| w.contains("source text")),
        "{:?}",
        m.warnings
    );
    // The entries themselves are complete.
    assert!(m.entries().iter().all(|(_, e)| e.kernel.is_some()));
}
