//! Retention of call data: records (with their legs and chat), agent state changes and audit
//! entries older than `[records] retention_days` are deleted once a day while the server runs,
//! and on demand by `relais purge`. Calls in progress are never touched.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use relais_store::{Purged, Store};

use crate::config::Config;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// The first purge runs this long after start, off the start-up path.
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(60);
const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The instant before which data goes, keeping `days` days before `now_ms`.
pub fn cut_off(now_ms: i64, days: u32) -> i64 {
    now_ms - i64::from(days) * DAY_MS
}

/// `relais purge`: deletes what is older than `days` days from the configured store. Returns
/// the cut-off (RFC 3339) and what was deleted.
pub fn purge(config: &Config, days: u32) -> anyhow::Result<(String, Purged)> {
    if let Some(why) = crate::accounts::wrong_user(&config.data_dir) {
        anyhow::bail!(why);
    }
    let path = config.data_dir.join("relais.sqlite3");
    let store =
        Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    let before = cut_off(jiff::Timestamp::now().as_millisecond(), days);
    let purged = store
        .purge_before(before)
        .with_context(|| format!("purging {}", path.display()))?;
    let shown =
        jiff::Timestamp::from_millisecond(before).map_or(before.to_string(), |at| at.to_string());
    Ok((shown, purged))
}

/// The daily purge of a running server (nothing when `days` is 0).
pub async fn daily(store: Arc<Store>, days: u32) {
    if days == 0 {
        return;
    }
    tokio::time::sleep(FIRST_PURGE_AFTER).await;
    loop {
        let before = cut_off(jiff::Timestamp::now().as_millisecond(), days);
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.purge_before(before)).await {
            Ok(Ok(purged)) => tracing::info!(
                retention_days = days,
                calls = purged.calls,
                agent_states = purged.agent_states,
                audit = purged.audit,
                "records older than the retention period deleted"
            ),
            Ok(Err(err)) => {
                tracing::error!(error = %err, "the daily purge failed; it runs again tomorrow")
            }
            Err(err) => tracing::error!(error = %err, "the daily purge's task failed"),
        }
        tokio::time::sleep(PURGE_EVERY).await;
    }
}
