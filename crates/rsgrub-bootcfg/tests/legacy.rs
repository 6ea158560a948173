//! GRUB legacy `menu.lst` / `grub.conf`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_legacy, ConfigKind, EntryKind, MapSource, Menu};

fn run(rel: &str, path: &str, src: &mut MapSource) -> Menu {
    parse_legacy(&read(rel), path, src).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn text(t: &str) -> Menu {
    parse_legacy(
        t.as_bytes(),
        "/boot/grub/menu.lst",
        &mut MapSource::default(),
    )
    .unwrap()
}

#[test]
fn rhel78_pv_grub_conf() {
    // u-root's RHEL 7.8 `grub.conf` for a PV guest.
    let m = run(
        "u-root/grub/rhel_7_8_another/boot/grub/grub.conf",
        "/boot/grub/grub.conf",
        &mut MapSource::default(),
    );
    assert_eq!(m.kind, ConfigKind::GrubLegacy);
    assert_eq!(
        titles(&m.items),
        ["Red Hat Enterprise Linux 7 (3.10.0-1127.el7.x86_64)"]
    );
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, Some(0));
    let e = default_entry(&m);
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(e.root.as_deref(), Some("hd0"));
    assert_eq!(kernel(e), "/boot/vmlinuz-3.10.0-1127.el7.x86_64");
    assert_eq!(
        e.args,
        "ro root=UUID=71360dfb-1e6e-40dc-abec-3538d5fffa39 console=hvc0 LANG=en_US.UTF-8"
    );
    assert_eq!(initrds(e), ["/boot/initramfs-3.10.0-1127.el7.x86_64.img"]);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn centos5_xen_dom0() {
    let m = run(
        "legacy/centos5-xen-dom0.grub.conf",
        "/boot/grub/grub.conf",
        &mut MapSource::default(),
    );
    assert_eq!(
        titles(&m.items),
        ["CentOS (2.6.18-398.el5xen)", "CentOS (2.6.18-398.el5)"]
    );
    // `default=1`: the non-Xen kernel.
    assert_eq!(m.default, Some(vec![1]));
    assert_eq!(m.default_reason, "default 1");
    assert_eq!(m.timeout_tenths, Some(50));
    assert!(m.hidden);
    let e = default_entry(&m);
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), "/vmlinuz-2.6.18-398.el5");
    assert_eq!(e.args, "ro root=/dev/VolGroup00/LogVol00 rhgb quiet");
    assert_eq!(initrds(e), ["/initrd-2.6.18-398.el5.img"]);
    // `(hd0,0)` is the first partition: GRUB 2 calls it hd0,msdos1.
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));

    let x = m.entry(&[0]).unwrap();
    assert_eq!(x.kind, EntryKind::Multiboot);
    assert_eq!(kernel(x), "/xen.gz-2.6.18-398.el5");
    assert_eq!(x.args, "dom0_mem=1024M");
    assert_eq!(x.modules.len(), 2);
    let pv = x.linux_from_modules().unwrap();
    assert_eq!(kernel(&pv), "/vmlinuz-2.6.18-398.el5xen");
    assert_eq!(pv.args, "ro root=/dev/VolGroup00/LogVol00");
    assert_eq!(initrds(&pv), ["/initrd-2.6.18-398.el5xen.img"]);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn centos6_pv_args_verbatim() {
    let m = run(
        "legacy/centos6-pv.grub.conf",
        "/boot/grub/grub.conf",
        &mut MapSource::default(),
    );
    assert_eq!(m.items.len(), 2);
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(e.title, "CentOS (2.6.32-754.35.1.el6.x86_64)");
    assert_eq!(kernel(e), "/vmlinuz-2.6.32-754.35.1.el6.x86_64");
    assert_eq!(initrds(e), ["/initramfs-2.6.32-754.35.1.el6.x86_64.img"]);
    // GRUB legacy passes the rest of the line as written, double blank included.
    assert_eq!(
        e.args,
        "ro root=/dev/mapper/vg_centos6-lv_root rd_NO_LUKS LANG=en_US.UTF-8 rd_NO_MD rd_LVM_LV=vg_centos6/lv_swap SYSFONT=latarcyrheb-sun16 crashkernel=auto rd_LVM_LV=vg_centos6/lv_root  KEYBOARDTYPE=pc KEYTABLE=us rd_NO_DM console=hvc0"
    );
    assert!(!m.hidden);
}

#[test]
fn debian_lenny_saved_default_fallback_password() {
    let mut src =
        MapSource::default().with("/boot/grub/default", read("legacy/debian-lenny-default"));
    let m = run(
        "legacy/debian-lenny-xen.menu.lst",
        "/boot/grub/menu.lst",
        &mut src,
    );
    assert_eq!(
        titles(&m.items),
        [
            "Debian GNU/Linux, kernel 2.6.26-2-xen-amd64",
            "Debian GNU/Linux, kernel 2.6.26-2-xen-amd64 (single-user mode)",
            "Other operating system"
        ]
    );
    // `default saved` with /boot/grub/default saying 1.
    assert_eq!(m.default, Some(vec![1]));
    assert!(m.default_reason.contains("saved"), "{}", m.default_reason);
    assert_eq!(m.timeout_tenths, Some(30));
    assert_eq!(m.fallback, vec![vec![1], vec![2]]);
    assert_eq!(
        m.password.as_deref(),
        Some("--md5 $1$gLhU0/$aW78kHK1QfV3P2b2znUoe/")
    );
    let e = default_entry(&m);
    assert_eq!(
        e.kernel,
        Some(fd("hd0,msdos2", "/boot/vmlinuz-2.6.26-2-xen-amd64"))
    );
    assert_eq!(
        e.initrds,
        vec![fd("hd0,msdos2", "/boot/initrd.img-2.6.26-2-xen-amd64")]
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos2"));
    assert_eq!(e.args, "root=/dev/xvda2 ro console=hvc0 single");
    // `title=` with `=`, and a backslash-continued kernel line (tabs read as blanks).
    let first = m.entry(&[0]).unwrap();
    assert_eq!(first.kernel, Some(f("/boot/vmlinuz-2.6.26-2-xen-amd64")));
    assert_eq!(first.args, "root=/dev/xvda2 ro console=hvc0    quiet");
    assert_eq!(m.entry(&[2]).unwrap().kind, EntryKind::Other);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    // Without the `default` file: a warning and the first entry.
    let m = run(
        "legacy/debian-lenny-xen.menu.lst",
        "/boot/grub/menu.lst",
        &mut MapSource::default(),
    );
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
}

#[test]
fn defaults_out_of_range_and_bad() {
    let base = "title a\nkernel /a\ntitle b\nkernel /b\n";
    for (d, want, warns) in [
        ("0", 0, 0),
        ("1", 1, 0),
        ("0x1", 1, 0),
        ("2", 0, 1),
        ("x", 0, 1),
        ("-1", 0, 1),
    ] {
        let m = text(&format!("default {d}\n{base}"));
        assert_eq!(m.default, Some(vec![want]), "{d}");
        assert_eq!(m.warnings.len(), warns, "{d}: {:?}", m.warnings);
    }
    let m = text(base);
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, None, "no timeout: wait");
    assert_eq!(text("timeout 10\n").default, None, "no entries");
}

#[test]
fn kernel_options_devices_and_kinds() {
    let m = text(
        "root (hd0,1)\n\
         title opts\nkernel --type=linux --no-mem-option (hd1,4)/vmlinuz a=b\n\
         title mb\nkernel --type=multiboot /boot/hv\nmodule /m1 x\nmodulenounzip /m2\n\
         title bsd\nroot (hd0,0,a)\nkernel --type=freebsd /boot/kernel\n\
         title empty\nroot (hd2)\n\
         title solaris\nkernel$ /platform/i86xpv/kernel/$ISADIR/unix -B $ZFS-BOOTFS\nmodule$ /platform/i86pc/$ISADIR/boot_archive\n",
    );
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.kernel, Some(fd("hd1,msdos5", "/vmlinuz")));
    assert_eq!(e.args, "a=b");
    assert_eq!(e.root.as_deref(), Some("hd0,msdos2"), "global root applies");
    let mb = m.entry(&[1]).unwrap();
    assert_eq!((mb.kind, mb.modules.len()), (EntryKind::Multiboot, 2));
    let bsd = m.entry(&[2]).unwrap();
    assert_eq!(
        (bsd.kind, bsd.root.as_deref()),
        (EntryKind::Other, Some("hd0,msdos1,bsd1"))
    );
    assert_eq!(m.entry(&[3]).unwrap().kind, EntryKind::Other);
    let sol = m.entry(&[4]).unwrap();
    assert_eq!(kernel(sol), "/platform/i86xpv/kernel/$ISADIR/unix");
    assert_eq!(sol.kind, EntryKind::Multiboot);
}

#[test]
fn odd_input() {
    // Unknown commands and odd devices warn; NUL, CR and non-UTF-8 do not fail.
    let m = parse_legacy(
        b"frob 1\r\ntitle Caf\xe9\r\nroot (sd0)\r\nkernel (weird)/k ok\0junk\r\nbogus\r\n",
        "/boot/grub/menu.lst",
        &mut MapSource::default(),
    )
    .unwrap();
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.title, "Caf\u{fffd}");
    assert_eq!(e.kernel, Some(fd("weird", "/k")));
    assert_eq!(e.args, "ok");
    assert_eq!(e.root, None);
    assert_eq!(m.warnings.len(), 4, "{:?}", m.warnings);
    let big = vec![b'#'; 10 << 20];
    assert!(parse_legacy(&big, "/boot/grub/menu.lst", &mut MapSource::default()).is_err());
}

#[test]
fn lock_marks_its_entry() {
    // GRUB 0.97's manual: `lock` stops an entry unless the `password` was given.
    let m = parse_legacy(
        b"password secret\ntitle open\nkernel /a\ntitle locked\nlock\nkernel /b\n",
        "/boot/grub/menu.lst",
        &mut MapSource::default(),
    )
    .unwrap();
    assert!(!m.entry(&[0]).unwrap().locked);
    let e = m.entry(&[1]).unwrap();
    assert!(e.locked);
    assert_eq!(kernel(e), "/b", "lock does not end the entry");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}
