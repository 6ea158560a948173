//! Operator tools, run in the sandboxed child like the boot path: `inspect` (what rsgrub sees
//! on a disk: volumes, filesystems, configs, entry trees, defaults and why), `ls` and `cat`.
use crate::discover;
use crate::guest::Guest;
use rsgrub_bootcfg::{FileRef, Item, Menu};
use rsgrub_fs::{path, FileType};
use serde_json::{json, Value};
use std::io::Write;

/// Version of the `inspect --json` schema (see `docs/inspect-schema.md`).
pub const INSPECT_SCHEMA: &str = "rsgrub-inspect/1";

fn file_json(guest: &Guest, home: usize, root: Option<&str>, f: &FileRef) -> Value {
    let at = discover::locate(guest, home, root, f);
    json!({
        "path": f.to_string(),
        "exists": at.is_some(),
        "volume": at.and_then(|v| guest.volumes.get(v)).map(|v| v.grub_device()),
    })
}

/// The kernel checks: format, Xen notes and whether Xen can boot it PV and/or PVH.
fn kernel_json(guest: &Guest, home: usize, root: Option<&str>, f: &FileRef) -> Value {
    let mut v = file_json(guest, home, root, f);
    let info = discover::locate(guest, home, root, f)
        .and_then(|vol| crate::guest::GuestFile::open(guest, vol, &f.path))
        .map(|file| rsgrub_kernel::identify(&file));
    if let Some(info) = info {
        v["xen"] = json!(match info.verdict {
            rsgrub_kernel::Verdict::PvCapable => "PV-capable",
            rsgrub_kernel::Verdict::PvhCapable => "PVH-capable",
            rsgrub_kernel::Verdict::PvAndPvh => "PV-capable, PVH-capable",
            rsgrub_kernel::Verdict::NotXen => "not a Xen kernel",
            rsgrub_kernel::Verdict::Unknown => "unknown",
        });
        v["format"] = json!(info.describe());
    }
    v
}

fn items_json(guest: &Guest, home: usize, items: &[Item], prefix: &mut Vec<usize>) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        prefix.push(i);
        let p: Vec<String> = prefix.iter().map(|n| n.to_string()).collect();
        match it {
            Item::Entry(e) => {
                let root = e.root.as_deref();
                out.push(json!({
                    "type": "entry",
                    "path": p.join(">"),
                    "title": e.title,
                    "id": e.id,
                    "kind": format!("{:?}", e.kind).to_lowercase(),
                    "root": e.root,
                    "kernel": e.kernel.as_ref().map(|k| kernel_json(guest, home, root, k)),
                    "initrds": e.initrds.iter().map(|f| file_json(guest, home, root, f)).collect::<Vec<_>>(),
                    "args": e.args,
                }));
            }
            Item::Submenu(s) => out.push(json!({
                "type": "submenu",
                "path": p.join(">"),
                "title": s.title,
                "id": s.id,
                "items": items_json(guest, home, &s.items, prefix),
            })),
        }
        prefix.pop();
    }
    out
}

fn menu_json(guest: &Guest, home: usize, p: &str, menu: &Menu) -> Value {
    let default: Option<Vec<String>> = menu
        .default
        .as_ref()
        .map(|d| d.iter().map(|n| n.to_string()).collect());
    json!({
        "path": p,
        "language": format!("{:?}", menu.kind),
        "default": default.map(|d| d.join(">")),
        "default_title": menu.default.as_ref().and_then(|d| menu.entry(d)).map(|e| e.title.clone()),
        "default_reason": menu.default_reason,
        "timeout_tenths": menu.timeout_tenths,
        "warnings": menu.warnings,
        "items": items_json(guest, home, &menu.items, &mut Vec::new()),
    })
}

/// Everything rsgrub sees, as JSON (schema [`INSPECT_SCHEMA`]); `image` describes the
/// container (raw, qcow2, VHD).
pub fn inspect_json(guest: &Guest, image: Option<&rsgrub_disk::image::Info>) -> Value {
    let mut vols = Vec::new();
    // Each volume's config is found and parsed once, for its entry and for `boot_volume`.
    let configs: Vec<_> = (0..guest.volumes.len())
        .map(|i| match guest.fs(i) {
            Ok(_) => Some(discover::find_config(guest, i, false)),
            Err(_) => None,
        })
        .collect();
    let chosen = guest
        .boot_order()
        .iter()
        .copied()
        .find(|&v| matches!(configs.get(v), Some(Some(Ok(Some(_))))));
    for (i, v) in guest.volumes.iter().enumerate() {
        let mut vol = json!({
            "index": i,
            "name": v.name,
            "device": v.grub_device(),
            "start": v.start,
            "size": v.size,
            "number": v.number,
            "scheme": v.scheme.as_str(),
            "device_names": v.device_names(),
            "parents": v.parents,
            "partition_type": v.part_type,
            "partition_uuid": v.part_uuid,
            "partition_label": v.part_label,
            "active": v.active,
        });
        match guest.fs(i) {
            Err(e) => vol["filesystem"] = json!({ "error": e }),
            Ok(fs) => {
                let mut found = Vec::new();
                for (p, kind) in discover::candidates(guest, i) {
                    if guest.is_file(i, &p) {
                        found.push(json!({ "path": p, "language": format!("{kind:?}") }));
                    }
                }
                let config = match configs.get(i).and_then(Option::as_ref) {
                    Some(Ok(Some(f))) => menu_json(guest, i, &f.path, &f.menu),
                    Some(Err(e)) => json!({ "error": e }),
                    Some(Ok(None)) | None => Value::Null,
                };
                vol["filesystem"] = json!({
                    "type": fs.name(),
                    "uuid": fs.uuid(),
                    "label": fs.label(),
                    "warnings": fs.warnings(),
                    "configs_present": found,
                    "config": config,
                });
            }
        }
        vols.push(vol);
    }
    let image = image.map(|i| {
        json!({
            "format": format!("{:?}", i.format).to_lowercase(),
            "file_size": i.file_size,
            "virtual_size": i.virtual_size,
            "backing_file": i.backing_file,
            "details": i.details,
        })
    });
    json!({
        "schema": INSPECT_SCHEMA,
        "image": image,
        "table": guest.table,
        "hybrid_iso": guest.hybrid_iso,
        "warnings": guest.warnings,
        "boot_volume": chosen,
        "volumes": vols,
    })
}

/// The human form of `inspect`.
pub fn inspect_text(guest: &Guest, image: Option<&rsgrub_disk::image::Info>) -> String {
    let j = inspect_json(guest, image);
    let mut s = String::new();
    if let Some(i) = j["image"].as_object() {
        s.push_str(&format!(
            "image: {} ({}), {} bytes, table {}{}\n",
            i["format"].as_str().unwrap_or(""),
            i["details"].as_str().unwrap_or(""),
            i["virtual_size"],
            j["table"].as_str().unwrap_or(""),
            if j["hybrid_iso"] == true {
                ", hybrid ISO"
            } else {
                ""
            },
        ));
    }
    for w in j["warnings"].as_array().into_iter().flatten() {
        s.push_str(&format!("warning: {}\n", w.as_str().unwrap_or("")));
    }
    for v in j["volumes"].as_array().into_iter().flatten() {
        let boot = j["boot_volume"] == v["index"];
        let names: Vec<&str> = v["device_names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
            .collect();
        s.push_str(&format!(
            "volume {} ({}){}: start {} size {} type {}{}\n",
            v["index"],
            names.join(", "),
            if boot { " [boots]" } else { "" },
            v["start"],
            v["size"],
            v["partition_type"].as_str().unwrap_or("-"),
            v["partition_label"]
                .as_str()
                .map(|l| format!(" name '{l}'"))
                .unwrap_or_default(),
        ));
        let f = &v["filesystem"];
        if let Some(e) = f["error"].as_str() {
            s.push_str(&format!("  filesystem: {e}\n"));
            continue;
        }
        s.push_str(&format!(
            "  filesystem: {} uuid {} label {}\n",
            f["type"].as_str().unwrap_or(""),
            f["uuid"].as_str().unwrap_or("-"),
            f["label"].as_str().unwrap_or("-"),
        ));
        for w in f["warnings"].as_array().into_iter().flatten() {
            s.push_str(&format!("  warning: {}\n", w.as_str().unwrap_or("")));
        }
        let c = &f["config"];
        if let Some(e) = c["error"].as_str() {
            s.push_str(&format!("  config: {e}\n"));
            continue;
        }
        if c.is_null() {
            s.push_str("  config: none\n");
            continue;
        }
        s.push_str(&format!(
            "  config: {} ({})\n  default: {} '{}' ({})\n",
            c["path"].as_str().unwrap_or(""),
            c["language"].as_str().unwrap_or(""),
            c["default"].as_str().unwrap_or("-"),
            c["default_title"].as_str().unwrap_or(""),
            c["default_reason"].as_str().unwrap_or(""),
        ));
        for w in c["warnings"].as_array().into_iter().flatten() {
            s.push_str(&format!("  warning: {}\n", w.as_str().unwrap_or("")));
        }
        fn tree(items: &Value, depth: usize, s: &mut String) {
            for it in items.as_array().into_iter().flatten() {
                let ind = "  ".repeat(depth + 2);
                let id = it["id"]
                    .as_str()
                    .map(|i| format!(" [id {i}]"))
                    .unwrap_or_default();
                if it["type"] == "submenu" {
                    s.push_str(&format!(
                        "{ind}{} submenu '{}'{id}\n",
                        it["path"].as_str().unwrap_or(""),
                        it["title"].as_str().unwrap_or("")
                    ));
                    tree(&it["items"], depth + 1, s);
                    continue;
                }
                s.push_str(&format!(
                    "{ind}{} '{}'{id} ({})\n",
                    it["path"].as_str().unwrap_or(""),
                    it["title"].as_str().unwrap_or(""),
                    it["kind"].as_str().unwrap_or("")
                ));
                let show = |f: &Value| {
                    format!(
                        "{}{}",
                        f["path"].as_str().unwrap_or(""),
                        if f["exists"] == true {
                            ""
                        } else {
                            " (MISSING)"
                        }
                    )
                };
                if !it["kernel"].is_null() {
                    let xen = it["kernel"]["xen"]
                        .as_str()
                        .map(|x| format!(" [{x}]"))
                        .unwrap_or_default();
                    s.push_str(&format!("{ind}  kernel: {}{xen}\n", show(&it["kernel"])));
                }
                for i in it["initrds"].as_array().into_iter().flatten() {
                    s.push_str(&format!("{ind}  initrd: {}\n", show(i)));
                }
                s.push_str(&format!(
                    "{ind}  args: {}\n",
                    it["args"].as_str().unwrap_or("")
                ));
            }
        }
        tree(&c["items"], 0, &mut s);
    }
    s
}

/// Split `[VOLUME:]PATH` or `(DEVICE)PATH` into a volume and a path. Without a volume, the
/// first volume in boot order on which the path exists.
pub fn locate_spec(guest: &Guest, spec: &str) -> Result<(usize, String), String> {
    if let Some(rest) = spec.strip_prefix('(') {
        let (dev, p) = rest
            .split_once(')')
            .ok_or_else(|| format!("{spec}: unclosed device name"))?;
        let v = guest
            .volume_by_device(dev)
            .ok_or_else(|| format!("{spec}: no volume ({dev})"))?;
        return Ok((v, if p.is_empty() { "/".into() } else { p.into() }));
    }
    if let Some((n, p)) = spec.split_once(':') {
        if let Ok(v) = n.parse::<usize>() {
            if v >= guest.volumes.len() {
                return Err(format!("{spec}: no volume {v}"));
            }
            return Ok((v, p.to_string()));
        }
    }
    for &v in guest.boot_order() {
        if let Ok(fs) = guest.fs(v) {
            if path::resolve(fs, spec.as_bytes(), true).is_ok() {
                return Ok((v, spec.to_string()));
            }
        }
    }
    Err(format!("{spec}: no such file or directory on any volume"))
}

/// `ls`: a directory's entries (or a file's own line), one per line: type, size, name.
pub fn ls(guest: &Guest, spec: &str) -> Result<String, String> {
    let (v, p) = locate_spec(guest, spec)?;
    let fs = guest.fs(v)?;
    let node = path::resolve(fs, p.as_bytes(), true).map_err(|e| e.to_string())?;
    let meta = fs.metadata(node).map_err(|e| format!("{p}: {e}"))?;
    let line = |kind: Option<FileType>, size: Option<u64>, name: &str| {
        let k = match kind {
            Some(FileType::Directory) => 'd',
            Some(FileType::Symlink) => 'l',
            Some(FileType::Regular) => '-',
            _ => '?',
        };
        format!(
            "{k} {:>12} {name}\n",
            size.map(|s| s.to_string()).unwrap_or_default()
        )
    };
    if meta.kind != FileType::Directory {
        return Ok(line(Some(meta.kind), Some(meta.size), &p));
    }
    let mut entries = fs.read_dir(node).map_err(|e| format!("{p}: {e}"))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut s = String::new();
    for e in entries {
        let m = fs.metadata(e.node).ok();
        let name = String::from_utf8_lossy(&e.name);
        s.push_str(&line(
            m.as_ref().map(|m| m.kind).or(e.kind),
            m.map(|m| m.size),
            &name,
        ));
    }
    Ok(s)
}

/// `cat`: the file's bytes to standard output (fd 1, inherited), at most `cap` bytes.
pub fn cat(guest: &Guest, spec: &str, cap: u64) -> Result<(), String> {
    let (v, p) = locate_spec(guest, spec)?;
    let fs = guest.fs(v)?;
    let node = path::resolve(fs, p.as_bytes(), true).map_err(|e| e.to_string())?;
    let meta = fs.metadata(node).map_err(|e| format!("{p}: {e}"))?;
    if meta.kind != FileType::Regular {
        return Err(format!("{p}: not a regular file"));
    }
    if meta.size > cap {
        return Err(format!(
            "{p}: {} bytes is more than the {cap}-byte limit",
            meta.size
        ));
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    let mut out = std::io::stdout().lock();
    while off < meta.size {
        let n = fs
            .read_at(node, off, &mut buf)
            .map_err(|e| format!("{p}: {e}"))?;
        if n == 0 {
            return Err(format!("{p}: file ends at {off} of {} bytes", meta.size));
        }
        out.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| format!("stdout: {e}"))?;
        off += n as u64;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    Ok(())
}
