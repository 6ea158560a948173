//! Replay every fuzz corpus file (fuzz/corpus/fs_*/) through its driver: no panic, no hang.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::path::Path;
use std::sync::Arc;

#[test]
fn replay_fuzz_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut n = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some(driver) = name.strip_prefix("fs_") else {
            continue;
        };
        let d = rsgrub_fs::DRIVERS
            .iter()
            .find(|d| d.name.starts_with(driver) || (driver == "ext4" && d.name.starts_with("ext")))
            .unwrap_or_else(|| panic!("no driver for corpus {name}"));
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            }
            let mut data = std::fs::read(&f).unwrap();
            if driver == "zfs" {
                // Seeds skip the empty boot area (see fuzz_targets/fs_zfs.rs).
                data = rsgrub_fs::zfs::fuzz_image(&data);
            }
            let dev: rsgrub_io::DynReader = Arc::new(data);
            if (d.probe)(&*dev) {
                if let Ok(fs) = (d.open)(dev) {
                    rsgrub_fs::walk::exercise(fs.as_ref(), 2_000, 8 << 20);
                }
            }
            n += 1;
        }
    }
    eprintln!("replayed {n} corpus files");
}
