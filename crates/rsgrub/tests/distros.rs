//! Today's distributions end to end, booted as their own GRUB would boot them:
//! Fedora/RHEL (ESP stub → /boot by UUID → blscfg with $kernelopts from grubenv), Ubuntu with
//! GRUB_DEFAULT=saved into the "Advanced options" submenu, a one-shot next_entry, LILO, and
//! systemd-boot on an ESP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A GRUB environment block as grub-editenv writes it: 1024 bytes, `#`-padded.
fn grubenv(vars: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from("# GRUB Environment Block\n");
    for (k, v) in vars {
        s.push_str(&format!("{k}={v}\n"));
    }
    let mut b = s.into_bytes();
    assert!(b.len() <= 1024);
    b.resize(1024, b'#');
    b
}

fn fat(img: &Path, label: &str, src: &Path, kib: u32) {
    sh(Command::new(tool("mkfs.vfat"))
        .args(["-F", "32", "-n", label, "-C"])
        .arg(img)
        .arg(kib.to_string()));
    let mut cmd = Command::new(tool("mcopy"));
    cmd.args(["-s", "-i"]).arg(img);
    for e in std::fs::read_dir(src).unwrap() {
        cmd.arg(e.unwrap().path());
    }
    sh(cmd.arg("::"));
}

const BOOT_UUID: &str = "6a1c9f9e-2b7d-4c1e-9f4a-0d8e7c6b5a43";
const MACHINE: &str = "9af7b02ac08149d985841c07c8ff366e";

#[test]
fn fedora_esp_stub_boot_partition_blscfg_kernelopts() {
    let tmp = tempfile::tempdir().unwrap();
    let new_k = pseudo_random(2 << 20, 71);
    let new_i = pseudo_random(1 << 20, 72);
    let old_k = pseudo_random(1 << 20, 73);
    // /boot (ext4): grub2/grub.cfg with blscfg, grubenv with kernelopts and saved_entry,
    // loader/entries/ with two kernels.
    let boot = tmp.path().join("boot");
    let grubcfg = format!(
        "set pager=1\n\
         if [ -f ${{config_directory}}/grubenv ]; then\n  load_env -f ${{config_directory}}/grubenv\n\
         elif [ -s $prefix/grubenv ]; then\n  load_env\nfi\n\
         if [ \"${{next_entry}}\" ] ; then\n   set default=\"${{next_entry}}\"\n   set next_entry=\n   save_env next_entry\n   set boot_once=true\n\
         else\n   set default=\"${{saved_entry}}\"\nfi\n\
         set timeout=5\n\
         insmod part_gpt\ninsmod ext2\n\
         search --no-floppy --fs-uuid --set=root {BOOT_UUID}\n\
         insmod blscfg\nblscfg\n"
    );
    let entry = |ver: &str| {
        format!(
            "title Fedora Linux ({ver}) 39 (Server Edition)\nversion {ver}\nlinux /vmlinuz-{ver}\ninitrd /initramfs-{ver}.img\noptions $kernelopts\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class fedora\n"
        )
    };
    let new = "6.5.6-300.fc39.x86_64";
    let old = "6.2.9-300.fc38.x86_64";
    populate(
        &boot,
        &[
            ("grub2/grub.cfg", grubcfg.as_bytes()),
            (
                "grub2/grubenv",
                &grubenv(&[
                    ("saved_entry", &format!("{MACHINE}-{old}")),
                    ("kernelopts", "root=/dev/mapper/fedora-root ro rhgb quiet"),
                    ("boot_success", "0"),
                ]),
            ),
            (
                &format!("loader/entries/{MACHINE}-{new}.conf"),
                entry(new).as_bytes(),
            ),
            (
                &format!("loader/entries/{MACHINE}-{old}.conf"),
                entry(old).as_bytes(),
            ),
            (&format!("vmlinuz-{new}"), &new_k),
            (&format!("initramfs-{new}.img"), &new_i),
            (&format!("vmlinuz-{old}"), &old_k),
            (&format!("initramfs-{old}.img"), b"OLDINITRD"),
        ],
    );
    let bootimg = tmp.path().join("boot.img");
    mkfs_ext("ext4", &boot, &bootimg, 24, &["-U", BOOT_UUID]);
    // ESP (FAT32): Fedora's stub that chains to /boot by UUID.
    let esp = tmp.path().join("esp");
    populate(
        &esp,
        &[(
            "EFI/fedora/grub.cfg",
            format!(
                "search --no-floppy --fs-uuid --set=dev {BOOT_UUID}\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n"
            )
            .as_bytes(),
        )],
    );
    let espimg = tmp.path().join("esp.fat");
    fat(&espimg, "ESP", &esp, 40960);
    // Root (ext4) with no bootloader config at all.
    let root = tmp.path().join("root");
    populate(&root, &[("etc/fedora-release", b"Fedora release 39\n")]);
    let rootimg = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &rootimg, 8, &[]);
    let disk = tmp.path().join("disk.img");
    gpt_disk(
        &disk,
        84,
        &[
            (40, Some(&espimg), "ef00"),
            (24, Some(&bootimg), "8300"),
            (8, Some(&rootimg), "8300"),
        ],
    );
    // saved_entry names the older kernel: GRUB boots it, with $kernelopts expanded.
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), old_k);
    assert_eq!(r.file("ramdisk"), b"OLDINITRD");
    assert_eq!(
        r.get("args"),
        Some("root=/dev/mapper/fedora-root ro rhgb quiet")
    );
    // --entry by BLS id, and the listing shows both (newest first).
    let r = run_libxl(&disk, &[&format!("--entry={MACHINE}-{new}")]);
    assert_eq!(r.file("kernel"), new_k);
    assert_eq!(r.file("ramdisk"), new_i);
    let o = rsgrub().arg("-l").arg(&disk).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let a = text.find(&format!("Fedora Linux ({new})")).expect(&text);
    let b = text.find(&format!("Fedora Linux ({old})")).expect(&text);
    assert!(a < b, "newest first: {text}");
}

fn ubuntu_disk(env: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let uuid = "c0ffee00-1234-4cde-8f00-0123456789ab";
    let k_new = pseudo_random(1 << 20, 81);
    let k_old = pseudo_random(1 << 20, 82);
    let cfg = format!(
        "if [ -s $prefix/grubenv ]; then\n  set have_grubenv=true\n  load_env\nfi\n\
         if [ \"${{next_entry}}\" ] ; then\n   set default=\"${{next_entry}}\"\n   set next_entry=\n   save_env next_entry\n   set boot_once=true\nelse\n   set default=\"${{saved_entry}}\"\nfi\n\
         if [ x\"${{feature_menuentry_id}}\" = xy ]; then\n  menuentry_id_option=\"--id\"\nelse\n  menuentry_id_option=\"\"\nfi\nexport menuentry_id_option\n\
         function recordfail {{\n  set recordfail=1\n  if [ -n \"${{have_grubenv}}\" ]; then if [ -z \"${{boot_once}}\" ]; then save_env recordfail; fi; fi\n}}\n\
         menuentry 'Ubuntu' --class ubuntu $menuentry_id_option 'gnulinux-simple-{uuid}' {{\n\trecordfail\n\tlinux\t/boot/vmlinuz-6.8.0-45-generic root=UUID={uuid} ro  quiet splash $vt_handoff\n}}\n\
         submenu 'Advanced options for Ubuntu' $menuentry_id_option 'gnulinux-advanced-{uuid}' {{\n\
         \tmenuentry 'Ubuntu, with Linux 6.8.0-45-generic' $menuentry_id_option 'gnulinux-6.8.0-45-generic-advanced-{uuid}' {{\n\t\tlinux\t/boot/vmlinuz-6.8.0-45-generic root=UUID={uuid} ro  quiet splash\n\t}}\n\
         \tmenuentry 'Ubuntu, with Linux 6.8.0-31-generic' $menuentry_id_option 'gnulinux-6.8.0-31-generic-advanced-{uuid}' {{\n\t\tlinux\t/boot/vmlinuz-6.8.0-31-generic root=UUID={uuid} ro  quiet splash\n\t}}\n}}\n"
    );
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("boot/grub/grub.cfg", cfg.as_bytes()),
            ("boot/grub/grubenv", &grubenv(env)),
            ("boot/vmlinuz-6.8.0-45-generic", &k_new),
            ("boot/vmlinuz-6.8.0-31-generic", &k_old),
        ],
    );
    let img = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &img, 16, &["-U", uuid]);
    let disk = tmp.path().join("disk.img");
    gpt_disk(&disk, 24, &[(1, None, "ef02"), (16, Some(&img), "8300")]);
    (tmp, disk, k_new, k_old)
}

/// GRUB_DEFAULT=saved with saved_entry pointing into the submenu (by `>` path of ids).
#[test]
fn ubuntu_saved_entry_into_advanced_submenu() {
    let u = "c0ffee00-1234-4cde-8f00-0123456789ab";
    let saved = format!("gnulinux-advanced-{u}>gnulinux-6.8.0-31-generic-advanced-{u}");
    let (_t, disk, _, k_old) = ubuntu_disk(&[("saved_entry", &saved)]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k_old));
    assert_eq!(
        r.get("args"),
        Some(&*format!("root=UUID={u} ro quiet splash"))
    );
}

/// next_entry (grub-reboot) wins over saved_entry, once.
#[test]
fn next_entry_wins_over_saved_entry() {
    let u = "c0ffee00-1234-4cde-8f00-0123456789ab";
    let next = format!("gnulinux-advanced-{u}>gnulinux-6.8.0-31-generic-advanced-{u}");
    let (_t, disk, _, k_old) = ubuntu_disk(&[("saved_entry", "0"), ("next_entry", &next)]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k_old));
    // $vt_handoff is unset on Xen: the word disappears.
    let (_t, disk, k_new, _) = ubuntu_disk(&[("saved_entry", &next), ("next_entry", "0")]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k_new));
    assert_eq!(
        r.get("args"),
        Some(&*format!("root=UUID={u} ro quiet splash"))
    );
}

/// An ext2 disk whose only config is /etc/lilo.conf.
#[test]
fn lilo_only_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let k = pseudo_random(500_000, 91);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("boot/vmlinuz-2.6.32", &k),
            ("boot/initrd-2.6.32.img", b"LILOINITRD"),
            ("boot/vmlinuz-old", b"OLD"),
            (
                "etc/lilo.conf",
                b"boot=/dev/xvda\nprompt\ntimeout=50\ndefault=linux\nappend=\"console=hvc0\"\nread-only\n\nimage=/boot/vmlinuz-old\n\tlabel=old\n\troot=/dev/xvda1\n\nimage=/boot/vmlinuz-2.6.32\n\tlabel=linux\n\tinitrd=/boot/initrd-2.6.32.img\n\troot=/dev/xvda1\n\tappend=\"console=hvc0 quiet\"\n",
            ),
        ],
    );
    let img = tmp.path().join("root.img");
    mkfs_ext("ext2", &root, &img, 8, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k);
    assert_eq!(r.file("ramdisk"), b"LILOINITRD");
    assert_eq!(r.get("args"), Some("ro root=/dev/xvda1 console=hvc0 quiet"));
}

/// An ESP with systemd-boot: loader.conf default glob, entries sorted per the BLS.
#[test]
fn systemd_boot_esp() {
    let tmp = tempfile::tempdir().unwrap();
    let k1 = pseudo_random(700_000, 92);
    let k2 = pseudo_random(600_000, 93);
    let esp = tmp.path().join("esp");
    populate(
        &esp,
        &[
            ("loader/loader.conf", b"timeout 3\ndefault arch-*\n"),
            (
                "loader/entries/arch-lts.conf",
                b"title Arch Linux LTS\nsort-key arch\nversion 6.6.52\nlinux /vmlinuz-linux-lts\ninitrd /intel-ucode.img\ninitrd /initramfs-linux-lts.img\noptions root=UUID=1234 rw\noptions console=hvc0\n",
            ),
            (
                "loader/entries/other.conf",
                b"title Other\nlinux /vmlinuz-other\noptions root=/dev/xvda9\n",
            ),
            ("vmlinuz-linux-lts", &k1),
            ("intel-ucode.img", b"UCODE"),
            ("initramfs-linux-lts.img", b"INITRAMFS"),
            ("vmlinuz-other", &k2),
        ],
    );
    let espimg = tmp.path().join("esp.fat");
    fat(&espimg, "ESP", &esp, 40960);
    let disk = tmp.path().join("disk.img");
    gpt_disk(&disk, 48, &[(40, Some(&espimg), "ef00")]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k1);
    // Two initrds, concatenated as the loader does (4-byte padding between them).
    assert_eq!(r.file("ramdisk"), b"UCODE\0\0\0INITRAMFS");
    assert_eq!(r.get("args"), Some("root=UUID=1234 rw console=hvc0"));
}

/// CentOS 6: /boot on its own ext3 partition 1 (grub/grub.conf, menu.lst -> ./grub.conf),
/// `default=1`, `root (hd0,0)`, root on partition 2.
#[test]
fn centos6_separate_boot_menu_lst() {
    let tmp = tempfile::tempdir().unwrap();
    let k_new = pseudo_random(900_000, 101);
    let k_old = pseudo_random(800_000, 102);
    let boot = tmp.path().join("boot");
    let conf = "# grub.conf generated by anaconda\n#boot=/dev/xvda\ndefault=1\ntimeout=5\nsplashimage=(hd0,0)/grub/splash.xpm.gz\nhiddenmenu\n\
title CentOS (2.6.32-754.35.1.el6.x86_64)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.32-754.35.1.el6.x86_64 ro root=/dev/mapper/VolGroup-lv_root rd_NO_LUKS LANG=en_US.UTF-8 rd_NO_MD crashkernel=auto rd_LVM_LV=VolGroup/lv_root rd_NO_DM rhgb quiet\n\tinitrd /initramfs-2.6.32-754.35.1.el6.x86_64.img\n\
title CentOS (2.6.32-754.el6.x86_64)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/mapper/VolGroup-lv_root rd_NO_LUKS LANG=en_US.UTF-8 console=hvc0\n\tinitrd /initramfs-2.6.32-754.el6.x86_64.img\n";
    populate(
        &boot,
        &[
            ("grub/grub.conf", conf.as_bytes()),
            ("vmlinuz-2.6.32-754.35.1.el6.x86_64", &k_new),
            ("initramfs-2.6.32-754.35.1.el6.x86_64.img", b"NEW"),
            ("vmlinuz-2.6.32-754.el6.x86_64", &k_old),
            ("initramfs-2.6.32-754.el6.x86_64.img", b"OLD"),
        ],
    );
    std::os::unix::fs::symlink("./grub.conf", boot.join("grub/menu.lst")).unwrap();
    let bootimg = tmp.path().join("boot.img");
    mkfs_ext("ext3", &boot, &bootimg, 16, &[]);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[("etc/redhat-release", b"CentOS release 6.10 (Final)\n")],
    );
    let rootimg = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &rootimg, 8, &[]);
    let disk = tmp.path().join("disk.img");
    mbr_disk(
        &disk,
        28,
        &[
            (16, Some(&bootimg), "83", true),
            (8, Some(&rootimg), "83", false),
        ],
    );
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k_old));
    assert_eq!(r.file("ramdisk"), b"OLD");
    assert_eq!(
        r.get("args"),
        Some("ro root=/dev/mapper/VolGroup-lv_root rd_NO_LUKS LANG=en_US.UTF-8 console=hvc0")
    );
    // Debian's PyGrub reads this layout too: same files and args.
    let tmp2 = tempfile::tempdir().unwrap();
    let out = tmp2.path().join("result");
    std::fs::write(&out, b"").unwrap();
    let o = Command::new("/usr/lib/xen-4.17/bin/pygrub")
        .arg("-q")
        .arg(format!("--output={}", out.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", tmp2.path().display()))
        .arg(&disk)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let items = parse_simple(&std::fs::read(&out).unwrap(), 0);
    let get = |k: &str| items.iter().find(|(a, _)| a == k).unwrap().1.clone();
    assert_eq!(
        sha256(&std::fs::read(get("kernel")).unwrap()),
        sha256(&k_old)
    );
    assert_eq!(std::fs::read(get("ramdisk")).unwrap(), b"OLD");
    assert_eq!(get("args"), r.get("args").unwrap());
}

/// Solaris/illumos PV: no config, the kernel is found by path with its boot archive, and the
/// args are reordered as PyGrub's sniff_solaris does (root=/ip= first, then the kernel path).
#[test]
fn solaris_and_netware_kernels_by_path() {
    let tmp = tempfile::tempdir().unwrap();
    let unix = pseudo_random(300_000, 111);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("platform/i86xpv/kernel/amd64/unix", &unix),
            ("platform/i86pc/amd64/boot_archive", b"ARCHIVE"),
        ],
    );
    let img = tmp.path().join("sol.img");
    mkfs_ext("ext2", &root, &img, 8, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&unix));
    assert_eq!(r.file("ramdisk"), b"ARCHIVE");
    assert_eq!(r.get("args"), Some("/platform/i86xpv/kernel/amd64/unix"));
    let r = run_libxl(&img, &["-q", "--args=-k root=/dev/dsk/c0d0s0 ip=dhcp -v"]);
    assert_eq!(
        r.get("args"),
        Some("root=/dev/dsk/c0d0s0 ip=dhcp  /platform/i86xpv/kernel/amd64/unix -k -v ")
    );

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    populate(&root, &[("nwserver/xnloader.sys", b"NETWARE")]);
    let img = tmp.path().join("nw.img");
    mkfs_ext("ext2", &root, &img, 8, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), b"NETWARE");
    assert_eq!(r.get("ramdisk"), None);
}
