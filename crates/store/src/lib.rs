//! Relais store: durable call records, agent state changes and the supervision audit log, in a
//! SQLite file by default. A call's record is committed before its end is reported to anyone.
//!
//! The API is synchronous; the server calls it from `tokio::task::spawn_blocking`. One
//! connection sits behind a mutex, so a [`Store`] is `Send + Sync` and shared through `Arc`.
//! Every write commits (WAL, `synchronous=FULL`) before it returns.

mod accounts;
mod agents;
mod audit;
mod callbacks;
mod calls;
mod csv;
mod documents;
mod error;
mod journal;
mod kiosks;
mod migrate;
mod purge;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

pub use accounts::{AdminService, AgentProfile, User, WebSession};
pub use agents::AgentStateChange;
pub use audit::AuditEntry;
pub use callbacks::{CallbackDone, CallbackRow};
pub use calls::{CallRecord, CaseNote, ChatRecord, HistoryFilter, LegRecord};
pub use csv::calls_to_csv;
pub use documents::DocumentMeta;
pub use error::{Result, StoreError};
pub use journal::{JournalOp, LiveCall, LiveState};
pub use kiosks::Kiosk;
pub use purge::Purged;

/// How long a write waits for another connection (another process, a backup tool) to release
/// the file before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The newest schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = migrate::MIGRATIONS.len() as u32;

/// A handle on the store's SQLite file.
pub struct Store {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating its directory and file on first start and bringing
    /// the schema up to date. A database written by a newer Relais is refused
    /// ([`StoreError::TooNew`]).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Io(format!("creating {}: {error}", parent.display()))
            })?;
        }
        let mut connection = Connection::open(path)?;
        configure(&connection)?;
        migrate::migrate(&mut connection)?;
        Ok(Store {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32> {
        migrate::user_version(&self.connection())
    }

    /// The connection, for one operation. A panic while it was held cannot have left a
    /// transaction open (dropping a transaction rolls it back), so a poisoned lock is reused.
    pub(crate) fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Durability and integrity settings, applied on every open.
fn configure(connection: &Connection) -> Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let journal_mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "SQLite kept journal mode {journal_mode:?} instead of WAL \
             (is the file on a network file system?)"
        )));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// SQLite integers are signed; call ids beyond `i64::MAX` cannot be stored.
pub(crate) fn call_id_to_sql(call_id: u64) -> Result<i64> {
    i64::try_from(call_id).map_err(|_| {
        StoreError::Sqlite(format!("call id {call_id} exceeds SQLite's integer range"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_is_durable_and_checks_foreign_keys() {
        let dir = std::env::temp_dir().join(format!("relais-store-unit-{}", std::process::id()));
        let store = Store::open(&dir.join("pragmas.sqlite")).unwrap();
        let connection = store.connection();
        let pragma = |name: &str| -> i64 {
            connection
                .pragma_query_value(None, name, |row| row.get(0))
                .unwrap()
        };

        assert_eq!(pragma("synchronous"), 2, "FULL");
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("busy_timeout"), 5_000);
        drop(connection);
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
