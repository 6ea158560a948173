//! `rsgrub inspect|ls|cat` on a disk built with the real tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;

const UUID: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn disk() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let k = pseudo_random(1 << 20, 77);
    let cfg = debian_grub_cfg(UUID, "6.1", "/boot");
    populate(
        &root,
        &[
            ("boot/vmlinuz-6.1", &k),
            ("boot/grub/grub.cfg", cfg.as_bytes()),
        ],
    );
    let img = tmp.path().join("root.img");
    mkfs_ext("ext4", &root, &img, 16, &["-U", UUID, "-L", "rootfs"]);
    let d = tmp.path().join("disk.img");
    gpt_disk(&d, 24, &[(1, None, "ef02"), (16, Some(&img), "8300")]);
    (tmp, d, k)
}

#[test]
fn inspect_json_reports_volumes_configs_and_missing_files() {
    let (_t, d, _) = disk();
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["schema"], "rsgrub-inspect/1");
    assert_eq!(j["boot_volume"], 1);
    let v = &j["volumes"][1];
    assert_eq!(v["device"], "hd0,gpt2");
    assert_eq!(v["filesystem"]["uuid"], UUID);
    assert_eq!(v["filesystem"]["label"], "rootfs");
    assert!(j["volumes"][0]["filesystem"]["error"].is_string());
    let c = &v["filesystem"]["config"];
    assert_eq!(c["path"], "/boot/grub/grub.cfg");
    assert_eq!(c["default"], "0");
    let first = &c["items"][0];
    assert_eq!(first["title"], "Debian GNU/Linux");
    assert_eq!(first["kernel"]["exists"], true);
    // The initrd named by the config is not on the disk: inspect says so.
    assert_eq!(first["initrds"][0]["exists"], false);
    assert_eq!(c["items"][1]["type"], "submenu");
    assert_eq!(c["items"][1]["items"][1]["path"], "1>1");

    let o = rsgrub().arg("inspect").arg(&d).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("volume 1 (hd0,gpt2) [boots]"), "{text}");
    assert!(text.contains("(MISSING)"), "{text}");
}

#[test]
fn ls_and_cat_with_device_names_and_indices() {
    let (_t, d, k) = disk();
    let o = rsgrub()
        .arg("ls")
        .arg(&d)
        .arg("(hd0,gpt2)/boot")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("d "), "{text}");
    assert!(
        text.contains(&format!("{:>12} vmlinuz-6.1", k.len())),
        "{text}"
    );
    let o = rsgrub()
        .arg("cat")
        .arg(&d)
        .arg("1:/boot/vmlinuz-6.1")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, k);
    let o = rsgrub()
        .arg("cat")
        .arg(&d)
        .arg("/boot/vmlinuz-6.1")
        .output()
        .unwrap();
    assert_eq!(o.stdout, k);
    let o = rsgrub().arg("cat").arg(&d).arg("/nope").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nope"));
}

/// One partition's ext4 superblock is damaged, another boots: inspect names the damaged one and
/// why, and the boot still works; when nothing boots, the error lists every volume's reason.
#[test]
fn inspect_and_boot_with_a_corrupt_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let k = pseudo_random(200_000, 161);
    populate(
        &good,
        &[
            ("boot/vmlinuz", &k),
            (
                "boot/grub/grub.cfg",
                b"menuentry 'ok' {\n linux /boot/vmlinuz ro\n}\n",
            ),
        ],
    );
    let bad = tmp.path().join("bad");
    populate(
        &bad,
        &[("boot/grub/grub.cfg", b"menuentry 'x' { linux /k }\n")],
    );
    let (gi, bi) = (tmp.path().join("g.img"), tmp.path().join("b.img"));
    mkfs_ext("ext4", &good, &gi, 8, &[]);
    mkfs_ext("ext4", &bad, &bi, 8, &[]);
    // Damage the inode table of the bad one, keeping its superblock magic.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&bi).unwrap();
        for off in (4096..1 << 20).step_by(4096) {
            f.write_at(&pseudo_random(4096, off), off).unwrap();
        }
    }
    let d = tmp.path().join("disk.img");
    gpt_disk(&d, 24, &[(8, Some(&bi), "8300"), (8, Some(&gi), "8300")]);
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["boot_volume"], 1, "{j}");
    let v0 = &j["volumes"][0]["filesystem"];
    let reason = v0["error"]
        .as_str()
        .or_else(|| v0["config"]["error"].as_str())
        .unwrap_or_else(|| panic!("the damaged volume shows why: {v0}"));
    assert!(
        reason.contains("ext4") || reason.contains("corrupt"),
        "{reason}"
    );
    let r = run_libxl(&d, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&k));
}

/// Schema check: every key `inspect --json` emits is documented in docs/inspect-schema.md,
/// and the documented top-level keys are all present.
#[test]
fn inspect_json_keys_are_all_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/inspect-schema.md"),
    )
    .unwrap();
    let documented: std::collections::BTreeSet<String> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|s| {
            s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let (_t, d, _) = disk();
    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&d)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut all = Vec::new();
    keys(&j, &mut all);
    for k in &all {
        assert!(
            documented.contains(k),
            "key `{k}` is not in docs/inspect-schema.md"
        );
    }
    for k in [
        "schema",
        "image",
        "table",
        "hybrid_iso",
        "warnings",
        "boot_volume",
        "volumes",
    ] {
        assert!(j.get(k).is_some(), "top-level key {k} missing");
    }
}
