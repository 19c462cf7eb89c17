//! The store's one error type, and its conversions from SQLite and IO errors.

use thiserror::Error;

/// Everything that can go wrong reading or writing the store.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// SQLite refused an operation (or returned something the store cannot read).
    #[error("sqlite: {0}")]
    Sqlite(String),
    /// A call's record was written twice; a call ends exactly once.
    #[error("call {0} is already recorded")]
    Duplicate(u64),
    /// A call that was never recorded was asked to be completed.
    #[error("call {0} is not recorded")]
    UnknownCall(u64),
    /// The database was written by a newer Relais; this one will not touch it.
    #[error(
        "database schema version {found} is newer than this Relais supports ({supported}); \
         upgrade Relais or restore an older database"
    )]
    TooNew {
        /// Schema version found in the file (`PRAGMA user_version`).
        found: u32,
        /// Newest schema version this build knows.
        supported: u32,
    },
    /// The file system refused to create the database's directory.
    #[error("io: {0}")]
    Io(String),
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error.to_string())
    }
}
