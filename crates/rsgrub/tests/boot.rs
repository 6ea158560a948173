//! End to end: guest disks built with the real tools, booted with libxl's exact arguments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const KVER: &str = "6.1.0-13-amd64";
const UUID: &str = "0d1bd6bc-6a49-4b6d-9b1a-27a0b2e5c3f1";

struct Guest {
    _tmp: tempfile::TempDir,
    disk: PathBuf,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

/// A Debian 12-style guest: GPT (BIOS boot + ext4 root), grub.cfg from grub-mkconfig.
fn debian_gpt() -> Guest {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let kernel = pseudo_random(3 << 20, 1);
    let initrd = pseudo_random(5 << 20, 2);
    let cfg = debian_grub_cfg(UUID, KVER, "/boot");
    populate(
        &root,
        &[
            (&format!("boot/vmlinuz-{KVER}"), &kernel),
            (&format!("boot/initrd.img-{KVER}"), &initrd),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
            ("etc/hostname", b"guest\n"),
        ],
    );
    std::os::unix::fs::symlink(format!("boot/vmlinuz-{KVER}"), root.join("vmlinuz")).unwrap();
    let fsimg = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &fsimg, 32, &["-U", UUID]);
    let disk = tmp.path().join("disk.img");
    gpt_disk(&disk, 40, &[(1, None, "ef02"), (32, Some(&fsimg), "8300")]);
    Guest {
        _tmp: tmp,
        disk,
        kernel,
        initrd,
    }
}

fn assert_clean_failure(r: &Run, needle: &str) {
    assert_eq!(r.status, 1, "stderr: {}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("rsgrub: error: "), "stderr: {}", r.stderr);
    assert!(
        last.contains(needle),
        "error should mention {needle:?}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.left.is_empty(), "files left behind: {:?}", r.left);
    assert!(r.output.is_empty(), "output written on failure");
}

#[test]
fn debian_gpt_ext4_boots_like_grub() {
    let g = debian_gpt();
    let r = run_libxl(&g.disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&r.file("ramdisk")), sha256(&g.initrd));
    // GRUB joins the linux command's words with single spaces.
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
    assert_eq!(r.left.len(), 2, "{:?}", r.left);
    // Output is exactly libxl's simple0: three items and a terminating empty item.
    assert!(r.output.ends_with(b"\0\0"));
    assert_eq!(r.items.len(), 3);
    for p in &r.left {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("boot_kernel.") || name.starts_with("boot_ramdisk."));
    }
}

#[test]
fn entry_selection_and_args() {
    let g = debian_gpt();
    // By `>` path into the submenu (the recovery entry).
    let r = run_libxl(
        &g.disk,
        &[&format!(
            "--entry=Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux {KVER} (recovery mode)"
        )],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro single").as_str())
    );
    // By id.
    let r = run_libxl(
        &g.disk,
        &[&format!("--entry=gnulinux-{KVER}-recovery-{UUID}")],
    );
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro single").as_str())
    );
    // By title anywhere (PyGrub's flattened list).
    let r = run_libxl(
        &g.disk,
        &[&format!(
            "--entry=Debian GNU/Linux, with Linux {KVER} (recovery mode)"
        )],
    );
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro single").as_str())
    );
    // By number; with --args appended after a space.
    let r = run_libxl(&g.disk, &["--entry=0", "--args=console=hvc0"]);
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro quiet console=hvc0").as_str())
    );
    // An unknown entry boots the default, with a warning.
    let r = run_libxl(&g.disk, &["--entry=nonexistent"]);
    assert_eq!(r.status, 0);
    assert!(r.stderr.contains("matches no entry"), "{}", r.stderr);
    assert_eq!(
        r.get("args"),
        Some(format!("root=UUID={UUID} ro quiet").as_str())
    );
}

#[test]
fn kernel_option_skips_config_and_follows_symlink() {
    let g = debian_gpt();
    let r = run_libxl(
        &g.disk,
        &["-q", "--kernel=/vmlinuz", "--args=root=/dev/xvda2"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), g.kernel);
    assert_eq!(r.get("ramdisk"), None);
    assert_eq!(
        r.left.len(),
        1,
        "no ramdisk → no ramdisk file: {:?}",
        r.left
    );
    assert_eq!(r.get("args"), Some("root=/dev/xvda2"));
}

#[test]
fn list_and_not_really_and_formats() {
    let g = debian_gpt();
    let o = rsgrub().arg("-l").arg(&g.disk).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.matches("title: ").count(), 3, "{text}");
    assert!(text.contains(&format!("  kernel: /boot/vmlinuz-{KVER}")));
    assert!(
        text.contains("title: Debian GNU/Linux\n  entry: 0\n  default: yes\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "title: Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux {KVER} (recovery mode)\n  entry: 1>1\n  root: "
        )),
        "{text}"
    );
    assert_eq!(text.matches("default: yes").count(), 1);

    let tmp = tempfile::tempdir().unwrap();
    let o = rsgrub()
        .args(["-q", "-n", "--output-format=simple"])
        .arg(format!("--output-directory={}", tmp.path().display()))
        .arg(&g.disk)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("kernel None\nargs root=UUID={UUID} ro quiet\n\n")
    );
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);

    let o = rsgrub()
        .args(["-q"])
        .arg(format!("--output-directory={}", tmp.path().display()))
        .arg(&g.disk)
        .output()
        .unwrap();
    let sxp = String::from_utf8(o.stdout).unwrap();
    let dir = std::path::absolute(tmp.path()).unwrap();
    assert!(
        sxp.starts_with(&format!("linux (kernel '{}/boot_kernel.", dir.display())),
        "{sxp}"
    );
    assert!(
        sxp.ends_with(&format!("(args 'root=UUID={UUID} ro quiet')")),
        "{sxp}"
    );
}

#[test]
fn runas_requires_quiet_or_entry() {
    let g = debian_gpt();
    let o = rsgrub().arg("--runas=65534").arg(&g.disk).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--entry or -q"));
}

/// /boot on its own partition: grub.cfg at /grub/grub.cfg and paths relative to it.
#[test]
fn separate_boot_partition_mbr_active_first() {
    let tmp = tempfile::tempdir().unwrap();
    let kernel = pseudo_random(1 << 20, 3);
    let initrd = pseudo_random(2 << 20, 4);
    let boot = tmp.path().join("boot");
    let cfg = debian_grub_cfg(UUID, KVER, "");
    populate(
        &boot,
        &[
            (&format!("vmlinuz-{KVER}"), &kernel),
            (&format!("initrd.img-{KVER}"), &initrd),
            ("grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    // A decoy on partition 1 with another config: the active partition 2 must win.
    let decoy = tmp.path().join("decoy");
    populate(
        &decoy,
        &[
            ("boot/vmlinuz", b"DECOY"),
            (
                "boot/grub/grub.cfg",
                b"menuentry 'decoy' { linux /boot/vmlinuz decoy }\n",
            ),
        ],
    );
    let bootimg = tmp.path().join("boot.img");
    let decoyimg = tmp.path().join("decoy.img");
    mkfs_ext("ext2", &boot, &bootimg, 16, &["-U", UUID]);
    mkfs_ext("ext3", &decoy, &decoyimg, 8, &[]);
    let disk = tmp.path().join("disk.img");
    mbr_disk(
        &disk,
        32,
        &[
            (8, Some(&decoyimg), "83", false),
            (16, Some(&bootimg), "83", true),
        ],
    );
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), kernel);
    assert_eq!(r.file("ramdisk"), initrd);
}

/// GRUB legacy menu.lst on a whole-disk ext3 (no partition table), `default 1`.
#[test]
fn legacy_menu_lst_whole_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let k1 = pseudo_random(100_000, 5);
    let k2 = pseudo_random(200_000, 6);
    let menu = "default 1\ntimeout 5\n\ntitle Old\n\troot (hd0,0)\n\tkernel /boot/vmlinuz-old ro root=/dev/xvda1\n\ntitle New\n\troot (hd0,0)\n\tkernel /boot/vmlinuz-new ro root=/dev/xvda1 console=hvc0\n\tinitrd /boot/initrd-new\n";
    populate(
        &root,
        &[
            ("boot/vmlinuz-old", &k1),
            ("boot/vmlinuz-new", &k2),
            ("boot/initrd-new", b"INITRD"),
            ("boot/grub/menu.lst", menu.as_bytes()),
        ],
    );
    let img = tmp.path().join("disk.img");
    mkfs_ext("ext3", &root, &img, 16, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k2);
    assert_eq!(r.file("ramdisk"), b"INITRD");
    assert_eq!(r.get("args"), Some("ro root=/dev/xvda1 console=hvc0"));
}

/// extlinux.conf (Alpine-style) with LINUX/INITRD/APPEND, paths relative to the config.
#[test]
fn extlinux_conf() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let k = pseudo_random(300_000, 7);
    let conf = "DEFAULT virt\nTIMEOUT 30\nLABEL lts\n  MENU LABEL Linux lts\n  LINUX vmlinuz-lts\n  INITRD initramfs-lts\n  APPEND root=/dev/xvda1 modules=ext4\nLABEL virt\n  MENU LABEL Linux virt\n  LINUX /boot/vmlinuz-virt\n  INITRD /boot/initramfs-virt\n  APPEND root=/dev/xvda1 modules=ext4 quiet\n";
    populate(
        &root,
        &[
            ("boot/vmlinuz-virt", &k),
            ("boot/initramfs-virt", b"IRAMFS"),
            ("boot/vmlinuz-lts", b"LTS"),
            ("boot/initramfs-lts", b"LTSI"),
            ("boot/extlinux.conf", conf.as_bytes()),
        ],
    );
    let img = tmp.path().join("disk.img");
    mkfs_ext("ext4", &root, &img, 16, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), k);
    assert_eq!(r.file("ramdisk"), b"IRAMFS");
    assert_eq!(r.get("args"), Some("root=/dev/xvda1 modules=ext4 quiet"));
    let r = run_libxl(&img, &["--entry=lts"]);
    assert_eq!(r.file("kernel"), b"LTS");
}

/// Several initrds on one line: concatenated as GRUB loads them (each padded to 4 bytes).
#[test]
fn multiple_initrds_and_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let cfg = "set kv=6.1\nset opts=\"ro quiet\"\nmenuentry \"Linux $kv\" {\n  linux /boot/vmlinuz-$kv root=/dev/xvda1 $opts\n  initrd /boot/ucode.img /boot/initrd-${kv}\n}\n";
    populate(
        &root,
        &[
            ("boot/vmlinuz-6.1", b"KERNEL"),
            ("boot/ucode.img", b"UCODE"),
            ("boot/initrd-6.1", b"INITRD"),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    let img = tmp.path().join("disk.img");
    mkfs_ext("ext4", &root, &img, 16, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("ramdisk"), b"UCODE\0\0\0INITRD");
    assert_eq!(r.get("args"), Some("root=/dev/xvda1 ro quiet"));
}

#[test]
fn offset_option_reads_one_filesystem() {
    let g = debian_gpt();
    let start = partition_starts(&g.disk)[1];
    let r = run_libxl(&g.disk, &["-q", &format!("--offset={start}")]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), g.kernel);
    let r = run_libxl(&g.disk, &["-q", "--offset=512"]);
    assert_clean_failure(&r, "no known filesystem");
}

#[test]
fn isconfig_prints_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("grub.cfg");
    fs::write(&p, debian_grub_cfg(UUID, KVER, "/boot")).unwrap();
    let o = rsgrub().arg("--isconfig").arg(&p).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("  kernel: /boot/vmlinuz-{KVER}\n  initrd: /boot/initrd.img-{KVER}\n  args: root=UUID={UUID} ro quiet\n")
    );
}

fn disk_with(tmp: &Path, cfg: &[u8], files: &[(&str, &[u8])], size_mb: u64) -> PathBuf {
    let root = tmp.join("root");
    populate(&root, files);
    populate(&root, &[("boot/grub/grub.cfg", cfg)]);
    let img = tmp.join("fs.img");
    mkfs_ext("ext4", &root, &img, size_mb, &[]);
    img
}

#[test]
fn non_utf8_config_still_boots() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = b"menuentry 'D\xff\xfebian \x80' {\n linux /boot/k ro\n}\n".to_vec();
    cfg.extend_from_slice(b"# \xc3\x28 invalid\n");
    let img = disk_with(tmp.path(), &cfg, &[("boot/k", b"K")], 8);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), b"K");
}

/// libxl's restricted mode: `--runas=UID --quiet` on an image the uid cannot read. The parent
/// opens it and passes the fd, so it boots; the parser runs as that uid.
#[test]
fn runas_boots_an_image_the_uid_cannot_read() {
    use std::os::unix::fs::PermissionsExt;
    let g = debian_gpt();
    fs::set_permissions(&g.disk, fs::Permissions::from_mode(0o600)).unwrap();
    let r = run_libxl(&g.disk, &["--runas=65534", "--quiet"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&g.kernel));
    assert_eq!(sha256(&r.file("ramdisk")), sha256(&g.initrd));
}

/// --no-sandbox works and says so loudly.
#[test]
fn no_sandbox_warns() {
    let g = debian_gpt();
    let r = run_libxl(&g.disk, &["-q", "--no-sandbox"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("SANDBOX DISABLED"), "{}", r.stderr);
    assert_eq!(r.file("kernel"), g.kernel);
}

/// Run by an unprivileged user (no root, no --runas): the sandbox falls back to a user
/// namespace, the boot still works, and what could not be raised is said, not hidden.
#[test]
fn unprivileged_user_boots_with_a_weaker_sandbox_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let g = debian_gpt();
    let dir = g.disk.parent().unwrap().to_path_buf();
    let out = dir.join("out-nobody");
    fs::create_dir(&out).unwrap();
    for p in [&dir, &out] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o777)).unwrap();
    }
    fs::set_permissions(&g.disk, fs::Permissions::from_mode(0o644)).unwrap();
    let result = dir.join("result-nobody");
    fs::write(&result, b"").unwrap();
    fs::set_permissions(&result, fs::Permissions::from_mode(0o666)).unwrap();
    let o = std::process::Command::new(tool("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_rsgrub"))
        .arg("-q")
        .arg(format!("--output={}", result.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", out.display()))
        .arg(&g.disk)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: sandbox"),
        "weakened walls must be reported: {err}"
    );
    let items = parse_simple(&fs::read(&result).unwrap(), 0);
    let k = &items.iter().find(|(k, _)| k == "kernel").unwrap().1;
    assert_eq!(sha256(&fs::read(k).unwrap()), sha256(&g.kernel));
}
