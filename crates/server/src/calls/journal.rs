//! Writing records and the journal of calls in progress: the changes of one turn of the call
//! task go to the store in one transaction (group commit: one sync per turn, not per change)
//! before anything that follows them is carried out. When the store fails (a full disk, a
//! read-only file), the writes wait in memory and are retried with backoff; meanwhile the
//! server reports itself not ready and refuses new calls, and an ERROR says why. When the
//! store takes writes again, what waited is written, in order, and nothing is lost.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use relais_store::{JournalOp, Store};

use crate::metrics::Metrics;

/// Writes kept in memory at most while the store fails (the oldest are given up beyond, each
/// counted in `relais_store_dropped_total`).
const MAX_PENDING: usize = 200_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether the store takes writes, for readiness and for admitting calls.
#[derive(Debug)]
pub struct StoreHealth {
    healthy: AtomicBool,
    pending: AtomicUsize,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self {
            healthy: AtomicBool::new(true),
            pending: AtomicUsize::new(0),
        }
    }
}

impl StoreHealth {
    /// Whether the last write succeeded and nothing waits to be written again.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Writes waiting to be written again.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

pub struct Journal {
    store: Arc<Store>,
    health: Arc<StoreHealth>,
    metrics: Metrics,
    /// Writes that failed, in order, retried before anything newer.
    pending: VecDeque<JournalOp>,
    /// This turn's writes.
    batch: Vec<JournalOp>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Journal {
    pub fn new(store: Arc<Store>, health: Arc<StoreHealth>, metrics: Metrics) -> Self {
        Self {
            store,
            health,
            metrics,
            pending: VecDeque::new(),
            batch: Vec::new(),
            retry_at: None,
            backoff: FIRST_BACKOFF,
        }
    }

    pub fn push(&mut self, op: JournalOp) {
        self.batch.push(op);
    }

    /// Writes this turn's changes (and what waited before them) in one transaction. While the
    /// store fails, they join the writes waiting and are tried again after the backoff.
    pub async fn flush(&mut self) {
        if self.batch.is_empty() && self.pending.is_empty() {
            return;
        }
        self.pending.extend(self.batch.drain(..));
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            self.note_pending();
            return;
        }
        let ops: Vec<JournalOp> = self.pending.iter().cloned().collect();
        let store = Arc::clone(&self.store);
        let result = tokio::task::spawn_blocking(move || store.commit_batch(&ops)).await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(err) => Some(format!("the writer task failed: {err}")),
        };
        match error {
            None => {
                if !self.health.is_healthy() {
                    tracing::warn!(
                        written = self.pending.len(),
                        "the store takes writes again: every record that waited is written"
                    );
                }
                self.pending.clear();
                self.retry_at = None;
                self.backoff = FIRST_BACKOFF;
                self.health.healthy.store(true, Ordering::Release);
                self.metrics.store_healthy.set(1);
            }
            Some(error) => {
                self.metrics.store_errors.inc();
                if self.health.is_healthy() {
                    tracing::error!(
                        %error,
                        waiting = self.pending.len(),
                        "THE STORE REFUSES WRITES: call records wait in memory, new calls are \
                         refused and /readyz answers 503 until it takes them again"
                    );
                } else {
                    tracing::error!(%error, waiting = self.pending.len(), "the store still refuses writes");
                }
                self.health.healthy.store(false, Ordering::Release);
                self.metrics.store_healthy.set(0);
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                while self.pending.len() > MAX_PENDING {
                    self.pending.pop_front();
                    self.metrics.store_dropped.inc();
                }
            }
        }
        self.note_pending();
    }

    /// Runs every second: notes that the server runs (the instant a crash is dated to, one
    /// small write a second), and retries what waits.
    pub async fn tick(&mut self) {
        self.batch.push(JournalOp::Heartbeat {
            at_ms: jiff::Timestamp::now().as_millisecond(),
        });
        self.flush().await;
    }

    fn note_pending(&self) {
        let pending = self.pending.len();
        self.health.pending.store(pending, Ordering::Release);
        self.metrics
            .store_pending_writes
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }
}
