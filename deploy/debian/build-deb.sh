#!/usr/bin/env bash
# Builds the Debian package of Relais from this workspace: relais_<version>_<arch>.deb.
#
#   deploy/debian/build-deb.sh [--binary PATH] [--out DIR]
#
#   --binary PATH  package this relais binary; without it, builds target/release/relais
#                  (cargo build --release --locked -p relais --bin relais)
#   --out DIR      where the package goes (default: target/debian)
#
# target/ is $CARGO_TARGET_DIR when it is set. Depends comes from dpkg-shlibdeps (package
# dpkg-dev) when it is installed, otherwise from the libraries the binary needs (objdump -p)
# and the packages holding them (dpkg -S); RELAIS_DEB_NO_SHLIBDEPS=1 takes the second way even
# where dpkg-shlibdeps is installed. Prints the path of the package it wrote.
set -euo pipefail

die() {
    echo "build-deb: $*" >&2
    exit 1
}

# A mistake on the command line: exit status 2.
usage_error() {
    echo "build-deb: $*" >&2
    echo "usage: deploy/debian/build-deb.sh [--binary PATH] [--out DIR] (--help for more)" >&2
    exit 2
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# Absolute form of a path given relative to the directory the script was started from.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target_dir=$(absolute "${CARGO_TARGET_DIR:-$root/target}")

binary=""
out=""
while (($#)); do
    case "$1" in
        --binary)
            (($# >= 2)) || usage_error "--binary needs a path"
            binary=$(absolute "$2")
            shift 2
            ;;
        --out)
            (($# >= 2)) || usage_error "--out needs a directory"
            out=$(absolute "$2")
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage_error "unknown argument: $1"
            ;;
    esac
done
out=${out:-$target_dir/debian}

for tool in dpkg dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian package dpkg)"
done

# The value of `key = "..."` in [section] of a Cargo.toml; `{workspace}` for
# `key.workspace = true` (or `key = { workspace = true }`); nothing when the key is absent.
toml_value() {
    local file=$1 section=$2 key=$3
    awk -v section="$section" -v key="$key" '
        /^[[:space:]]*\[/ {
            name = $0
            sub(/^[[:space:]]*\[/, "", name)
            sub(/\][[:space:]]*(#.*)?$/, "", name)
            in_section = (name == section)
            next
        }
        !in_section { next }
        match($0, "^[[:space:]]*" key "[[:space:]]*=[[:space:]]*\"[^\"]*\"") {
            value = substr($0, RSTART, RLENGTH)
            sub(/^[^"]*"/, "", value)
            sub(/"$/, "", value)
            print value
            exit
        }
        $0 ~ "^[[:space:]]*" key "[.]workspace[[:space:]]*=[[:space:]]*true" ||
        $0 ~ "^[[:space:]]*" key "[[:space:]]*=[[:space:]]*[{][[:space:]]*workspace[[:space:]]*=[[:space:]]*true" {
            print "{workspace}"
            exit
        }
    ' "$file"
}

# A field of the server crate's [package], followed into [workspace.package] when inherited.
package_field() {
    local value
    value=$(toml_value "$root/crates/server/Cargo.toml" package "$1")
    if [[ "$value" == "{workspace}" ]]; then
        value=$(toml_value "$root/Cargo.toml" workspace.package "$1")
    fi
    [[ -n "$value" ]] || die "no $1 for the relais package in crates/server/Cargo.toml or Cargo.toml"
    printf '%s\n' "$value"
}

crate_version=$(package_field version)
license=$(package_field license)
# A Cargo pre-release (1.0.0-rc.1) sorts before its release in Debian as 1.0.0~rc.1.
version=${crate_version//-/\~}
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "version $crate_version cannot be a Debian version"
arch=$(dpkg --print-architecture)

if [[ -z "$binary" ]]; then
    command -v cargo >/dev/null 2>&1 || die "cargo is missing; or give a binary with --binary"
    CARGO_TARGET_DIR="$target_dir" cargo build --release --locked -p relais --bin relais \
        --manifest-path "$root/Cargo.toml" >&2
    binary="$target_dir/release/relais"
fi
[[ -e "$binary" ]] || die "no binary at $binary"
[[ -f "$binary" && -x "$binary" ]] || die "$binary is not an executable file"
[[ "$(od -An -tx1 -N4 "$binary" | tr -d ' \n')" == "7f454c46" ]] || die "$binary is not an ELF binary"
said=$("$binary" --version 2>&1) || die "$binary --version failed: $said"
[[ "$said" == "relais $crate_version" ]] ||
    die "$binary says \"$said\", the workspace is relais $crate_version: build it again"

work=$(mktemp -d "${TMPDIR:-/tmp}/relais-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# dpkg-shlibdeps looks for the binary where debhelper would have put it: debian/<package>/.
stage="$work/debian/relais"
umask 022

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/relais" \
    "$stage/usr/share/doc/relais" "$stage/usr/share/relais/grafana" \
    "$stage/usr/share/relais/prometheus"

# The binary: a stripped copy, the input left as it is.
install -m 0755 "$binary" "$stage/usr/bin/relais"
if command -v strip >/dev/null 2>&1; then
    strip "$stage/usr/bin/relais"
else
    echo "build-deb: strip is missing (Debian package binutils): the binary is not stripped" >&2
fi

install -m 0644 "$root/deploy/systemd/relais.service" "$stage/lib/systemd/system/relais.service"

# The configuration: the example, its data in the service's StateDirectory.
config="$stage/etc/relais/relais.toml"
awk '
    /^[[:space:]]*\[/ { in_table = 1 }
    !in_table && /^[[:space:]]*data_dir[[:space:]]*=/ {
        print "data_dir = \"/var/lib/relais\""
        found = 1
        next
    }
    { print }
    END { if (!found) exit 3 }
' "$root/config/relais.example.toml" >"$config" ||
    die "config/relais.example.toml has no top-level data_dir line to point at /var/lib/relais"
chmod 0644 "$config"
[[ $(grep -c '^data_dir = "/var/lib/relais"$' "$config") == 1 ]] ||
    die "the packaged configuration does not set data_dir once"
said=$(env -i PATH="$PATH" "$binary" check-config "$config" 2>&1 >/dev/null) ||
    die "relais check-config refuses the packaged configuration: $said"

docs="$stage/usr/share/doc/relais"
install -m 0644 "$root/README.md" "$root/docs/deployment.md" "$docs/"
if [[ -f "$root/docs/protocol.md" ]]; then
    install -m 0644 "$root/docs/protocol.md" "$docs/"
fi
repository=$(toml_value "$root/Cargo.toml" workspace.package repository)
{
    echo "Relais"
    [[ -n "$repository" ]] && echo "Source: $repository"
    echo
    echo "License: $license"
} >"$docs/copyright"
chmod 0644 "$docs/copyright"

install -m 0644 "$root/deploy/grafana/relais.json" "$stage/usr/share/relais/grafana/"
shopt -s nullglob
rules=("$root"/deploy/prometheus/*.yml)
shopt -u nullglob
((${#rules[@]})) || die "no deploy/prometheus/*.yml"
install -m 0644 "${rules[@]}" "$stage/usr/share/relais/prometheus/"
# The script that makes the French spoken prompts of the wait with espeak-ng.
install -m 0755 "$root/scripts/make-prompts.sh" "$stage/usr/share/relais/make-prompts.sh"

# Depends: the packages holding the shared libraries the binary needs.
shlibdeps_depends() {
    printf 'Source: relais\n\nPackage: relais\nArchitecture: any\n' >"$work/debian/control"
    local line
    line=$(cd "$work" && dpkg-shlibdeps -O debian/relais/usr/bin/relais) || die "dpkg-shlibdeps failed"
    rm -f "$work/debian/control"
    printf '%s\n' "${line#shlibs:Depends=}"
}

# The package that holds a library, by the path the dynamic linker finds it at (with and
# without /usr, for systems with a merged /usr whose packages name the other one).
package_of() {
    local path=$1 candidate found
    for candidate in "$path" "${path#/usr}" "/usr$path" "$(readlink -f "$path")"; do
        found=$(dpkg -S "$candidate" 2>/dev/null | grep -v '^diversion' | head -n 1) || true
        if [[ -n "$found" ]]; then
            found=${found%%: *}
            printf '%s\n' "${found%%:*}"
            return 0
        fi
    done
    return 1
}

objdump_depends() {
    command -v objdump >/dev/null 2>&1 || die "objdump is missing (Debian package binutils)"
    local bin=$stage/usr/bin/relais needed lib path package glibc
    local -a packages=()
    needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
    [[ -n "$needed" ]] || die "objdump finds no shared library in $bin"
    local resolved
    resolved=$(ldd "$bin") || die "ldd cannot resolve the libraries of $bin"
    for lib in $needed; do
        path=$(awk -v lib="$lib" '
            $1 == lib && $2 == "=>" { print $3; exit }
            $1 ~ ("/" lib "$") { print $1; exit }
        ' <<<"$resolved")
        [[ -n "$path" && "$path" != "not" ]] || die "the dynamic linker does not find $lib"
        package=$(package_of "$path") || die "no installed package holds $path ($lib)"
        packages+=("$package")
    done
    # libc6 at least as new as the newest glibc symbol version the binary uses.
    glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)
    printf '%s\n' "${packages[@]}" | sort -u | while read -r package; do
        if [[ "$package" == libc6 && -n "$glibc" ]]; then
            printf 'libc6 (>= %s)\n' "$glibc"
        else
            printf '%s\n' "$package"
        fi
    done | paste -sd, - | sed 's/,/, /g'
}

if [[ "${RELAIS_DEB_NO_SHLIBDEPS:-}" != 1 ]] && command -v dpkg-shlibdeps >/dev/null 2>&1; then
    depends=$(shlibdeps_depends)
else
    depends=$(objdump_depends)
fi
[[ -n "$depends" ]] || die "no Depends computed"

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)

cat >"$stage/DEBIAN/control" <<EOF
Package: relais
Version: $version
Architecture: $arch
Maintainer: Relais maintainers <relais@localhost.invalid>
Installed-Size: $installed_size
Depends: $depends, adduser | passwd
Recommends: coturn
Suggests: espeak-ng
Section: net
Priority: optional
Description: media server and call distributor for video public-service contact centres
 Relais connects a citizen at a video kiosk (in a town hall, for instance) to a
 public service: the call waits in that service's queue until an agent accepts
 it in a browser console, and both see and hear each other through Relais's
 WebRTC SFU while supervisors watch live queue metrics.
 .
 One binary holds the SFU, the signalling websocket, the call distributor, the
 kiosk, agent and supervisor web consoles, Prometheus metrics and durable call
 records. This package installs it with a sandboxed systemd unit, a
 configuration to edit in /etc/relais, Prometheus alerting rules, a Grafana
 dashboard and the script that makes the spoken prompts of the wait
 (/usr/share/relais/make-prompts.sh, with espeak-ng). The service is not
 started until it is enabled.
EOF
echo "/etc/relais/relais.toml" >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$root/deploy/debian/$script" "$stage/DEBIAN/$script"
done
# Checksums of every file but the conffiles (dpkg keeps those itself).
(
    cd "$stage"
    find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | grep -vxF etc/relais/relais.toml |
        LC_ALL=C sort | while read -r file; do md5sum "$file"; done
) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 0755 {} +

mkdir -p "$out"
deb="$out/relais_${version}_${arch}.deb"
dpkg-deb --build --root-owner-group "$stage" "$deb" >/dev/null
echo "$deb"
