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

#[test]
fn purge_deletes_the_records_older_than_the_retention_and_keeps_the_rest() {
    use relais_proto::Outcome;
    use relais_store::{CallRecord, Store};
    let dir = temp_dir("cli-purge");
    let data = dir.join("data");
    let config = dir.join("relais.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[records]\nretention_days = 30\n",
            data.display()
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = 24 * 3600 * 1000;
    let record = |call_id: u64, days_ago: i64| CallRecord {
        call_id,
        queue: "caf".to_owned(),
        kiosk: "borne".to_owned(),
        site: "mairie".to_owned(),
        agent: None,
        outcome: Outcome::Abandoned,
        ended_by: None,
        end_reason: None,
        enqueued_at_ms: now - days_ago * day - 60_000,
        offered_at_ms: None,
        answered_at_ms: None,
        ended_at_ms: now - days_ago * day,
        wait_ms: 60_000,
        talk_ms: None,
        wrap_up_ms: None,
        attempts: 0,
        callback: false,
        disposition: None,
    };
    {
        let store = Store::open(&data.join("relais.sqlite3")).unwrap();
        for (id, days_ago) in [(1, 200), (2, 31), (3, 29), (4, 0)] {
            store.record_call(&record(id, days_ago)).unwrap();
        }
    }
    let (code, out, err) = relais(&["--config", config.to_str().unwrap(), "purge"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 calls"), "{out}");
    let store = Store::open(&data.join("relais.sqlite3")).unwrap();
    let kept: Vec<u64> = (1..=4)
        .filter(|id| store.call(*id).unwrap().is_some())
        .collect();
    assert_eq!(kept, [3, 4]);
    drop(store);
    // A shorter retention on the command line.
    let (code, out, err) = relais(&["--config", config.to_str().unwrap(), "purge", "--days", "7"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 calls"), "{out}");
}

#[test]
fn check_config_checks_the_services_administrators_changed_in_the_store() {
    let dir = temp_dir("cli-admin-services");
    let data = dir.join("data");
    let file = dir.join("relais.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\n[[services]]\nid = \"caf\"\nname = \"CAF\"\n",
            data.display()
        ),
    )
    .unwrap();
    let (code, out, err) = relais(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("administrators"), "no store yet: {out}");

    let store = relais_store::Store::open(&data.join("relais.sqlite3")).unwrap();
    let row = |id: &str, definition: &str| relais_store::AdminService {
        service_id: id.into(),
        definition: Some(definition.into()),
        updated_at_ms: 1,
        updated_by: "ines".into(),
    };
    store
        .put_admin_service(&row("mairie", r#"{"id": "mairie", "name": "Mairie"}"#))
        .unwrap();
    let (code, out, err) = relais(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 administrators' changes to services") && out.contains("2 services served"),
        "{out}"
    );

    // A change that no longer fits the file (it overflows to a service the file lacks).
    store
        .put_admin_service(&row(
            "mairie",
            r#"{"id": "mairie", "name": "Mairie", "overflow_to": "nulle-part"}"#,
        ))
        .unwrap();
    let (code, _, err) = relais(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nulle-part"), "{err}");
}
