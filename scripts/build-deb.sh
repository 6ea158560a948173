#!/bin/sh
# Build the Debian package rsgrub_<version>_<arch>.deb with dpkg-deb (no cargo-deb).
#
#   sh scripts/build-deb.sh [OUTDIR]          (default OUTDIR: target/debian)
#
# It runs `cargo build --release -p rsgrub` and finds the binary and the build script's
# generated man pages and completions ($OUT_DIR/assets, see crates/rsgrub/build.rs) from
# cargo's JSON messages. To package an already built binary instead, set both
#   RSGRUB_BIN=/path/to/rsgrub  RSGRUB_ASSETS=/path/to/out/assets
# Prints the path of the .deb on its last line.
set -eu
umask 022
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/debian}
mkdir -p "$out"
out=$(cd "$out" && pwd)

die() {
    echo "build-deb: $*" >&2
    exit 1
}
for tool in dpkg-deb dpkg gzip install md5sum; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

bin=${RSGRUB_BIN:-}
assets=${RSGRUB_ASSETS:-}
if [ -z "$bin" ] || [ -z "$assets" ]; then
    command -v cargo >/dev/null || die "cargo is required (or set RSGRUB_BIN and RSGRUB_ASSETS)"
    json=$(mktemp)
    trap 'rm -f "$json"' EXIT
    (cd "$root" && cargo build --release -p rsgrub --message-format=json-render-diagnostics) >"$json" ||
        die "cargo build failed"
    # The rsgrub binary ("executable" of the bin target) and the rsgrub package's build
    # script output directory. package_id is "path+file:///…/crates/rsgrub#0.1.0" (cargo
    # 1.77+) or "rsgrub 0.1.0 (path+file:///…)" (older).
    bin=$(grep '"reason":"compiler-artifact"' "$json" |
        grep '"executable":"[^"]*/rsgrub"' |
        sed 's/.*"executable":"\([^"]*\)".*/\1/' | tail -n 1)
    assets=$(grep '"reason":"build-script-executed"' "$json" |
        grep -E '"package_id":"([^"]*/crates/rsgrub#|rsgrub [0-9])' |
        sed 's/.*"out_dir":"\([^"]*\)".*/\1/' | tail -n 1)
    [ -n "$assets" ] && assets=$assets/assets
    rm -f "$json"
    trap - EXIT
fi
[ -x "$bin" ] || die "no rsgrub binary (got '$bin')"
[ -f "$assets/man/rsgrub.1" ] || die "no generated man page in '$assets/man'"
for c in rsgrub.bash _rsgrub rsgrub.fish; do
    [ -f "$assets/completions/$c" ] || die "no generated completion $assets/completions/$c"
done

version=$("$bin" --version | awk '{print $2; exit}')
[ -n "$version" ] || die "cannot read the version from '$bin --version'"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/rsgrub

install -D -m 0755 "$bin" "$pkg/usr/bin/rsgrub"
if command -v strip >/dev/null; then
    strip --strip-unneeded --remove-section=.comment "$pkg/usr/bin/rsgrub"
fi
mkdir -p "$pkg/usr/share/man/man1"
for page in "$assets"/man/*.1; do
    gzip -9 -n -c "$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done
install -D -m 0644 "$assets/completions/rsgrub.bash" "$pkg/usr/share/bash-completion/completions/rsgrub"
install -D -m 0644 "$assets/completions/_rsgrub" "$pkg/usr/share/zsh/vendor-completions/_rsgrub"
install -D -m 0644 "$assets/completions/rsgrub.fish" "$pkg/usr/share/fish/vendor_completions.d/rsgrub.fish"
# XAPI runs `pygrub`; rsgrub speaks PyGrub's error format when called by that name.
mkdir -p "$pkg/usr/lib/rsgrub"
ln -s ../../bin/rsgrub "$pkg/usr/lib/rsgrub/pygrub"
install -D -m 0644 "$root/packaging/copyright" "$pkg/usr/share/doc/rsgrub/copyright"

# Depends: from the binary's shared libraries (dpkg-shlibdeps wants a debian/control).
depends=
if command -v dpkg-shlibdeps >/dev/null; then
    mkdir -p "$stage/src/debian"
    printf 'Source: rsgrub\n\nPackage: rsgrub\nArchitecture: any\n' >"$stage/src/debian/control"
    depends=$(cd "$stage/src" && dpkg-shlibdeps -O -e"$pkg/usr/bin/rsgrub" 2>/dev/null |
        sed -n 's/^shlibs:Depends=//p') || depends=
fi
[ -n "$depends" ] || depends=libc6

size=$(du -sk "$pkg" | cut -f1)
mkdir -p "$pkg/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$root/packaging/control.in" >"$pkg/DEBIAN/control"
(cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

deb=$out/rsgrub_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
