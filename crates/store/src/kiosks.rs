//! Enrolled kiosks: created by an administrator with a one-time pairing code, paired once,
//! revocable. Only the SHA-256 of a pairing code is stored.

use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::Result;

/// One enrolled kiosk. Times are Unix milliseconds UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kiosk {
    pub kiosk_id: String,
    pub site: String,
    /// The services it may call; empty: every service.
    pub services: Vec<String>,
    pub created_at_ms: i64,
    pub created_by: String,
    /// When its pending pairing code stops working (none pending: `None`).
    pub pairing_expires_ms: Option<i64>,
    pub paired_at_ms: Option<i64>,
    /// Bumped at each pairing: the generation a device credential must carry.
    pub generation: u32,
    pub revoked_at_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
}

const COLUMNS: &str = "kiosk_id, site, services, created_at_ms, created_by, pairing_expires_ms, \
                       paired_at_ms, generation, revoked_at_ms, last_seen_ms";

fn kiosk_from_row(row: &Row<'_>) -> rusqlite::Result<Kiosk> {
    let services: String = row.get(2)?;
    Ok(Kiosk {
        kiosk_id: row.get(0)?,
        site: row.get(1)?,
        services: serde_json::from_str(&services).unwrap_or_default(),
        created_at_ms: row.get(3)?,
        created_by: row.get(4)?,
        pairing_expires_ms: row.get(5)?,
        paired_at_ms: row.get(6)?,
        generation: row.get(7)?,
        revoked_at_ms: row.get(8)?,
        last_seen_ms: row.get(9)?,
    })
}

impl Store {
    /// Creates a kiosk with a pending pairing code (its hash); `false` when the id exists.
    pub fn create_kiosk(&self, kiosk: &Kiosk, pairing_hash: &str) -> Result<bool> {
        let services = serde_json::to_string(&kiosk.services).unwrap_or_else(|_| "[]".into());
        let inserted = self.connection().execute(
            "INSERT INTO kiosks (kiosk_id, site, services, created_at_ms, created_by, pairing_hash, \
             pairing_expires_ms, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0) \
             ON CONFLICT (kiosk_id) DO NOTHING",
            (
                &kiosk.kiosk_id,
                &kiosk.site,
                services,
                kiosk.created_at_ms,
                &kiosk.created_by,
                pairing_hash,
                kiosk.pairing_expires_ms,
            ),
        )?;
        Ok(inserted == 1)
    }

    /// Gives a kiosk a new pending pairing code (a replaced device, a lost credential), and
    /// lifts a revocation; `false` when there is no such kiosk.
    pub fn renew_kiosk_pairing(&self, kiosk_id: &str, hash: &str, expires_ms: i64) -> Result<bool> {
        let changed = self.connection().execute(
            "UPDATE kiosks SET pairing_hash = ?2, pairing_expires_ms = ?3, revoked_at_ms = NULL \
             WHERE kiosk_id = ?1",
            (kiosk_id, hash, expires_ms),
        )?;
        Ok(changed == 1)
    }

    /// Uses a pairing code: the kiosk whose pending code has this hash and has not expired at
    /// `now_ms`, now paired (the code is gone, the generation bumped). `None`: no such code.
    pub fn pair_kiosk(&self, hash: &str, now_ms: i64) -> Result<Option<Kiosk>> {
        let connection = self.connection();
        let kiosk_id: Option<String> = connection
            .query_row(
                "UPDATE kiosks SET pairing_hash = NULL, pairing_expires_ms = NULL, \
                 paired_at_ms = ?2, generation = generation + 1 \
                 WHERE pairing_hash = ?1 AND pairing_expires_ms > ?2 AND revoked_at_ms IS NULL \
                 RETURNING kiosk_id",
                (hash, now_ms),
                |row| row.get(0),
            )
            .optional()?;
        drop(connection);
        match kiosk_id {
            Some(id) => self.kiosk(&id),
            None => Ok(None),
        }
    }

    /// Revokes a kiosk: its credentials and pending code stop working. `false`: no such kiosk.
    pub fn revoke_kiosk(&self, kiosk_id: &str, at_ms: i64) -> Result<bool> {
        let changed = self.connection().execute(
            "UPDATE kiosks SET revoked_at_ms = ?2, pairing_hash = NULL, pairing_expires_ms = NULL \
             WHERE kiosk_id = ?1",
            (kiosk_id, at_ms),
        )?;
        Ok(changed == 1)
    }

    /// Notes that a kiosk connected at `at_ms`.
    pub fn touch_kiosk(&self, kiosk_id: &str, at_ms: i64) -> Result<()> {
        self.connection().execute(
            "UPDATE kiosks SET last_seen_ms = ?2 WHERE kiosk_id = ?1",
            (kiosk_id, at_ms),
        )?;
        Ok(())
    }

    /// One kiosk.
    pub fn kiosk(&self, kiosk_id: &str) -> Result<Option<Kiosk>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM kiosks WHERE kiosk_id = ?1"))?;
        Ok(statement.query_row([kiosk_id], kiosk_from_row).optional()?)
    }

    /// Every kiosk, by id.
    pub fn kiosks(&self) -> Result<Vec<Kiosk>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM kiosks ORDER BY kiosk_id"))?;
        let rows = statement.query_map([], kiosk_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("relais-store-kiosks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Store::open(&dir.join("relais.sqlite3")).unwrap(), dir)
    }

    fn kiosk(id: &str) -> Kiosk {
        Kiosk {
            kiosk_id: id.into(),
            site: "mairie-de-chambon".into(),
            services: vec!["caf".into()],
            created_at_ms: 1_000,
            created_by: "admin".into(),
            pairing_expires_ms: Some(10_000),
            paired_at_ms: None,
            generation: 0,
            revoked_at_ms: None,
            last_seen_ms: None,
        }
    }

    #[test]
    fn a_pairing_code_works_once_before_it_expires_and_revocation_ends_it() {
        let (store, dir) = store();
        assert!(store.create_kiosk(&kiosk("borne-1"), "h1").unwrap());
        assert!(
            !store.create_kiosk(&kiosk("borne-1"), "h2").unwrap(),
            "the id is taken"
        );
        assert!(
            store.pair_kiosk("h1", 10_000).unwrap().is_none(),
            "expired at 10 000"
        );
        let paired = store.pair_kiosk("h1", 5_000).unwrap().unwrap();
        assert_eq!((paired.generation, paired.paired_at_ms), (1, Some(5_000)));
        assert_eq!(paired.services, ["caf"]);
        assert!(
            store.pair_kiosk("h1", 5_001).unwrap().is_none(),
            "used once"
        );

        assert!(store.renew_kiosk_pairing("borne-1", "h3", 20_000).unwrap());
        assert!(store.revoke_kiosk("borne-1", 6_000).unwrap());
        assert!(store.pair_kiosk("h3", 7_000).unwrap().is_none(), "revoked");
        assert!(store.renew_kiosk_pairing("borne-1", "h4", 20_000).unwrap());
        let again = store.pair_kiosk("h4", 8_000).unwrap().unwrap();
        assert_eq!((again.generation, again.revoked_at_ms), (2, None));
        store.touch_kiosk("borne-1", 9_000).unwrap();
        assert_eq!(store.kiosks().unwrap()[0].last_seen_ms, Some(9_000));
        assert!(!store.revoke_kiosk("nobody", 1).unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }
}
