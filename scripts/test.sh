#!/bin/sh
# The whole test suite: installs the tools the tests use, then runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo test --workspace --release
