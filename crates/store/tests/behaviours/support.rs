//! Test scaffolding: a temporary directory removed on drop, and sample records.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use relais_proto::{EndReason, EndedBy, Outcome};
use relais_store::CallRecord;

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "relais-store-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where a store lives inside this directory (in a subdirectory, to prove it is created).
    pub fn db(&self) -> PathBuf {
        self.0.join("data").join("relais.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An answered call that ended at `ended_at_ms`, handled by `agent`.
pub fn answered_call(call_id: u64, agent: &str, ended_at_ms: i64) -> CallRecord {
    CallRecord {
        call_id,
        queue: "etat-civil".to_owned(),
        kiosk: "kiosk-12".to_owned(),
        site: "mairie-annexe-nord".to_owned(),
        agent: Some(agent.to_owned()),
        outcome: Outcome::Answered,
        enqueued_at_ms: ended_at_ms - 100_000,
        offered_at_ms: Some(ended_at_ms - 95_000),
        answered_at_ms: Some(ended_at_ms - 90_000),
        ended_at_ms,
        wait_ms: 10_000,
        talk_ms: Some(90_000),
        wrap_up_ms: None,
        attempts: 1,
        callback: false,
        disposition: None,
        ended_by: Some(EndedBy::Agent),
        end_reason: Some(EndReason::Hangup),
    }
}

/// A call abandoned in the queue before any agent was offered it.
pub fn abandoned_call(call_id: u64, ended_at_ms: i64) -> CallRecord {
    CallRecord {
        call_id,
        queue: "etat-civil".to_owned(),
        kiosk: "kiosk-3".to_owned(),
        site: "mairie-centre".to_owned(),
        agent: None,
        outcome: Outcome::Abandoned,
        enqueued_at_ms: ended_at_ms - 40_000,
        offered_at_ms: None,
        answered_at_ms: None,
        ended_at_ms,
        wait_ms: 40_000,
        talk_ms: None,
        wrap_up_ms: None,
        attempts: 0,
        callback: false,
        disposition: None,
        ended_by: None,
        end_reason: None,
    }
}
