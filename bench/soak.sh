#!/usr/bin/env bash
# Soak: churns calls through the real server with the load generator for M minutes (default
# 10) and prints, after every round, the server's resident memory, open descriptors and
# threads; fails if a call made has no record (or more than one) or if any of them grows.
# The test suite runs the same soak for 45 s.
#
#   bench/soak.sh [minutes]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
cargo build --locked -p relais --bin relais
RELAIS_SOAK_SECS=$((minutes * 60)) \
    cargo test --locked -p relais-e2e --test soak -- --nocapture
