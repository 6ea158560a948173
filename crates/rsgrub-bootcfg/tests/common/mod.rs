//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use rsgrub_bootcfg::{Entry, FileRef, FileSource, Item, MapSource, Menu, SearchKind};

/// `tests/data/<rel>`.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A MapSource holding every file under `tests/data/<dir>` at `<mount>/<relative path>`.
pub fn tree(dir: &str, mount: &str) -> MapSource {
    fn walk(base: &Path, cur: &Path, mount: &str, src: &mut MapSource) {
        for e in std::fs::read_dir(cur).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, mount, src);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_str().unwrap();
                let key = format!("{}/{}", mount.trim_end_matches('/'), rel);
                let data = std::fs::read(&p).unwrap();
                *src = std::mem::take(src).with(&key, data);
            }
        }
    }
    let base = data(dir);
    let mut src = MapSource::default();
    walk(&base, &base, mount, &mut src);
    src
}

/// [`tree`], with every file on GRUB device `device` instead of the config's own volume.
pub fn tree_on(dir: &str, mount: &str, device: &str) -> MapSource {
    let t = tree(dir, mount);
    let mut out = MapSource::default();
    for ((_, p), d) in t.files {
        out.files.insert((device.to_string(), p), d);
    }
    out
}

/// Merge two sources.
pub fn merge(mut a: MapSource, b: MapSource) -> MapSource {
    a.files.extend(b.files);
    a
}

/// Lines as owned strings.
pub fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A GRUB environment block of 1024 bytes, as grub-editenv writes it.
pub fn grubenv(vars: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from("# GRUB Environment Block\n");
    for (k, v) in vars {
        s.push_str(&format!("{k}={v}\n"));
    }
    while s.len() < 1024 {
        s.push('#');
    }
    s.into_bytes()
}

/// A FileSource with `search` answers.
#[derive(Default)]
pub struct Src {
    pub map: MapSource,
    pub searches: Vec<(SearchKind, String, String)>,
    pub dirs: Vec<String>,
}

impl Src {
    pub fn new(map: MapSource) -> Self {
        Src {
            map,
            ..Src::default()
        }
    }
    pub fn search(mut self, kind: SearchKind, value: &str, dev: &str) -> Self {
        self.searches.push((kind, value.into(), dev.into()));
        self
    }
}

impl FileSource for Src {
    fn read_file(&mut self, device: Option<&str>, path: &str, max: usize) -> Option<Vec<u8>> {
        self.map.read_file(device, path, max)
    }
    fn is_dir(&mut self, device: Option<&str>, path: &str) -> bool {
        device.is_none() && self.dirs.iter().any(|d| d == path)
    }
    fn list_dir(&mut self, device: Option<&str>, path: &str) -> Option<Vec<String>> {
        self.map.list_dir(device, path)
    }
    fn search(&mut self, kind: SearchKind, value: &str) -> Option<String> {
        self.searches
            .iter()
            .find(|(k, v, _)| *k == kind && v == value)
            .map(|(_, _, d)| d.clone())
    }
}

pub fn f(path: &str) -> FileRef {
    FileRef {
        device: None,
        path: path.into(),
    }
}

pub fn fd(dev: &str, path: &str) -> FileRef {
    FileRef {
        device: Some(dev.into()),
        path: path.into(),
    }
}

/// The default entry (panics if there is none).
pub fn default_entry(m: &Menu) -> &Entry {
    let p = m.default.as_ref().expect("a default");
    m.entry(p)
        .unwrap_or_else(|| panic!("default path {p:?} is not an entry"))
}

/// Titles of a list of items; submenus as `"title/"`.
pub fn titles(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Item::Entry(e) => e.title.clone(),
            Item::Submenu(s) => format!("{}/", s.title),
        })
        .collect()
}

pub fn submenu<'a>(m: &'a Menu, path: &[usize]) -> &'a rsgrub_bootcfg::Submenu {
    match m.get(path) {
        Some(Item::Submenu(s)) => s,
        other => panic!("{path:?} is not a submenu: {other:?}"),
    }
}

pub fn initrds(e: &Entry) -> Vec<String> {
    e.initrds.iter().map(ToString::to_string).collect()
}

pub fn kernel(e: &Entry) -> String {
    e.kernel
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}
