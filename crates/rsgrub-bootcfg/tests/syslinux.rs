//! SYSLINUX / EXTLINUX / ISOLINUX configs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_syslinux, ConfigKind, EntryKind, Item, MapSource, Menu};

fn run(rel: &str, path: &str, src: &mut MapSource) -> Menu {
    parse_syslinux(&read(rel), path, src).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn text(t: &str) -> Menu {
    parse_syslinux(
        t.as_bytes(),
        "/boot/extlinux/extlinux.conf",
        &mut MapSource::default(),
    )
    .unwrap()
}

fn isolinux(dir: &str) -> Menu {
    let rel = format!("u-root/syslinux/{dir}/isolinux");
    let mut src = tree(&rel, "/isolinux");
    run(
        &format!("{rel}/isolinux.cfg"),
        "/isolinux/isolinux.cfg",
        &mut src,
    )
}

#[test]
fn alpine_extlinux() {
    let m = run(
        "xen-pygrub-examples/alpine-linux-2.3.2.extlinux",
        "/boot/extlinux.conf",
        &mut MapSource::default(),
    );
    assert_eq!(m.kind, ConfigKind::Syslinux);
    assert_eq!(titles(&m.items), ["Linux 3.0.10-grsec"]);
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.default_reason, "MENU DEFAULT");
    let e = default_entry(&m);
    assert_eq!(e.id.as_deref(), Some("grsec"));
    assert_eq!(e.kind, EntryKind::Linux);
    // Relative to the config's directory, /boot.
    assert_eq!(kernel(e), "/boot/vmlinuz-3.0.10-grsec");
    assert_eq!(initrds(e), ["/boot/initramfs-3.0.10-grsec"]);
    assert_eq!(
        e.args,
        "root=UUID=a97ffe64-430f-4fd3-830e-4736d9a27af0 modules=sd-mod,usb-storage,ext4 quiet"
    );
    // TIMEOUT is in tenths (PyGrub read it as seconds).
    assert_eq!(m.timeout_tenths, Some(30));
    assert!(m.hidden);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn petitboot_nested_includes() {
    let mut src = MapSource::default()
        .with(
            "/syslinux-include-nest-1.cfg",
            read("petitboot/syslinux-include-nest-1.cfg"),
        )
        .with(
            "/syslinux-include-nest-2.cfg",
            read("petitboot/syslinux-include-nest-2.cfg"),
        );
    let m = run(
        "petitboot/syslinux-include-root.cfg",
        "/syslinux-include-root.cfg",
        &mut src,
    );
    assert_eq!(
        titles(&m.items),
        ["floppy", "backup", "comboot", "com32", "boot", "bss", "linux"]
    );
    let kinds: Vec<EntryKind> = m.entries().iter().map(|(_, e)| e.kind).collect();
    use EntryKind::*;
    assert_eq!(kinds, [Other, Linux, Other, Other, Linux, Other, Linux]);
    // `DEFAULT boot` comes from the innermost include; no UI, PROMPT 0: boot at once.
    assert_eq!(m.default, Some(vec![4]));
    assert_eq!(m.default_reason, "DEFAULT boot");
    assert_eq!(m.timeout_tenths, Some(0));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/bzImage-boot");
    assert_eq!(initrds(e), ["/initrd-boot"]);
    assert_eq!(e.args, "root=/dev/sda");
    let b = m.entry(&[1]).unwrap();
    assert_eq!(
        (kernel(b).as_str(), b.args.as_str()),
        ("/backup/vmlinuz", "root=/dev/sdb")
    );
    assert_eq!(initrds(b), ["/boot/initrd"]);
    // LINUX with its own APPEND: the global `APPEND console=ttyS0` does not apply.
    assert_eq!(m.entry(&[6]).unwrap().args, "root=/dev/sdc");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn petitboot_missing_include_warns() {
    let m = run(
        "petitboot/syslinux-include-root.cfg",
        "/syslinux-include-root.cfg",
        &mut MapSource::default(),
    );
    assert_eq!(titles(&m.items), ["floppy", "backup", "comboot", "linux"]);
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    // DEFAULT never seen: first entry (here a floppy image).
    assert_eq!(m.default, Some(vec![0]));
}

#[test]
fn debian10_installer_tree() {
    let m = isolinux("debian_10_install");
    assert_eq!(
        titles(&m.items),
        [
            "Graphical install",
            "Install",
            "Advanced options/",
            "Accessible dark contrast installer menu/",
            "Help",
            "Install with speech synthesis"
        ]
    );
    // `default vesamenu.c32` (last DEFAULT) is the menu: MENU DEFAULT of the top menu.
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.default_reason, "MENU DEFAULT");
    // TIMEOUT 0: wait.
    assert_eq!(m.timeout_tenths, None);
    let e = default_entry(&m);
    assert_eq!(e.id.as_deref(), Some("installgui"));
    assert_eq!(kernel(e), "/install.amd/vmlinuz");
    assert_eq!(initrds(e), ["/install.amd/gtk/initrd.gz"]);
    // initrd= is taken out; the installer's `---` stays (it is not mboot.c32).
    assert_eq!(e.args, "vga=788 --- quiet");

    let adv = submenu(&m, &[2]);
    assert_eq!(adv.id.as_deref(), Some("advanced"));
    assert_eq!(
        titles(&adv.items),
        [
            "Graphical expert install",
            "Graphical rescue mode",
            "Graphical automated install",
            "Expert install",
            "Rescue mode",
            "Automated install",
            "Speech-enabled advanced options/"
        ]
    );
    assert_eq!(submenu(&m, &[2, 6]).items.len(), 3);
    let dark = submenu(&m, &[3]);
    assert_eq!(
        titles(&dark.items),
        ["Graphical install", "Install", "Advanced options/", "Help"]
    );
    assert_eq!(submenu(&m, &[3, 2]).items.len(), 6);
    // `label help` chains to another config: listed, not bootable.
    assert_eq!(m.entry(&[4]).unwrap().kind, EntryKind::Other);
    // Four included files are not on this image.
    assert_eq!(m.warnings.len(), 4, "{:?}", m.warnings);
    assert!(m.warnings.iter().all(|w| w.contains("file not found")));
}

#[test]
fn debian9_live_tree() {
    let m = isolinux("debian_9_install");
    assert_eq!(
        titles(&m.items),
        [
            "Debian GNU/Linux Live (kernel 4.9.0-3-amd64)",
            "Debian Live with Localisation Support/",
            "Graphical Debian Installer",
            "Debian Installer",
            "Debian Installer with Speech Synthesis"
        ]
    );
    // 76 languages; the `mainmenu` label is a MENU EXIT, not an entry.
    let loc = submenu(&m, &[1]);
    assert_eq!(loc.items.len(), 76);
    assert_eq!(loc.items[0].title(), "Albanian (sq)");
    assert_eq!(loc.items[75].title(), "Welsh (cy)");
    // No MENU DEFAULT: the first entry.
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/live/vmlinuz-4.9.0-3-amd64");
    assert_eq!(initrds(e), ["/live/initrd.img-4.9.0-3-amd64"]);
    assert_eq!(e.args, "boot=live components");
    let g = m.entry(&[2]).unwrap();
    assert_eq!(g.args, "append video=vesa:ywrap,mtrr vga=788");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn fedora27_live() {
    let m = isolinux("fedora_27_install");
    assert_eq!(
        titles(&m.items),
        [
            "Start Fedora-Workstation-Live 27",
            "Test this media & start Fedora-Workstation-Live 27",
            "Troubleshooting/"
        ]
    );
    assert_eq!(m.default, Some(vec![1]));
    assert_eq!(m.timeout_tenths, Some(600));
    assert!(!m.hidden, "`#menu hidden` is a comment");
    let e = default_entry(&m);
    assert_eq!(e.id.as_deref(), Some("check"));
    assert_eq!(kernel(e), "/isolinux/vmlinuz");
    assert_eq!(initrds(e), ["/isolinux/initrd.img"]);
    assert_eq!(
        e.args,
        "root=live:CDLABEL=Fedora-WS-Live-27-1-6 rd.live.image rd.live.check quiet"
    );
    let t = submenu(&m, &[2]);
    assert_eq!(
        titles(&t.items),
        [
            "Start Fedora-Workstation-Live 27 in basic graphics mode",
            "Run a memory test",
            "Boot from local drive"
        ]
    );
    assert_eq!(
        m.entry(&[2, 1]).unwrap().kernel,
        Some(f("/isolinux/memtest"))
    );
    assert_eq!(m.entry(&[2, 2]).unwrap().kind, EntryKind::Other);
}

#[test]
fn mboot_xen_entry() {
    let m = text(
        "DEFAULT xen\nLABEL xen\n  MENU LABEL ^Xen dom0\n  KERNEL mboot.c32\n  APPEND /xen.gz dom0_mem=512M --- vmlinuz-lts root=/dev/xvda1 quiet --- initramfs-lts --- /boot/ucode.img\n",
    );
    let e = default_entry(&m);
    assert_eq!(e.title, "Xen dom0");
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), "/boot/extlinux/vmlinuz-lts");
    assert_eq!(e.args, "root=/dev/xvda1 quiet");
    assert_eq!(
        initrds(e),
        ["/boot/extlinux/initramfs-lts", "/boot/ucode.img"]
    );
    let bad = text("LABEL x\nCOM32 mboot.c32\nAPPEND xen.gz\n");
    assert_eq!(bad.entry(&[0]).unwrap().kind, EntryKind::Other);
}

#[test]
fn append_initrd_and_keywords() {
    let m = text(
        "# comment\n\
         append console=ttyS0\n\
         Label a\n Kernel /vmlinuz-a\n\
         LABEL b\n LINUX vmlinuz-b quiet\n INITRD one.img,/two.img\n APPEND root=/dev/b initrd=ignored.img\n\
         LABEL c\n KERNEL /vmlinuz-c\n APPEND -\n\
         LABEL d\n KERNEL /vmlinuz-d\n APPEND initrd=/x.img,y.img rw initrd=/last.img\r junk after CR\n\
         LABEL /vmlinuz-e\n\
         label f\n menu disable\n kernel /f\n\
         ui menu.c32\n",
    );
    assert_eq!(titles(&m.items), ["a", "b", "c", "d", "/vmlinuz-e"]);
    let a = m.entry(&[0]).unwrap();
    assert_eq!(
        (kernel(a).as_str(), a.args.as_str()),
        ("/vmlinuz-a", "console=ttyS0")
    );
    let b = m.entry(&[1]).unwrap();
    // Words after the kernel name come first; INITRD overrides initrd= in APPEND.
    assert_eq!(b.args, "quiet root=/dev/b");
    assert_eq!(initrds(b), ["/boot/extlinux/one.img", "/two.img"]);
    assert_eq!(
        m.entry(&[2]).unwrap().args,
        "",
        "APPEND - clears the global append"
    );
    let d = m.entry(&[3]).unwrap();
    assert_eq!(d.args, "rw");
    assert_eq!(initrds(d), ["/last.img"]);
    // A label without KERNEL boots the kernel named like it.
    assert_eq!(kernel(m.entry(&[4]).unwrap()), "/vmlinuz-e");
    // UI with no DEFAULT and no MENU DEFAULT: first entry; TIMEOUT unset: wait.
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, None);
}

#[test]
fn default_ontimeout_and_hidden_labels() {
    let body = "LABEL a\n KERNEL /a\nLABEL b\n KERNEL /b\nLABEL h\n MENU HIDE\n KERNEL /h\n";
    // UI + DEFAULT label.
    let m = text(&format!("UI menu.c32\nDEFAULT b\n{body}"));
    assert_eq!(
        (m.default.clone(), m.default_reason.as_str()),
        (Some(vec![1]), "DEFAULT b")
    );
    assert_eq!(titles(&m.items), ["a", "b"], "hidden label not listed");
    // ONTIMEOUT wins when there is a timeout.
    let m = text(&format!(
        "UI menu.c32\nTIMEOUT 50\nONTIMEOUT a\nDEFAULT b\n{body}"
    ));
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, Some(50));
    // ... and may name a hidden label, which is then added to the menu.
    let m = text(&format!("UI menu.c32\nTIMEOUT 50\nONTIMEOUT h\n{body}"));
    assert_eq!(m.default, Some(vec![2]));
    assert_eq!(kernel(default_entry(&m)), "/h");
    // No UI: DEFAULT is a command line; a hidden label is fine; extra words ignored.
    let m = text(&format!("DEFAULT h\nPROMPT 1\nTIMEOUT 20\n{body}"));
    assert_eq!(m.default, Some(vec![2]));
    assert_eq!(m.timeout_tenths, Some(20));
    // A DEFAULT that names no label is a kernel command line.
    let m = text(&format!(
        "DEFAULT vmlinuz-x root=/dev/sda1 initrd=i.gz\n{body}"
    ));
    assert_eq!(m.default, Some(vec![2]));
    let e = default_entry(&m);
    assert_eq!(
        (kernel(e).as_str(), e.args.as_str()),
        ("/boot/extlinux/vmlinuz-x", "root=/dev/sda1")
    );
    assert_eq!(initrds(e), ["/boot/extlinux/i.gz"]);
    assert!(m.default_reason.contains("command line"));
}

#[test]
fn submenus_menu_default_and_tagged_include() {
    let mut src = MapSource::default().with(
        "/boot/extlinux/sub.cfg",
        b"LABEL s1\n KERNEL /s1\nLABEL s2\n KERNEL /s2\n MENU DEFAULT\n".to_vec(),
    );
    let m = parse_syslinux(
        b"DEFAULT vesamenu.c32\nLABEL top\n KERNEL /top\nMENU BEGIN t\n MENU TITLE The Sub\n MENU DEFAULT\n LABEL in\n  KERNEL /in\n LABEL back\n  MENU EXIT\nMENU END\nMENU INCLUDE sub.cfg Included ^Sub\nMENU SEPARATOR\n",
        "/boot/extlinux/extlinux.conf",
        &mut src,
    )
    .unwrap();
    assert_eq!(titles(&m.items), ["top", "The Sub/", "Included ^Sub/"]);
    assert_eq!(submenu(&m, &[1]).id.as_deref(), Some("t"));
    assert_eq!(titles(&submenu(&m, &[2]).items), ["s1", "s2"]);
    // MENU DEFAULT outside a label makes the submenu the default: its first entry.
    assert_eq!(m.default, Some(vec![1, 0]));
}

#[test]
fn include_loops_and_depth() {
    let mut src = MapSource::default()
        .with(
            "/boot/extlinux/a.cfg",
            b"LABEL a\n KERNEL /a\nINCLUDE b.cfg\n".to_vec(),
        )
        .with(
            "/boot/extlinux/b.cfg",
            b"LABEL b\n KERNEL /b\nINCLUDE a.cfg\nINCLUDE /boot/extlinux/extlinux.conf\n".to_vec(),
        );
    let m = parse_syslinux(
        b"INCLUDE a.cfg\nLABEL main\n KERNEL /m\n",
        "/boot/extlinux/extlinux.conf",
        &mut src,
    )
    .unwrap();
    assert_eq!(titles(&m.items), ["a", "b", "main"]);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings.iter().all(|w| w.contains("loop")));

    // A chain of 30 distinct files stops at depth 16.
    let mut src = MapSource::default();
    for i in 0..30 {
        src = src.with(
            &format!("/c{i}.cfg"),
            format!("LABEL l{i}\n KERNEL /k{i}\nINCLUDE /c{}.cfg\n", i + 1).into_bytes(),
        );
    }
    let m = parse_syslinux(b"INCLUDE /c0.cfg\n", "/syslinux.cfg", &mut src).unwrap();
    assert_eq!(m.items.len(), 15);
    assert!(
        m.warnings.iter().any(|w| w.contains("deeper than 16")),
        "{:?}",
        m.warnings
    );

    // A file including itself twice per level cannot blow up (each level is a loop).
    let mut src = MapSource::default().with("/x.cfg", b"INCLUDE /x.cfg\nINCLUDE /x.cfg\n".to_vec());
    let m = parse_syslinux(b"INCLUDE /x.cfg\n", "/syslinux.cfg", &mut src).unwrap();
    assert_eq!(m.warnings.len(), 2);
}

#[test]
fn text_help_blocks_are_skipped() {
    let m =
        text("LABEL a\n TEXT HELP\n  LABEL not-a-label\n  KERNEL /nope\n ENDTEXT\n KERNEL /a\n");
    assert_eq!(titles(&m.items), ["a"]);
    assert_eq!(kernel(m.entry(&[0]).unwrap()), "/a");
    let Item::Entry(_) = &m.items[0] else {
        panic!()
    };
}

#[test]
fn oversized_and_odd_bytes() {
    assert!(parse_syslinux(&vec![b'x'; 10 << 20], "/s.cfg", &mut MapSource::default()).is_err());
    let m = parse_syslinux(
        b"LABEL caf\xe9\n KERNEL /k\0junk\n",
        "/s.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(m.items[0].title(), "caf\u{fffd}");
    assert_eq!(kernel(m.entry(&[0]).unwrap()), "/k");
}
