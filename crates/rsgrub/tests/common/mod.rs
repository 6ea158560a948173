//! Test helpers: build guest disks with the real tools and run the rsgrub binary the way
//! libxl does.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Find a tool on PATH or in the sbin directories (root's PATH is not always set in CI).
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed (the README's set-up installs it)");
}

/// Run a command, panic with its stderr on failure.
pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Deterministic pseudo-random bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn sha256(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `files` (relative path → bytes) under `root`.
pub fn populate(root: &Path, files: &[(&str, &[u8])]) {
    for (p, data) in files {
        let full = root.join(p.trim_start_matches('/'));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, data).unwrap();
    }
}

/// `mkfs.<kind> -d root` into a new image of `size_mb` MiB.
pub fn mkfs_ext(kind: &str, root: &Path, img: &Path, size_mb: u64, extra: &[&str]) {
    let _ = fs::remove_file(img);
    sh(Command::new(tool(&format!("mkfs.{kind}")))
        .args(["-q", "-F"])
        .args(extra)
        .arg("-d")
        .arg(root)
        .arg(img)
        .arg(format!("{size_mb}M")));
}

/// A GPT disk of `disk_mb` MiB whose partitions (sizes in MiB, in order) get the given
/// filesystem images copied in. Returns the disk path. A partition with `None` stays empty.
pub fn gpt_disk(disk: &Path, disk_mb: u64, parts: &[(u64, Option<&Path>, &str)]) {
    let f = fs::File::create(disk).unwrap();
    f.set_len(disk_mb << 20).unwrap();
    drop(f);
    let mut cmd = Command::new(tool("sgdisk"));
    for (i, (mb, _, code)) in parts.iter().enumerate() {
        cmd.arg(format!("-n{}:0:+{mb}M", i + 1));
        cmd.arg(format!("-t{}:{code}", i + 1));
    }
    cmd.arg(disk);
    sh(&mut cmd);
    copy_into_partitions(disk, parts.iter().map(|(_, p, _)| *p).collect());
}

/// An MBR disk (sfdisk), partitions as (size MiB, image, type hex, active).
pub fn mbr_disk(disk: &Path, disk_mb: u64, parts: &[(u64, Option<&Path>, &str, bool)]) {
    let f = fs::File::create(disk).unwrap();
    f.set_len(disk_mb << 20).unwrap();
    drop(f);
    let mut script = String::from("label: dos\n");
    for (mb, _, ty, active) in parts {
        script.push_str(&format!(
            "size={mb}MiB, type={ty}{}\n",
            if *active { ", bootable" } else { "" }
        ));
    }
    let mut child = Command::new(tool("sfdisk"))
        .arg("-q")
        .arg(disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    copy_into_partitions(disk, parts.iter().map(|(_, p, _, _)| *p).collect());
}

/// Partition start offsets (bytes), as sfdisk reports them.
pub fn partition_starts(disk: &Path) -> Vec<u64> {
    let out = sh(Command::new(tool("sfdisk")).arg("--dump").arg(disk));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains(": start="))
        .map(|l| {
            let s = l.split("start=").nth(1).unwrap();
            let n: String = s
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            n.parse::<u64>().unwrap() * 512
        })
        .collect()
}

fn copy_into_partitions(disk: &Path, images: Vec<Option<&Path>>) {
    let starts = partition_starts(disk);
    for (i, img) in images.into_iter().enumerate() {
        let Some(img) = img else { continue };
        sh(Command::new("dd")
            .arg(format!("if={}", img.display()))
            .arg(format!("of={}", disk.display()))
            .arg("bs=1M")
            .arg(format!("seek={}", starts[i]))
            .arg("oflag=seek_bytes")
            .arg("conv=notrunc,sparse")
            .arg("status=none"));
    }
}

/// The rsgrub binary under test.
pub fn rsgrub() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rsgrub"))
}

/// What a libxl-style run produced.
pub struct Run {
    pub status: i32,
    pub stderr: String,
    pub output: Vec<u8>,
    /// (key, value) items of the simple0 output.
    pub items: Vec<(String, String)>,
    /// Files left in the output directory.
    pub left: Vec<PathBuf>,
    _tmp: tempfile::TempDir,
}

impl Run {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn file(&self, key: &str) -> Vec<u8> {
        fs::read(
            self.get(key)
                .unwrap_or_else(|| panic!("no {key} in {:?}", self.items)),
        )
        .unwrap()
    }
}

/// Run rsgrub exactly as libxl does (restricted mode adds `--runas`), reading simple0 output.
pub fn run_libxl(disk: &Path, extra: &[&str]) -> Run {
    run_libxl_env(disk, extra, &[])
}

/// As [`run_libxl`], with extra environment variables.
pub fn run_libxl_env(disk: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let outdir = tmp.path().join("out");
    fs::create_dir(&outdir).unwrap();
    let outfile = tmp.path().join("result");
    fs::write(&outfile, b"").unwrap();
    let o = rsgrub()
        .arg(format!("--output={}", outfile.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", outdir.display()))
        .args(extra)
        .arg(disk)
        .env("TERM", "vt100")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let output = fs::read(&outfile).unwrap();
    let items = parse_simple(&output, 0);
    let mut left: Vec<PathBuf> = fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    Run {
        _tmp: tmp,
        status: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        output,
        items,
        left,
    }
}

/// Debian's PyGrub, the differential oracle.
pub const PYGRUB: &str = "/usr/lib/xen-4.17/bin/pygrub";

/// Run Debian's PyGrub as libxl does (`-q`, simple0); returns (kernel bytes, ramdisk bytes or
/// empty, args). Fails the test if PyGrub fails.
pub fn pygrub_boot(disk: &Path, extra: &[&str]) -> (Vec<u8>, Vec<u8>, String) {
    assert!(
        Path::new(PYGRUB).is_file(),
        "Debian's PyGrub is missing: apt-get install xen-utils-4.17 (scripts/setup.sh does)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("result");
    fs::write(&out, b"").unwrap();
    let o = Command::new(PYGRUB)
        .arg("-q")
        .arg(format!("--output={}", out.display()))
        .arg("--output-format=simple0")
        .arg(format!("--output-directory={}", tmp.path().display()))
        .args(extra)
        .arg(disk)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pygrub: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let items = parse_simple(&fs::read(&out).unwrap(), 0);
    let get = |k: &str| items.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let kernel = fs::read(get("kernel").unwrap()).unwrap();
    let ramdisk = get("ramdisk")
        .map(|p| fs::read(p).unwrap())
        .unwrap_or_default();
    (kernel, ramdisk, get("args").unwrap_or_default())
}

/// rsgrub the same way: (kernel bytes, ramdisk bytes or empty, args). Fails the test if
/// rsgrub fails.
pub fn rsgrub_boot(disk: &Path, extra: &[&str]) -> (Vec<u8>, Vec<u8>, String) {
    let mut a = vec!["-q"];
    a.extend_from_slice(extra);
    let r = run_libxl(disk, &a);
    assert_eq!(r.status, 0, "rsgrub: {}", r.stderr);
    let ramdisk = if r.get("ramdisk").is_some() {
        r.file("ramdisk")
    } else {
        Vec::new()
    };
    (
        r.file("kernel"),
        ramdisk,
        r.get("args").unwrap_or("").to_string(),
    )
}

/// Parse libxl's simple/simple0 items.
pub fn parse_simple(b: &[u8], sep: u8) -> Vec<(String, String)> {
    b.split(|&c| c == sep)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = String::from_utf8_lossy(s);
            let (k, v) = s.split_once(' ').unwrap_or((&s, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A Debian 12-style grub.cfg as grub-mkconfig writes it (trimmed to what matters).
pub fn debian_grub_cfg(uuid: &str, kver: &str, prefix: &str) -> String {
    format!(
        r#"#
# DO NOT EDIT THIS FILE
#
# It is automatically generated by grub-mkconfig using templates
# from /etc/grub.d and settings from /etc/default/grub
#

### BEGIN /etc/grub.d/00_header ###
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${{next_entry}}" ] ; then
   set default="${{next_entry}}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi

if [ x"${{feature_menuentry_id}}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

if [ "${{prev_saved_entry}}" ]; then
  set saved_entry="${{prev_saved_entry}}"
  save_env saved_entry
  set prev_saved_entry=
  save_env prev_saved_entry
  set boot_once=true
fi

function savedefault {{
  if [ -z "${{boot_once}}" ]; then
    saved_entry="${{chosen}}"
    save_env saved_entry
  fi
}}
function load_video {{
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  else
    insmod efi_gop
    insmod efi_uga
    insmod ieee1275_fb
    insmod vbe
    insmod vga
    insmod video_bochs
    insmod video_cirrus
  fi
}}

if [ x$feature_default_font_path = xy ] ; then
   font=unicode
else
insmod part_gpt
insmod ext2
set root='hd0,gpt2'
if [ x$feature_platform_search_hint = xy ]; then
  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint-efi=hd0,gpt2 --hint-baremetal=ahci0,gpt2  {uuid}
else
  search --no-floppy --fs-uuid --set=root {uuid}
fi
    font="/usr/share/grub/unicode.pf2"
fi

if loadfont $font ; then
  set gfxmode=auto
  load_video
  insmod gfxterm
  set locale_dir=$prefix/locale
  set lang=en_US
  insmod gettext
fi
terminal_output gfxterm
if [ "${{recordfail}}" = 1 ] ; then
  set timeout=30
else
  if [ x$feature_timeout_style = xy ] ; then
    set timeout_style=menu
    set timeout=5
  # Fallback normal timeout code in case the timeout_style feature is
  # unavailable.
  else
    set timeout=5
  fi
fi
### END /etc/grub.d/00_header ###

### BEGIN /etc/grub.d/10_linux ###
function gfxmode {{
	set gfxpayload="${{1}}"
}}
set linux_gfx_mode=
export linux_gfx_mode
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-{uuid}' {{
	load_video
	insmod gzio
	if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi
	insmod part_gpt
	insmod ext2
	set root='hd0,gpt2'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint-efi=hd0,gpt2 --hint-baremetal=ahci0,gpt2  {uuid}
	else
	  search --no-floppy --fs-uuid --set=root {uuid}
	fi
	echo	'Loading Linux {kver} ...'
	linux	{prefix}/vmlinuz-{kver} root=UUID={uuid} ro  quiet
	echo	'Loading initial ramdisk ...'
	initrd	{prefix}/initrd.img-{kver}
}}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-{uuid}' {{
	menuentry 'Debian GNU/Linux, with Linux {kver}' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-{kver}-advanced-{uuid}' {{
		load_video
		insmod gzio
		set root='hd0,gpt2'
		search --no-floppy --fs-uuid --set=root {uuid}
		echo	'Loading Linux {kver} ...'
		linux	{prefix}/vmlinuz-{kver} root=UUID={uuid} ro  quiet
		echo	'Loading initial ramdisk ...'
		initrd	{prefix}/initrd.img-{kver}
	}}
	menuentry 'Debian GNU/Linux, with Linux {kver} (recovery mode)' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-{kver}-recovery-{uuid}' {{
		load_video
		insmod gzio
		set root='hd0,gpt2'
		search --no-floppy --fs-uuid --set=root {uuid}
		echo	'Loading Linux {kver} ...'
		linux	{prefix}/vmlinuz-{kver} root=UUID={uuid} ro single
		echo	'Loading initial ramdisk ...'
		initrd	{prefix}/initrd.img-{kver}
	}}
}}

### END /etc/grub.d/10_linux ###
"#
    )
}
