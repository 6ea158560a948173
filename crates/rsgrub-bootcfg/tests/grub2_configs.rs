//! Real `grub.cfg` files (Xen's PyGrub examples and u-root's captured installs), with the
//! results GRUB's semantics give for them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_grub2, EntryKind, Item, MapSource, Menu, SearchKind};

fn run(rel: &str, path: &str, src: &mut dyn rsgrub_bootcfg::FileSource) -> Menu {
    parse_grub2(&read(rel), path, src).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn pygrub(name: &str, src: &mut dyn rsgrub_bootcfg::FileSource) -> Menu {
    run(
        &format!("xen-pygrub-examples/{name}"),
        "/boot/grub/grub.cfg",
        src,
    )
}

// ---------- Debian wheezy (HVM install) ----------

#[test]
fn debian_wheezy() {
    let m = pygrub("debian-wheezy-hvm.grub2", &mut MapSource::default());
    assert_eq!(
        titles(&m.items),
        [
            "Debian GNU/Linux, with Linux 3.2.0-4-amd64",
            "Debian GNU/Linux, with Linux 3.2.0-4-amd64 (recovery mode)"
        ]
    );
    // `set default="0"`.
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), "/boot/vmlinuz-3.2.0-4-amd64");
    assert_eq!(initrds(e), ["/boot/initrd.img-3.2.0-4-amd64"]);
    // Trailing blanks of the `linux` line are not arguments.
    assert_eq!(e.args, "root=UUID=f395d5a0-4612-4872-806c-33cd37c152f0 ro");
    // `set root='(/dev/xvda,msdos1)'`: GRUB strips the parentheses; the search finds nothing
    // here, so root stays.
    assert_eq!(e.root.as_deref(), Some("/dev/xvda,msdos1"));
    assert_eq!(e.id, None);
    assert_eq!(m.timeout_tenths, Some(50));
    assert!(!m.hidden);
    let rec = m.entry(&[1]).unwrap();
    assert_eq!(
        rec.args,
        "root=UUID=f395d5a0-4612-4872-806c-33cd37c152f0 ro single"
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn debian_wheezy_search_and_custom_cfg() {
    // `search --fs-uuid --set=root` answers; `$prefix/custom.cfg` exists and is `source`d.
    let custom = b"menuentry 'Custom kernel' {\n  linux /vmlinuz-custom quiet\n}\n";
    let mut src = Src::new(MapSource::default().with("/boot/grub/custom.cfg", custom.to_vec()))
        .search(
            SearchKind::FsUuid,
            "f395d5a0-4612-4872-806c-33cd37c152f0",
            "hd0,msdos1",
        );
    let m = pygrub("debian-wheezy-hvm.grub2", &mut src);
    assert_eq!(m.items.len(), 3);
    let e = default_entry(&m);
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    let c = m.entry(&[2]).unwrap();
    assert_eq!(
        (c.title.as_str(), kernel(c).as_str(), c.args.as_str()),
        ("Custom kernel", "/vmlinuz-custom", "quiet")
    );
    // The custom entry sets no root: it sees the top level's, which the search set too.
    assert_eq!(c.root.as_deref(), Some("hd0,msdos1"));
}

// ---------- Fedora 16 with a Xen submenu ----------

const F16_XEN: &str = "Fedora Linux, with Xen 4.1 and Linux 3.1.0-0.rc9.git0.0.fc16.x86_64";
const F16_ARGS: &str = "root=/dev/mapper/VolGroup-lv_root ro rd.md=0 rd.dm=0 rd.lvm.lv=VolGroup/lv_swap quiet SYSFONT=latarcyrheb-sun16 rhgb rd.lvm.lv=VolGroup/lv_root rd.luks=0 KEYTABLE=uk LANG=en_US.UTF-8";

#[test]
fn fedora16_tree_and_default() {
    let m = pygrub("fedora-16-with-xen.grub2", &mut MapSource::default());
    assert_eq!(
        titles(&m.items),
        [
            "Fedora Linux, with Linux 3.1.0-0.rc9.git0.0.fc16.x86_64",
            "Fedora Linux, with Linux 3.1.0-0.rc9.git0.0.fc16.x86_64 (recovery mode)",
            "Xen 4.1/"
        ]
    );
    let xen = submenu(&m, &[2]);
    assert_eq!(
        titles(&xen.items),
        [F16_XEN.to_string(), format!("{F16_XEN} (recovery mode)")]
    );
    // `set default="${saved_entry}"` with no grubenv: empty, so the first entry.
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/vmlinuz-3.1.0-0.rc9.git0.0.fc16.x86_64");
    assert_eq!(
        initrds(e),
        ["/initramfs-3.1.0-0.rc9.git0.0.fc16.x86_64.img"]
    );
    assert_eq!(e.args, F16_ARGS);
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
    assert_eq!(m.timeout_tenths, Some(50));

    // The Xen entries are multiboot: hypervisor + kernel and initrd modules.
    let Item::Entry(x) = &xen.items[0] else {
        panic!()
    };
    assert_eq!(x.kind, EntryKind::Multiboot);
    assert_eq!(kernel(x), "/xen-4.1.gz");
    assert_eq!(x.args, "placeholder");
    assert_eq!(x.modules.len(), 2);
    assert_eq!(
        x.modules[0].file,
        f("/vmlinuz-3.1.0-0.rc9.git0.0.fc16.x86_64")
    );
    assert_eq!(x.modules[0].args, format!("placeholder {F16_ARGS}"));
    assert_eq!(
        x.modules[1].file,
        f("/initramfs-3.1.0-0.rc9.git0.0.fc16.x86_64.img")
    );
    assert!(x.initrds.is_empty());
    let pv = x.linux_from_modules().unwrap();
    assert_eq!(pv.kind, EntryKind::Linux);
    assert_eq!(kernel(&pv), "/vmlinuz-3.1.0-0.rc9.git0.0.fc16.x86_64");
    assert_eq!(pv.args, F16_ARGS);
    assert_eq!(
        initrds(&pv),
        ["/initramfs-3.1.0-0.rc9.git0.0.fc16.x86_64.img"]
    );
}

#[test]
fn fedora16_saved_entry_path_into_submenu() {
    let env = grubenv(&[("saved_entry", &format!("Xen 4.1>{F16_XEN} (recovery mode)"))]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env);
    let m = pygrub("fedora-16-with-xen.grub2", &mut src);
    assert_eq!(m.default, Some(vec![2, 1]));
    assert!(
        m.default_reason.contains("saved_entry"),
        "{}",
        m.default_reason
    );
    let e = default_entry(&m);
    assert_eq!(e.kind, EntryKind::Multiboot);
    assert!(e.modules[0].args.contains(" ro single "));

    // The bare title of an entry inside the submenu is not a top-level title: GRUB falls
    // back to the first entry.
    let env = grubenv(&[("saved_entry", F16_XEN)]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env);
    let m = pygrub("fedora-16-with-xen.grub2", &mut src);
    assert_eq!(m.default, Some(vec![0]));
    assert!(
        m.warnings.iter().any(|w| w.contains("matches no entry")),
        "{:?}",
        m.warnings
    );
}

// ---------- Fedora 19: ids via $menuentry_id_option, next_entry ----------

const F19_ID0: &str =
    "gnulinux-3.9.6-301.fc19.i686.PAE-advanced-738519ba-06da-4402-9b68-a1c1efada512";
const F19_ID1: &str =
    "gnulinux-0-rescue-8d62a0261d8147dc84eb89292ebc1666-advanced-738519ba-06da-4402-9b68-a1c1efada512";

#[test]
fn fedora19() {
    let m = pygrub("fedora-19.grub2", &mut MapSource::default());
    assert_eq!(m.items.len(), 2);
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(e.title, "Fedora, with Linux 3.9.6-301.fc19.i686.PAE");
    // feature_menuentry_id=y, so $menuentry_id_option is --id.
    assert_eq!(e.id.as_deref(), Some(F19_ID0));
    assert_eq!(kernel(e), "/vmlinuz-3.9.6-301.fc19.i686.PAE");
    assert_eq!(initrds(e), ["/initramfs-3.9.6-301.fc19.i686.PAE.img"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/fedora-root ro rd.lvm.lv=fedora/swap rd.md=0 rd.dm=0 vconsole.keymap=us rd.luks=0 vconsole.font=latarcyrheb-sun16 rd.lvm.lv=fedora/root"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    assert_eq!(m.entry(&[1]).unwrap().id.as_deref(), Some(F19_ID1));
}

#[test]
fn fedora19_next_entry_wins_over_saved_entry() {
    let env = grubenv(&[("saved_entry", F19_ID0), ("next_entry", F19_ID1)]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env);
    let m = pygrub("fedora-19.grub2", &mut src);
    assert_eq!(m.default, Some(vec![1]));
    assert!(
        m.default_reason.starts_with("next_entry"),
        "{}",
        m.default_reason
    );
    assert!(m.default_reason.contains("(id)"), "{}", m.default_reason);

    let env = grubenv(&[(
        "saved_entry",
        "Fedora, with Linux 0-rescue-8d62a0261d8147dc84eb89292ebc1666",
    )]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env);
    let m = pygrub("fedora-19.grub2", &mut src);
    assert_eq!(m.default, Some(vec![1]));
    assert!(
        m.default_reason.starts_with("saved_entry"),
        "{}",
        m.default_reason
    );
    assert!(m.default_reason.contains("(title)"), "{}", m.default_reason);
}

// ---------- RHEL 7 beta: linux16 / initrd16 ----------

#[test]
fn rhel7_beta() {
    let m = pygrub("rhel-7-beta.grub2", &mut MapSource::default());
    assert_eq!(m.items.len(), 2);
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(
        e.title,
        "Red Hat Enterprise Linux Everything, with Linux 3.10.0-54.0.1.el7.x86_64"
    );
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), "/vmlinuz-3.10.0-54.0.1.el7.x86_64");
    assert_eq!(initrds(e), ["/initramfs-3.10.0-54.0.1.el7.x86_64.img"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/swap vconsole.keymap=uk crashkernel=auto rd.lvm.lv=rhel/root vconsole.font=latarcyrheb-sun16 LANG=en_GB.UTF-8"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    assert_eq!(m.timeout_tenths, Some(50));
}

// ---------- Ubuntu 14.04: submenu, load_env, recordfail ----------

const U14_ADV: &str = "gnulinux-advanced-c7a4b4ca-71da-4d03-b374-a6b76ebcfc90";
const U14_REC: &str = "gnulinux-3.13.0-44-generic-recovery-c7a4b4ca-71da-4d03-b374-a6b76ebcfc90";

#[test]
fn ubuntu1404() {
    let m = pygrub("ubuntu-14.04-lts.grub2", &mut MapSource::default());
    assert_eq!(
        titles(&m.items),
        [
            "Ubuntu",
            "Advanced options for Ubuntu/",
            "Memory test (memtest86+)",
            "Memory test (memtest86+, serial console 115200)"
        ]
    );
    let adv = submenu(&m, &[1]);
    assert_eq!(adv.id.as_deref(), Some(U14_ADV));
    assert_eq!(
        titles(&adv.items),
        [
            "Ubuntu, with Linux 3.13.0-44-generic",
            "Ubuntu, with Linux 3.13.0-44-generic (recovery mode)"
        ]
    );
    // The submenu body runs in a new context: it sees the exported menuentry_id_option.
    assert_eq!(adv.items[1].id(), Some(U14_REC));

    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(
        e.id.as_deref(),
        Some("gnulinux-simple-c7a4b4ca-71da-4d03-b374-a6b76ebcfc90")
    );
    assert_eq!(kernel(e), "/vmlinuz-3.13.0-44-generic");
    assert_eq!(initrds(e), ["/initrd.img-3.13.0-44-generic"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/BoxenSys00-root ro biosdevname=0 quiet"
    );
    // Only `search` sets root in these entries, and it finds nothing here.
    assert_eq!(e.root, None);
    // knetbsd: not a Linux entry; linux16 memtest is (GRUB would boot it as a kernel).
    assert_eq!(m.entry(&[2]).unwrap().kind, EntryKind::Other);
    assert_eq!(m.entry(&[3]).unwrap().kind, EntryKind::Linux);
    assert_eq!(kernel(m.entry(&[3]).unwrap()), "/memtest86+.bin");
    // recordfail unset: timeout_style=menu, timeout=5.
    assert_eq!(m.timeout_tenths, Some(50));
    assert!(!m.hidden);
    // 40_custom: `set superusers="root"` and two malformed PBKDF2 hashes, which GRUB
    // rejects ("invalid PBKDF2 password"): the menu is locked for editing and no password
    // is registered; the Ubuntu entry is `--unrestricted`, so it boots without one.
    assert_eq!(m.superusers, Some(vec!["root".to_string()]));
    assert!(m.passwords.is_empty());
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].contains(":217: `password_pbkdf2`: invalid PBKDF2"));
    assert!(m.warnings[1].contains(":225: `password_pbkdf2`: invalid PBKDF2"));
    assert_eq!((e.users.as_ref(), e.unrestricted), (None, true));
}

#[test]
fn ubuntu1404_grubenv_recordfail_and_next_entry_path() {
    let env = grubenv(&[
        ("recordfail", "1"),
        ("next_entry", &format!("{U14_ADV}>{U14_REC}")),
    ]);
    let mut src = Src::new(MapSource::default().with("/boot/grub/grubenv", env)).search(
        SearchKind::FsUuid,
        "86ba9198-4319-4809-908d-6dbe6938b19a",
        "lvm/BoxenSys00-boot",
    );
    let m = pygrub("ubuntu-14.04-lts.grub2", &mut src);
    // A failed boot was recorded: wait for the user.
    assert_eq!(m.timeout_tenths, None);
    assert_eq!(m.default, Some(vec![1, 1]));
    let e = default_entry(&m);
    assert_eq!(
        e.args,
        "root=/dev/mapper/BoxenSys00-root ro recovery nomodeset biosdevname=0"
    );
    assert_eq!(e.root.as_deref(), Some("lvm/BoxenSys00-boot"));
}

// ---------- u-root: Debian 10 ----------

#[test]
fn debian10() {
    let m = run(
        "u-root/grub/debian_10_4_installed/boot/grub/grub.cfg",
        "/boot/grub/grub.cfg",
        &mut MapSource::default(),
    );
    assert_eq!(
        titles(&m.items),
        ["Debian GNU/Linux", "Advanced options for Debian GNU/Linux/"]
    );
    let adv = submenu(&m, &[1]);
    assert_eq!(
        titles(&adv.items),
        [
            "Debian GNU/Linux, with Linux 4.19.0-9-amd64",
            "Debian GNU/Linux, with Linux 4.19.0-9-amd64 (recovery mode)"
        ]
    );
    assert_eq!(
        adv.id.as_deref(),
        Some("gnulinux-advanced-39ec20e2-83f5-44ce-8671-f31ce0856377")
    );
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/boot/vmlinuz-4.19.0-9-amd64");
    assert_eq!(initrds(e), ["/boot/initrd.img-4.19.0-9-amd64"]);
    assert_eq!(
        e.args,
        "root=UUID=39ec20e2-83f5-44ce-8671-f31ce0856377 ro console=ttyS0 quiet"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    assert_eq!(m.timeout_tenths, Some(50));
    let rec = m.entry(&[1, 1]).unwrap();
    assert_eq!(
        rec.args,
        "root=UUID=39ec20e2-83f5-44ce-8671-f31ce0856377 ro single console=ttyS0"
    );
}

// ---------- u-root: Ubuntu 16.04 (hidden menu, gfxmode function, vt_handoff) ----------

#[test]
fn ubuntu1604() {
    let m = run(
        "u-root/grub/ubuntu_16_04_boot/grub/grub.cfg",
        "/grub/grub.cfg",
        &mut MapSource::default(),
    );
    assert_eq!(
        titles(&m.items),
        ["Ubuntu", "Advanced options for Ubuntu/", "System setup"]
    );
    assert_eq!(submenu(&m, &[1]).items.len(), 6);
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/vmlinuz-4.10.0-42-generic.efi.signed");
    assert_eq!(initrds(e), ["/initrd.img-4.10.0-42-generic"]);
    // No gfxblacklist.txt: linux_gfx_mode=keep, so the body's `gfxmode keep` sets
    // vt_handoff=vt.handoff=7 before `linux` expands it.
    assert_eq!(
        e.args,
        "root=/dev/mapper/ubuntu--vg-root ro quiet splash vt.handoff=7"
    );
    // timeout_style=hidden, timeout=0.
    assert_eq!(m.timeout_tenths, Some(0));
    assert!(m.hidden);
    // fwsetup: not bootable here.
    assert_eq!(m.entry(&[2]).unwrap().kind, EntryKind::Other);
    assert_eq!(m.entry(&[2]).unwrap().id.as_deref(), Some("uefi-firmware"));
    // Submenu entries see the exported linux_gfx_mode too.
    let up = m.entry(&[1, 1]).unwrap();
    assert_eq!(up.title, "Ubuntu, with Linux 4.10.0-42-generic (upstart)");
    assert_eq!(
        up.args,
        "root=/dev/mapper/ubuntu--vg-root ro quiet splash vt.handoff=7 init=/sbin/upstart"
    );
}

#[test]
fn ubuntu1604_gfxblacklist_changes_args() {
    // With a blacklist, `hwmatch` (not supported: fails) sends linux_gfx_mode to text.
    let mut src = MapSource::default().with("/grub/gfxblacklist.txt", b"x".to_vec());
    let m = run(
        "u-root/grub/ubuntu_16_04_boot/grub/grub.cfg",
        "/grub/grub.cfg",
        &mut src,
    );
    assert_eq!(
        default_entry(&m).args,
        "root=/dev/mapper/ubuntu--vg-root ro quiet splash"
    );
}

// ---------- u-root: RHEL 7.8 (duplicate ids) ----------

#[test]
fn rhel78() {
    let m = run(
        "u-root/grub/rhel_7_8_installed/grub2/grub.cfg",
        "/grub2/grub.cfg",
        &mut MapSource::default(),
    );
    assert_eq!(m.items.len(), 3);
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(
        e.title,
        "Red Hat Enterprise Linux Server (3.10.0-1127.el7.x86_64) 7.8 (Maipo)"
    );
    assert_eq!(kernel(e), "/vmlinuz-3.10.0-1127.el7.x86_64");
    assert_eq!(initrds(e), ["/initramfs-3.10.0-1127.el7.x86_64.img"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/rhel-root ro crashkernel=auto spectre_v2=retpoline rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap LANG=en_US.UTF-8 console=ttyS0,9600"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    assert_eq!(m.timeout_tenths, Some(50));

    // Entries 0 and 1 carry the same --id (an installer bug): an id picks the first.
    let dup = "gnulinux-3.10.0-1090.el7.x86_64-advanced-6b374d3e-0ab3-49eb-a2b2-43805ed161fc";
    assert_eq!(m.entry(&[1]).unwrap().id.as_deref(), Some(dup));
    let mut src = MapSource::default().with("/grub2/grubenv", grubenv(&[("saved_entry", dup)]));
    let m = run(
        "u-root/grub/rhel_7_8_installed/grub2/grub.cfg",
        "/grub2/grub.cfg",
        &mut src,
    );
    assert_eq!(m.default, Some(vec![0]));
    // The title of the second one picks it.
    let t = "Red Hat Enterprise Linux Server (3.10.0-1090.el7.x86_64) 7.8 (Maipo)";
    let mut src = MapSource::default().with("/grub2/grubenv", grubenv(&[("saved_entry", t)]));
    let m = run(
        "u-root/grub/rhel_7_8_installed/grub2/grub.cfg",
        "/grub2/grub.cfg",
        &mut src,
    );
    assert_eq!(m.default, Some(vec![1]));
    assert_eq!(kernel(default_entry(&m)), "/vmlinuz-3.10.0-1090.el7.x86_64");
}

// ---------- u-root: CentOS 7 ----------

#[test]
fn centos7() {
    let p = "u-root/grub/CentOS_7_x86_64_DVD_1810_legacy_install_sda1/grub2/grub.cfg";
    let m = run(p, "/grub2/grub.cfg", &mut MapSource::default());
    assert_eq!(
        titles(&m.items),
        [
            "CentOS Linux (3.10.0-957.el7.x86_64) 7 (Core)",
            "CentOS Linux (0-rescue-d2794e72bf4d44508b9ba5d447dd14ff) 7 (Core)"
        ]
    );
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(kernel(e), "/vmlinuz-3.10.0-957.el7.x86_64");
    assert_eq!(initrds(e), ["/initramfs-3.10.0-957.el7.x86_64.img"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/centos-root ro crashkernel=auto rd.lvm.lv=centos/root rd.lvm.lv=centos/swap console=ttyS0,115200,8n1 LANG=en_US.UTF-8"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos1"));
    assert_eq!(
        e.id.as_deref(),
        Some("gnulinux-3.10.0-957.el7.x86_64-advanced-ffd7b098-0f05-47f3-831b-78d99f4e1c5d")
    );
    assert_eq!(m.timeout_tenths, Some(50));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

// ---------- petitboot's Ubuntu 13.04 x86 config ----------

#[test]
fn petitboot_kubuntu1304() {
    let m = run(
        "petitboot/grub2-ubuntu-13_04-x86.conf",
        "/boot/grub/grub.cfg",
        &mut MapSource::default(),
    );
    assert_eq!(m.items.len(), 4);
    let e = default_entry(&m);
    assert_eq!(e.title, "Kubuntu GNU/Linux");
    assert_eq!(kernel(e), "/boot/vmlinuz-3.8.0-19-generic");
    assert_eq!(
        e.args,
        "root=UUID=29beca39-9181-4780-bbb2-ab5d4be59aaf ro quiet splash vt.handoff=7"
    );
    // 30_os-prober: no key pressed (keystatus fails), `sleep --interruptible 3` succeeds.
    assert_eq!(m.timeout_tenths, Some(0));
}
