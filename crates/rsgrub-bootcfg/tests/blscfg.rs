//! GRUB 2's `blscfg` (Fedora / RHEL): Boot Loader Specification entries in the GRUB menu.
//! Expected values follow rhboot's `grub-core/commands/blscfg.c` (which directory, which
//! order, the script each entry becomes, `expand_val`) and GRUB's own semantics for that
//! script.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_grub2, EntryKind, Item, MapSource, Menu, SearchKind};

const CENTOS8: &str = "u-root/grub/CentOS_8_Stream_x86_64_blscfg_sda1";
const KOPTS: &str = "root=UUID=d0be5cb9-622d-42d5-a531-674aaa120309 ro crashkernel=auto rhgb quiet console=ttyS1,57600n8";

fn grub(src: &mut dyn rsgrub_bootcfg::FileSource, path: &str, cfg: &str) -> Menu {
    parse_grub2(cfg.as_bytes(), path, src).unwrap_or_else(|e| panic!("{e}"))
}

// ---------- u-root: CentOS 8 Stream ----------

/// The CentOS 8 Stream config, with `search --fs-uuid` finding the partition as `hd0,gpt2`
/// and the BLS entries only there.
#[test]
fn centos8_stream_on_its_device() {
    let cfg = tree(CENTOS8, "").with("/unused", b"".to_vec());
    let boot = tree_on(&format!("{CENTOS8}/boot"), "/boot", "hd0,gpt2");
    let mut src = Src::new(merge(cfg, boot)).search(
        SearchKind::FsUuid,
        "d0be5cb9-622d-42d5-a531-674aaa120309",
        "hd0,gpt2",
    );
    let m = parse_grub2(
        &read(&format!("{CENTOS8}/EFI/centos/grub.cfg")),
        "/EFI/centos/grub.cfg",
        &mut src,
    )
    .unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    // blscfg runs before 20_linux_tboot: the BLS entries come first, newest first.
    assert_eq!(
        titles(&m.items),
        [
            "CentOS Linux (5.18.0) 8",
            "CentOS Linux (0-rescue-9af7b02ac08149d985841c07c8ff366e) 8",
            "tboot 1.10.2/"
        ]
    );
    // default="${saved_entry}" from grubenv = the BLS id (file name without .conf).
    assert_eq!(m.default, Some(vec![0]));
    assert!(
        m.default_reason
            .contains("saved_entry \"9af7b02ac08149d985841c07c8ff366e-5.18.0\" from grubenv"),
        "{}",
        m.default_reason
    );
    let e = default_entry(&m);
    assert_eq!(
        e.id.as_deref(),
        Some("9af7b02ac08149d985841c07c8ff366e-5.18.0")
    );
    assert_eq!(e.kind, EntryKind::Linux);
    // `linux ($root)/boot/vmlinuz-5.18.0 ...`: the kernel is read from $root's volume.
    assert_eq!(e.kernel, Some(fd("hd0,gpt2", "/boot/vmlinuz-5.18.0")));
    // `initrd ($root)/boot/initramfs-5.18.0.img $tuned_initrd`, $tuned_initrd empty.
    assert_eq!(
        e.initrds,
        vec![fd("hd0,gpt2", "/boot/initramfs-5.18.0.img")]
    );
    // options `$kernelopts $tuned_params`: kernelopts from grubenv, tuned_params empty.
    assert_eq!(e.args, KOPTS);
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
    // grub_users $grub_users, unset: no user list, so GRUB does not restrict the entry.
    assert_eq!((e.users.as_ref(), e.unrestricted), (None, true));
    // The script blscfg generates, as the editor shows it (expand_val leaves a space after
    // each variable's value).
    assert_eq!(
        e.source,
        lines(&[
            "load_video",
            "set gfxpayload=keep",
            "insmod gzio",
            &format!("linux ($root)/boot/vmlinuz-5.18.0 {KOPTS}  "),
            "initrd ($root)/boot/initramfs-5.18.0.img $tuned_initrd",
        ])
    );
    let r = m.entry(&[1]).unwrap();
    assert_eq!(
        r.id.as_deref(),
        Some("9af7b02ac08149d985841c07c8ff366e-0-rescue")
    );
    assert_eq!(
        r.kernel,
        Some(fd(
            "hd0,gpt2",
            "/boot/vmlinuz-0-rescue-9af7b02ac08149d985841c07c8ff366e"
        ))
    );
    assert_eq!(
        initrds(r),
        ["(hd0,gpt2)/boot/initramfs-0-rescue-9af7b02ac08149d985841c07c8ff366e.img"]
    );
    assert_eq!(r.args, KOPTS);
    // The tboot submenu is still there, after the BLS entries.
    let tb = submenu(&m, &[2]);
    assert_eq!(tb.items.len(), 1);
    assert_eq!(m.timeout_tenths, Some(50));
}

/// The same files on one volume and no `search` answer: `$root` stays unset, blscfg reads
/// the config's own volume, `/loader/entries/` is missing, so `/boot/loader/entries/`.
#[test]
fn centos8_stream_one_volume() {
    let mut src = Src::new(tree(CENTOS8, ""));
    let m = parse_grub2(
        &read(&format!("{CENTOS8}/EFI/centos/grub.cfg")),
        "/EFI/centos/grub.cfg",
        &mut src,
    )
    .unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let e = default_entry(&m);
    assert_eq!(e.kernel, Some(f("/boot/vmlinuz-5.18.0")));
    assert_eq!(initrds(e), ["/boot/initramfs-5.18.0.img"]);
    assert_eq!(e.root, None);
    assert_eq!(e.args, KOPTS);
}

/// Without grubenv, 10_linux's fallback `set kernelopts=...` and a saved_entry-less
/// default: the first (newest) entry.
#[test]
fn centos8_without_grubenv_uses_fallback_kernelopts() {
    let mut t = tree(CENTOS8, "");
    t.files.retain(|(_, p), _| p != "/EFI/centos/grubenv");
    let mut src = Src::new(t);
    let m = parse_grub2(
        &read(&format!("{CENTOS8}/EFI/centos/grub.cfg")),
        "/EFI/centos/grub.cfg",
        &mut src,
    )
    .unwrap();
    assert_eq!(m.default, Some(vec![0]));
    assert!(m.default_reason.contains("empty"), "{}", m.default_reason);
    let e = default_entry(&m);
    assert_eq!(e.title, "CentOS Linux (5.18.0) 8");
    assert_eq!(e.args, KOPTS);
}

// ---------- petitboot: Fedora CoreOS 38 (ostree BLS entry) ----------

#[test]
fn petitboot_fcos38() {
    let mut src = MapSource::default().with(
        "/loader/entries/ostree-1-fedora-coreos.conf",
        read("petitboot/grub2-blscfg-fcos38.conf"),
    );
    let m = grub(&mut src, "/grub2/grub.cfg", "blscfg\n");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.items.len(), 1);
    let e = default_entry(&m);
    assert_eq!(e.title, "Fedora CoreOS 38.20230625.3.0 (ostree:1)");
    assert_eq!(e.id.as_deref(), Some("ostree-1-fedora-coreos"));
    assert_eq!(
        kernel(e),
        "/ostree/fedora-coreos-00f1847831b603756e2804045135de37a3740b16b7777f8633b779e043222e29/vmlinuz-6.3.8-200.fc38.ppc64le"
    );
    assert_eq!(
        initrds(e),
        ["/ostree/fedora-coreos-00f1847831b603756e2804045135de37a3740b16b7777f8633b779e043222e29/initramfs-6.3.8-200.fc38.ppc64le.img"]
    );
    // `$ignition_firstboot` is unset: expand_val drops it (and the blank after it).
    assert_eq!(
        e.args,
        "mitigations=auto,nosmt ignition.platform.id=metal ostree=/ostree/boot.0/fedora-coreos/00f1847831b603756e2804045135de37a3740b16b7777f8633b779e043222e29/0 root=UUID=198343c8-def9-4ac4-88ee-c6821e7e71ba rw rootflags=prjquota boot=UUID=4310acc5-6457-44fd-89e5-6a976d84ae0e"
    );
    // `grub_users ""`: blscfg does not unquote, so the user list is the word `""`.
    assert_eq!(e.users, Some(lines(&["\"\""])));
    assert!(!e.unrestricted);
}

// ---------- petitboot: RHEL 8 (10_linux_bls: BLS entries written into grub.cfg) ----------

#[test]
fn petitboot_rhel8_saved_entry_and_kernelopts() {
    let mut src = MapSource::default().with(
        "/grub2/grubenv",
        grubenv(&[
            ("saved_entry", "8e15296c9cc14deb9e3f8548d49fd6fc-4.18.0-80.el8.ppc64le"),
            (
                "kernelopts",
                "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap",
            ),
        ]),
    );
    let m = parse_grub2(
        &read("petitboot/grub2-rhel8.conf"),
        "/grub2/grub.cfg",
        &mut src,
    )
    .unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.items.len(), 3);
    assert_eq!(m.default, Some(vec![1]));
    let e = default_entry(&m);
    assert_eq!(
        e.id.as_deref(),
        Some("8e15296c9cc14deb9e3f8548d49fd6fc-4.18.0-80.el8.ppc64le")
    );
    assert_eq!(kernel(e), "/vmlinuz-4.18.0-80.el8.ppc64le");
    assert_eq!(initrds(e), ["/initramfs-4.18.0-80.el8.ppc64le.img"]);
    assert_eq!(
        e.args,
        "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap"
    );
    assert_eq!(e.root.as_deref(), Some("hd0,msdos2"));
    // `--unrestricted --users $grub_users` with grub_users unset: Fedora/RHEL's GRUB takes
    // `--users` without a value (its argument is optional there), so the entry is
    // unrestricted.
    assert_eq!((e.users.as_ref(), e.unrestricted), (None, true));
    assert_eq!(
        e.source,
        lines(&[
            "setparams 'Red Hat Enterprise Linux (4.18.0-80.el8.ppc64le) 8.0 (Ootpa)'",
            "linux /vmlinuz-4.18.0-80.el8.ppc64le $kernelopts $tuned_params",
            "initrd /initramfs-4.18.0-80.el8.ppc64le.img $tuned_initrd",
        ])
    );
}

// ---------- semantics ----------

fn entry(title: &str, version: &str, extra: &str) -> Vec<u8> {
    format!("title {title}\nversion {version}\nlinux /vmlinuz-{version}\ninitrd /initramfs-{version}.img\n{extra}")
        .into_bytes()
}

#[test]
fn order_is_newest_first_by_file_name_and_equal_versions_are_dropped() {
    let mut src = MapSource::default()
        .with(
            "/loader/entries/m-6.9.0-1.fc40.conf",
            entry("A", "6.9.0-1.fc40", ""),
        )
        .with(
            "/loader/entries/m-6.10.0-1.fc40.conf",
            entry("B", "6.10.0-1.fc40", ""),
        )
        .with(
            "/loader/entries/m-6.10.0-1~rc1.fc40.conf",
            entry("C", "6.10.0-1~rc1.fc40", ""),
        )
        .with(
            "/loader/entries/m-0-rescue.conf",
            entry("R", "0-rescue", ""),
        )
        // Equal to m-6.9.0-1.fc40 for rpmvercmp (separators differ only): dropped.
        .with("/loader/entries/m-6_9_0-1.fc40.conf", entry("dup", "x", ""))
        .with("/loader/entries/.hidden.conf", entry("hidden", "1", ""))
        .with("/loader/entries/notes.txt", b"x".to_vec())
        .with("/loader/entries/.conf", entry("empty name", "1", ""));
    let m = grub(&mut src, "/grub2/grub.cfg", "blscfg\n");
    assert_eq!(titles(&m.items), ["B", "C", "A", "R"]);
}

#[test]
fn arguments_default_non_default_id_and_second_call() {
    let files = || {
        MapSource::default()
            .with("/loader/entries/m-1.conf", entry("One", "1", ""))
            .with("/loader/entries/m-2.conf", entry("Two", "2", ""))
            .with("/loader/entries/m-3.conf", entry("Three", "3", ""))
    };
    // `blscfg default` adds the entry $default names (by title here), `non-default` the
    // rest; a second plain `blscfg` adds nothing more.
    let m = grub(
        &mut files(),
        "/grub2/grub.cfg",
        "set default=Two\nblscfg default\nmenuentry mid { linux /k }\nblscfg non-default\nblscfg\n",
    );
    assert_eq!(titles(&m.items), ["Two", "mid", "Three", "One"]);
    // $default as an index into blscfg's list (newest first): 2 = m-1.
    let m = grub(
        &mut files(),
        "/grub2/grub.cfg",
        "set default=2\nblscfg default\n",
    );
    assert_eq!(titles(&m.items), ["One"]);
    // $default as the file name.
    let m = grub(
        &mut files(),
        "/grub2/grub.cfg",
        "set default=m-3\nblscfg default\n",
    );
    assert_eq!(titles(&m.items), ["Three"]);
    // An id argument adds just that entry.
    let m = grub(&mut files(), "/grub2/grub.cfg", "blscfg m-2\nblscfg m-2\n");
    assert_eq!(titles(&m.items), ["Two"]);
}

#[test]
fn blsdir_explicit_device_and_single_file() {
    let src = || {
        MapSource::default()
            .with("/custom/a-1.conf", entry("Custom", "1", ""))
            .with("/loader/entries/a-1.conf", entry("Default dir", "1", ""))
    };
    let m = grub(
        &mut src(),
        "/grub2/grub.cfg",
        "set blsdir=/custom\nblscfg\n",
    );
    assert_eq!(titles(&m.items), ["Custom"]);
    // `(dev)/dir`: that device, that directory, no fallback.
    let mut s = src();
    s.files.insert(
        ("hd1,gpt3".into(), "/other/b-2.conf".into()),
        entry("On hd1", "2", ""),
    );
    let m = grub(
        &mut s,
        "/grub2/grub.cfg",
        "blscfg (hd1,gpt3)/other\nblscfg (hd1,gpt3)/none\n",
    );
    assert_eq!(titles(&m.items), ["On hd1"]);
    // The file is read from hd1,gpt3, but `linux ($root)...` loads from $root (unset here).
    assert_eq!(kernel(m.entry(&[0]).unwrap()), "/vmlinuz-2");
    assert!(
        m.warnings.iter().any(|w| w.contains("(hd1,gpt3)/none")),
        "{:?}",
        m.warnings
    );
    // `(dev)/dir/name.conf`: one file.
    let m = grub(&mut src(), "/grub2/grub.cfg", "blscfg ()/custom/a-1.conf\n");
    assert_eq!(titles(&m.items), ["Custom"]);
}

#[test]
fn entry_script_options_users_args_early_initrd_devicetree() {
    let mut src = MapSource::default();
    // On $root's device.
    src.files.insert(
        ("hd0,gpt2".into(), "/loader/entries/f-6.1.conf".into()),
        b"title Fedora\nlinux /f/vmlinuz\ninitrd /f/initrd\ninitrd /f/extra $late\n\
          options root=/dev/vda1 $opts\\$literal\noptions second-line-ignored\n\
          grub_users $who\ngrub_arg --unrestricted\ngrub_arg two\ngrub_class kernel\n\
          devicetree /f/board.dtb\nunknown key kept\n"
            .to_vec(),
    );
    let m = grub(
        &mut src,
        "/grub2/grub.cfg",
        "set root=hd0,gpt2\nset opts=quiet\nset who='alice bob'\nset late=/f/late.img\n\
         set early_initrd='ucode.img'\nset save_default=true\nblscfg\n",
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.source,
        lines(&[
            "savedefault",
            "load_video",
            "set gfxpayload=keep",
            "insmod gzio",
            "linux ($root)/f/vmlinuz root=/dev/vda1 quiet \\$literal",
            "initrd ($root)/f/ucode.img ($root)/f/initrd ($root)/f/extra $late",
            "devicetree ($root)/f/board.dtb",
        ])
    );
    // In the script, `\$literal` is a literal `$literal` (a GRUB escape), and $late expands
    // when the entry runs (a plain path: on $root, the entry's own root).
    assert_eq!(e.args, "root=/dev/vda1 quiet $literal");
    assert_eq!(kernel(e), "(hd0,gpt2)/f/vmlinuz");
    assert_eq!(
        initrds(e),
        [
            "(hd0,gpt2)/f/ucode.img",
            "(hd0,gpt2)/f/initrd",
            "(hd0,gpt2)/f/extra",
            "/f/late.img"
        ]
    );
    assert_eq!(e.users, Some(lines(&["alice", "bob"])));
    assert!(!e.unrestricted);
}

#[test]
fn options_fall_back_to_default_kernelopts_and_blank_line_ends_the_file() {
    let mut src = MapSource::default()
        .with(
            "/loader/entries/a-1.conf",
            b"title A\nlinux /a\n\noptions never-read\n".to_vec(),
        )
        .with("/loader/entries/b-1.conf", b"title B\ninitrd /i\n".to_vec());
    let m = grub(
        &mut src,
        "/grub2/grub.cfg",
        "set default_kernelopts='root=/dev/x ro'\nblscfg\n",
    );
    // b-1 has no `linux`: skipped with a warning.
    assert_eq!(titles(&m.items), ["A"]);
    assert_eq!(m.entry(&[0]).unwrap().args, "root=/dev/x ro");
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("b-1.conf` has no `linux`")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn inside_submenu_and_entry_body() {
    let mut src = MapSource::default().with("/loader/entries/a-1.conf", entry("A", "1", ""));
    let m = grub(
        &mut src,
        "/grub2/grub.cfg",
        "menuentry x { blscfg; linux /k }\nsubmenu BLS { blscfg }\n",
    );
    assert_eq!(titles(&m.items), ["x", "BLS/"]);
    match &m.items[1] {
        Item::Submenu(s) => assert_eq!(titles(&s.items), ["A"]),
        _ => panic!(),
    }
    assert!(
        m.warnings[0].contains("inside a menu entry"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn entry_count_is_bounded() {
    let mut src = MapSource::default();
    for i in 0..1100 {
        src = src.with(
            &format!("/loader/entries/m-{i}.conf"),
            entry("E", &i.to_string(), ""),
        );
    }
    let m = grub(&mut src, "/grub2/grub.cfg", "blscfg\n");
    assert_eq!(m.items.len(), 1000);
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("more than 1000 entry files")),
        "{:?}",
        m.warnings
    );
    // Sorted by version: the first is the newest read. Names are read in byte order (m-0,
    // m-1, m-10, m-100, m-1000, ... m-9, m-90, ...): the 100 skipped are the last of those
    // starting with 9 (m-999 among them), so the newest read is m-1099.
    assert_eq!(m.entry(&[0]).unwrap().id.as_deref(), Some("m-1099"));
    assert!(m
        .entries()
        .iter()
        .all(|(_, e)| e.id.as_deref() != Some("m-999")));
}
