#!/usr/bin/env bash
# Runs the Relais server with its built-in defaults (or the arguments given, e.g.
# `scripts/run.sh --config config/relais.example.toml`), installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec cargo run --release --locked -p relais -- "$@"
