#!/usr/bin/env bash
# Installs what Relais needs on a fresh Debian machine, and nothing that is already there.
#   scripts/setup.sh          what building and running the server needs
#   scripts/setup.sh --test   plus what the test suite needs
set -euo pipefail

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is missing; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

# Debian packages: name of the package and a file that proves it is installed.
packages=(
    "pkg-config:/usr/bin/pkg-config"
    "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
    "binutils:/usr/bin/objdump"
    "libopus-dev:/usr/include/opus/opus.h"
)
if $want_test; then
    packages+=(
        "curl:/usr/bin/curl"
        "iproute2:/usr/sbin/ip"
        "chromium:/usr/bin/chromium"
        "firefox-esr:/usr/bin/firefox-esr"
        "fonts-liberation:/usr/share/fonts/truetype/liberation"
        "coturn:/usr/bin/turnserver"
        "nftables:/usr/sbin/nft"
        "prometheus:/usr/bin/promtool"
        "systemd:/usr/bin/systemd-analyze"
        "espeak-ng:/usr/bin/espeak-ng"
    )
fi

missing=()
for entry in "${packages[@]}"; do
    name="${entry%%:*}"
    proof="${entry#*:}"
    [[ -e "$proof" ]] || missing+=("$name")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if $want_test; then
    if ! command -v node >/dev/null 2>&1; then
        echo "setup: node is missing; install Node.js 20 or later" >&2
        exit 1
    fi
    # The browser suite's npm packages: puppeteer-core (it drives Debian's browsers) and
    # oidc-provider (a real OpenID provider for the sign-in tests).
    if [[ ! -d tests/browser/node_modules/puppeteer-core || ! -d tests/browser/node_modules/oidc-provider ]]; then
        echo "setup: installing the browser suite's npm packages"
        (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    fi
fi
