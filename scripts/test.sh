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

step "build the relais binary"
cargo build --locked -p relais

step "tests"
cargo test --workspace --locked --no-fail-fast
