//! The `relais` command line: version, configuration checks.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

use relais_e2e::{relais_bin, temp_dir};

fn relais(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(relais_bin())
        .args(args)
        .env_remove("RELAIS_CONFIG")
        .output()
        .expect("relais runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_package_version() {
    let (code, out, _) = relais(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("relais {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_config_accepts_the_example_and_prints_the_effective_configuration() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/relais.example.toml");
    let (code, out, err) = relais(&["check-config", example]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"127.0.0.1:8080\""), "{out}");
    assert!(out.contains("id = \"caf\""), "{out}");
}

#[test]
fn check_config_rejects_an_unknown_key_naming_it() {
    let dir = temp_dir("cli");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[http]\nlisten = \"127.0.0.1:0\"\nlisen = \"oops\"\n",
    )
    .unwrap();
    let (code, out, err) = relais(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("lisen"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn check_config_reports_a_missing_file() {
    let (code, _, err) = relais(&["check-config", "/nonexistent/relais.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/relais.toml"), "{err}");
}

#[test]
fn serve_refuses_a_bad_configuration_before_listening() {
    let dir = temp_dir("cli");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[media]\nshards = -1\n").unwrap();
    let (code, out, err) = relais(&["serve", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(!out.contains("listening"), "{out}");
    assert!(err.contains("shards"), "{err}");
}
