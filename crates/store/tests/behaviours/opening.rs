//! Opening a store: first start, reopening, pragmas, schema versions.

use relais_store::{SCHEMA_VERSION, Store, StoreError};
use rusqlite::Connection;

use crate::support::{TempDir, answered_call};

fn names_in_schema(path: &std::path::Path, kind: &str) -> Vec<String> {
    let connection = Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = ?1 AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    statement
        .query_map([kind], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_fresh_file_is_created_with_the_schema() {
    let dir = TempDir::new();
    let path = dir.db();
    assert!(!path.exists());

    let store = Store::open(&path).unwrap();

    assert!(path.exists());
    assert_eq!(store.path(), path);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        names_in_schema(&path, "table"),
        [
            "admin_services",
            "agent_profiles",
            "agent_states",
            "audit",
            "call_chat",
            "call_documents",
            "call_legs",
            "call_notes",
            "callbacks",
            "calls",
            "counters",
            "heartbeat",
            "kiosks",
            "live_calls",
            "users",
            "web_sessions"
        ]
    );
    assert_eq!(
        names_in_schema(&path, "index"),
        [
            "agent_states_by_agent_time",
            "agent_states_by_time",
            "audit_by_time",
            "call_documents_by_call",
            "call_notes_by_case",
            "callbacks_pending",
            "calls_by_agent_end",
            "calls_by_end",
            "kiosks_by_pairing",
            "web_sessions_by_subject",
        ]
    );
    assert_eq!(store.max_call_id().unwrap(), None);
}

#[test]
fn the_file_is_in_wal_mode() {
    let dir = TempDir::new();
    let path = dir.db();
    drop(Store::open(&path).unwrap());

    // WAL mode is persistent: a plain connection sees it.
    let connection = Connection::open(&path).unwrap();
    let mode: String = connection
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_recorded_call_survives_reopening_the_file() {
    let dir = TempDir::new();
    let call = answered_call(41, "agent-ana", 1_700_000_000_000);
    {
        let store = Store::open(&dir.db()).unwrap();
        store.record_call(&call).unwrap();
    }

    let reopened = Store::open(&dir.db()).unwrap();

    assert_eq!(reopened.calls_between(i64::MIN, i64::MAX).unwrap(), [call]);
    assert_eq!(reopened.max_call_id().unwrap(), Some(41));
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let dir = TempDir::new();
    let call = answered_call(1, "agent-ana", 1_000);
    Store::open(&dir.db()).unwrap().record_call(&call).unwrap();

    for _ in 0..3 {
        let store = Store::open(&dir.db()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }

    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.calls_between(0, 2_000).unwrap(), [call]);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = TempDir::new();
    drop(Store::open(&dir.db()).unwrap());
    let newer = SCHEMA_VERSION + 7;
    Connection::open(dir.db())
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let error = Store::open(&dir.db()).unwrap_err();

    assert_eq!(
        error,
        StoreError::TooNew {
            found: newer,
            supported: SCHEMA_VERSION
        }
    );
    assert!(
        error
            .to_string()
            .contains("newer than this Relais supports")
    );
    // Refusing did not touch the file.
    let version: u32 = Connection::open(dir.db())
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, newer);
}

#[test]
fn a_path_that_cannot_be_a_directory_is_an_io_error() {
    let dir = TempDir::new();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"a file").unwrap();

    let error = Store::open(&blocker.join("relais.sqlite")).unwrap_err();

    assert!(matches!(error, StoreError::Io(_)), "{error:?}");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = TempDir::new();
    let path = dir.path().join("garbage.sqlite");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();

    let error = Store::open(&path).unwrap_err();

    assert!(matches!(error, StoreError::Sqlite(_)), "{error:?}");
}
