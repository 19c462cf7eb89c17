//! The files a site deploys from `deploy/`: the systemd unit passes `systemd-analyze verify`
//! without a warning and keeps its sandbox.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use relais_e2e::{relais_bin, temp_dir};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join(path)
}

#[test]
fn the_systemd_unit_verifies_cleanly_and_is_sandboxed() {
    let unit = std::fs::read_to_string(deploy("systemd/relais.service")).unwrap();
    // Each sandboxing line that matters, once.
    for line in [
        "User=relais",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "StateDirectory=relais",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert_eq!(
            unit.lines().filter(|l| l.trim() == line).count(),
            1,
            "the unit has `{line}` once"
        );
    }

    // systemd-analyze checks that the command exists: point it at the binary under test.
    let dir = temp_dir("systemd-unit");
    let checked = dir.join("relais.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/relais", &relais_bin().display().to_string()),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run systemd-analyze ({err}): install it with scripts/setup.sh --test (Debian package `systemd`)")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // It exits 0 even on a line it ignores: any output is a defect of the unit.
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains("relais.service"),
        "systemd-analyze verify complained:\n{said}"
    );
}

#[test]
fn a_unit_with_a_bad_line_is_caught() {
    // The check above is only worth something if systemd-analyze reports what it ignores.
    let unit = std::fs::read_to_string(deploy("systemd/relais.service")).unwrap();
    let dir = temp_dir("systemd-unit-bad");
    let checked = dir.join("relais.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/relais", &relais_bin().display().to_string())
            .replace("ProtectSystem=strict", "ProtectSystem=sometimes"),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("relais.service") && said.contains("ProtectSystem")
            || said.contains("protect system"),
        "{said}"
    );
}
