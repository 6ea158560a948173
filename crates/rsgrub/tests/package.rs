//! The Debian package: scripts/build-deb.sh (run on the binary and the build script's man
//! pages and completions that this test was built with), its contents per `dpkg-deb -c`,
//! its control fields, the man page rendered by man-db, the bash completion loaded by bash;
//! then (as root, in CI) `dpkg -i`, the installed command, `man -w`, and `dpkg -r`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// scripts/build-deb.sh into `out`, packaging the binary and assets of this build.
fn build_deb(out: &Path) -> PathBuf {
    let stdout = run(Command::new("sh")
        .arg(repo().join("scripts/build-deb.sh"))
        .arg(out)
        .env("RSGRUB_BIN", env!("CARGO_BIN_EXE_rsgrub"))
        .env("RSGRUB_ASSETS", concat!(env!("OUT_DIR"), "/assets")));
    let deb = PathBuf::from(stdout.lines().last().unwrap().trim());
    assert!(deb.is_file(), "{deb:?}");
    deb
}

const FILES: &[&str] = &[
    "./usr/bin/rsgrub",
    "./usr/share/man/man1/rsgrub.1.gz",
    "./usr/share/man/man1/rsgrub-inspect.1.gz",
    "./usr/share/man/man1/rsgrub-ls.1.gz",
    "./usr/share/man/man1/rsgrub-cat.1.gz",
    "./usr/share/bash-completion/completions/rsgrub",
    "./usr/share/zsh/vendor-completions/_rsgrub",
    "./usr/share/fish/vendor_completions.d/rsgrub.fish",
    "./usr/share/doc/rsgrub/copyright",
];

/// `dpkg -r rsgrub` when dropped, so a failed assertion does not leave it installed.
struct Installed;
impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-r", "rsgrub"]).output();
    }
}

#[test]
fn debian_package_builds_installs_and_removes() {
    for tool in ["dpkg-deb", "dpkg", "man", "gzip"] {
        if !have(tool) {
            assert!(!in_ci(), "CI=true and {tool} is not installed");
            eprintln!("SKIPPED: {tool} is not installed");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_deb(tmp.path());
    let version = env!("CARGO_PKG_VERSION");
    let arch = run(Command::new("dpkg").arg("--print-architecture"));
    assert_eq!(
        deb.file_name().unwrap().to_string_lossy(),
        format!("rsgrub_{version}_{}.deb", arch.trim())
    );

    // Contents.
    let list = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for f in FILES {
        assert!(
            list.lines().any(|l| l.ends_with(&format!(" {f}"))),
            "{f} missing from:\n{list}"
        );
    }
    let link = list
        .lines()
        .find(|l| l.contains("./usr/lib/rsgrub/pygrub"))
        .expect("pygrub link");
    assert!(link.starts_with('l'), "{link}");
    assert!(link.ends_with("-> ../../bin/rsgrub"), "{link}");
    assert!(
        list.lines()
            .all(|l| l.split_whitespace().nth(1) == Some("root/root")),
        "owned by root:\n{list}"
    );

    // Control fields.
    let field = |f: &str| {
        run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(f))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "rsgrub");
    assert_eq!(field("Version"), version);
    assert_eq!(field("Architecture"), arch.trim());
    assert!(field("Depends").contains("libc6"), "{}", field("Depends"));
    assert!(field("Description").starts_with("safe drop-in replacement for Xen's PyGrub"));
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(info.contains("md5sums"), "{info}");

    // The unpacked files: man-db renders the page; bash loads the completion.
    let root = tmp.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let page = run(Command::new("man")
        .arg("-l")
        .arg(root.join("usr/share/man/man1/rsgrub.1.gz"))
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat"));
    for s in [
        "NAME",
        "rsgrub - A safe",
        "--output-format",
        "rsgrub-inspect(1)",
        "USE WITH XL",
        "/usr/lib/rsgrub/pygrub",
    ] {
        assert!(page.contains(s), "man page lacks {s:?}:\n{page}");
    }
    let sub = run(Command::new("man")
        .arg("-l")
        .arg(root.join("usr/share/man/man1/rsgrub-inspect.1.gz"))
        .env("MANPAGER", "cat"));
    assert!(
        sub.contains("rsgrub inspect") && sub.contains("--json"),
        "{sub}"
    );
    if have("bash") {
        let c = run(Command::new("bash").arg("-c").arg(format!(
            ". '{}' && complete -p rsgrub",
            root.join("usr/share/bash-completion/completions/rsgrub")
                .display()
        )));
        assert!(c.contains("rsgrub"), "{c}");
    }
    let zsh =
        std::fs::read_to_string(root.join("usr/share/zsh/vendor-completions/_rsgrub")).unwrap();
    assert!(zsh.starts_with("#compdef rsgrub"), "{}", &zsh[..40]);
    let fish =
        std::fs::read_to_string(root.join("usr/share/fish/vendor_completions.d/rsgrub.fish"))
            .unwrap();
    assert!(fish.contains("complete -c rsgrub") && fish.contains("output-format"));

    // Install, use, remove: as root, in CI (or when asked: it changes the system).
    let asked = std::env::var("RSGRUB_TEST_INSTALL").is_ok_and(|v| v == "1");
    if !(in_ci() || asked) {
        eprintln!("SKIPPED: dpkg -i (set CI=true or RSGRUB_TEST_INSTALL=1, as root)");
        return;
    }
    assert!(is_root(), "installing the package needs root");
    let guard = Installed;
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let v = run(Command::new("/usr/bin/rsgrub").arg("--version"));
    assert_eq!(v.trim(), format!("rsgrub {version}"));
    let v = run(Command::new("/usr/lib/rsgrub/pygrub").arg("--version"));
    assert!(v.contains(version), "{v}");
    let w = run(Command::new("man").args(["-w", "rsgrub"]));
    assert_eq!(w.trim(), "/usr/share/man/man1/rsgrub.1.gz");
    let w = run(Command::new("man").args(["-w", "rsgrub-inspect"]));
    assert_eq!(w.trim(), "/usr/share/man/man1/rsgrub-inspect.1.gz");
    for f in FILES {
        assert!(Path::new(&f[1..]).exists(), "{f} not installed");
    }
    let status = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", "rsgrub"]));
    assert_eq!(status, "install ok installed");

    run(Command::new("dpkg").args(["-r", "rsgrub"]));
    std::mem::forget(guard);
    for f in FILES {
        assert!(!Path::new(&f[1..]).exists(), "{f} left after dpkg -r");
    }
    assert!(!Path::new("/usr/lib/rsgrub/pygrub").exists());
}
