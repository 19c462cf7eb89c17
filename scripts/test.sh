#!/usr/bin/env bash
# Runs every test of Relais from a clean clone: installs what is missing, checks formatting and
# lints, builds the binary the end-to-end tests start, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the binaries the end-to-end tests start"
cargo build --locked -p relais -p relais-e2e --bins

step "Rust tests"
cargo test --workspace --locked --no-fail-fast

step "browser tests (Chromium, Firefox ESR) in a network namespace"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
(cd tests/browser && ../../scripts/netns.sh node --test --test-concurrency=1)
