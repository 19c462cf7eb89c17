//! Embedded schema migrations, tracked with `PRAGMA user_version`, each applied in its own
//! transaction.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, StoreError};

/// The schema, one entry per version: entry `i` takes the database from version `i` to `i + 1`.
/// Append only; never edit a migration that has shipped.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_counters.sql"),
    include_str!("../migrations/0003_call_ends.sql"),
    include_str!("../migrations/0004_call_legs.sql"),
    include_str!("../migrations/0005_call_chat.sql"),
    include_str!("../migrations/0006_live_calls.sql"),
    include_str!("../migrations/0007_call_callback.sql"),
    include_str!("../migrations/0008_call_notes.sql"),
    include_str!("../migrations/0009_call_documents.sql"),
    include_str!("../migrations/0010_kiosks.sql"),
    include_str!("../migrations/0011_accounts.sql"),
    include_str!("../migrations/0012_admin_services.sql"),
    include_str!("../migrations/0013_callbacks.sql"),
];

/// Brings the database up to the newest schema this build knows, or refuses a newer one.
pub(crate) fn migrate(connection: &mut Connection) -> Result<()> {
    apply(connection, MIGRATIONS)
}

/// Applies the pending `migrations`. Each runs in an immediate transaction that also bumps
/// `user_version`, so a failed migration leaves the previous version intact and two processes
/// opening the same file cannot both apply one.
pub(crate) fn apply(connection: &mut Connection, migrations: &[&str]) -> Result<()> {
    let supported = version_count(migrations)?;
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = user_version(&transaction)?;
        if found > supported {
            return Err(StoreError::TooNew { found, supported });
        }
        let Some(migration) = migrations.get(found as usize) else {
            return Ok(());
        };
        transaction.execute_batch(migration).map_err(|error| {
            StoreError::Sqlite(format!(
                "migration to schema version {}: {error}",
                found + 1
            ))
        })?;
        transaction.pragma_update(None, "user_version", found + 1)?;
        transaction.commit()?;
    }
}

/// The schema version recorded in the file.
pub(crate) fn user_version(connection: &Connection) -> Result<u32> {
    let raw: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(raw).map_err(|_| {
        StoreError::Sqlite(format!(
            "unrecognised schema version {raw} (not a Relais store?)"
        ))
    })
}

fn version_count(migrations: &[&str]) -> Result<u32> {
    u32::try_from(migrations.len())
        .map_err(|_| StoreError::Sqlite("too many migrations".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_exists(connection: &Connection, name: &str) -> bool {
        connection
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    }

    #[test]
    fn a_failed_migration_leaves_the_previous_version_intact() {
        let mut connection = Connection::open_in_memory().unwrap();
        let migrations = [
            "CREATE TABLE first (x INTEGER);",
            "CREATE TABLE second (x INTEGER); THIS IS NOT SQL;",
        ];

        let error = apply(&mut connection, &migrations).unwrap_err();

        assert!(matches!(error, StoreError::Sqlite(ref m) if m.contains("schema version 2")));
        assert_eq!(user_version(&connection).unwrap(), 1);
        assert!(table_exists(&connection, "first"));
        assert!(!table_exists(&connection, "second"));
    }

    #[test]
    fn pending_migrations_are_applied_in_order() {
        let mut connection = Connection::open_in_memory().unwrap();
        apply(&mut connection, &["CREATE TABLE first (x INTEGER);"]).unwrap();

        apply(
            &mut connection,
            &[
                "CREATE TABLE first (x INTEGER);",
                "ALTER TABLE first ADD COLUMN y INTEGER;",
            ],
        )
        .unwrap();

        assert_eq!(user_version(&connection).unwrap(), 2);
        connection
            .execute("INSERT INTO first (x, y) VALUES (1, 2)", [])
            .unwrap();
    }

    #[test]
    fn a_negative_user_version_is_not_taken_for_a_relais_store() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.pragma_update(None, "user_version", -3).unwrap();

        let error = apply(&mut connection, MIGRATIONS).unwrap_err();

        assert!(matches!(error, StoreError::Sqlite(ref m) if m.contains("-3")));
    }
}
