//! Writing records and the journal of calls in progress: the changes of one turn of the call
//! task go to the store in one transaction (group commit: one sync per turn, not per change)
//! before anything that follows them is carried out. When the store fails (a full disk, a
//! read-only file), the writes wait in memory and are retried with backoff; meanwhile the
//! server reports itself not ready and refuses new calls, and an ERROR says why. When the
//! store takes writes again, what waited is written, in order, and nothing is lost.
//!
//! The memory holds at most [`MEMORY_LIMIT`] writes; beyond, the oldest go to a spill file
//! (`[records] spill_path`, ideally on another disk), one JSON line each, synced. The spill is
//! written to the store before the memory (it holds the older writes), in transactions of
//! [`SPILL_CHUNK`] whose progress is kept, so a failure half-way writes nothing twice; a spill
//! left by a stop is written at the next start, before the journal is read.

use std::collections::VecDeque;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use relais_store::{JournalOp, Store};

use crate::metrics::Metrics;

/// Writes kept in memory at most while the store fails; the oldest go to the spill file beyond
/// (and are given up, each counted in `relais_store_dropped_total`, only if that fails too).
pub const MEMORY_LIMIT: usize = 200_000;
/// Writes of the spill file per transaction when it is written to the store.
pub const SPILL_CHUNK: usize = 10_000;
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
    /// Writes that failed, in order, retried before anything newer (after the spill's).
    pending: VecDeque<JournalOp>,
    /// This turn's writes.
    batch: Vec<JournalOp>,
    retry_at: Option<Instant>,
    backoff: Duration,
    memory_limit: usize,
    spill: Spill,
}

/// The spill file: writes older than those in memory, from `offset` on.
struct Spill {
    path: PathBuf,
    /// Writes in the file not yet in the store.
    count: usize,
    /// Byte offset of the first of them.
    offset: u64,
}

impl Spill {
    /// Appends `ops` (synced before it returns).
    fn append(&mut self, ops: &[JournalOp]) -> std::io::Result<()> {
        let mut text = Vec::with_capacity(ops.len() * 256);
        for op in ops {
            serde_json::to_writer(&mut text, op).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let start = file.seek(std::io::SeekFrom::End(0))?;
        if let Err(err) = file.write_all(&text).and_then(|()| file.sync_data()) {
            // A partial line would spoil the next ones: cut it off.
            let _ = file.set_len(start);
            return Err(err);
        }
        self.count += ops.len();
        Ok(())
    }
}

/// Up to `max` writes of the spill file at `path` from `offset`: (writes, offset after them,
/// lines that could not be read back and are skipped).
fn read_spill(
    path: &Path,
    offset: u64,
    max: usize,
) -> std::io::Result<(Vec<JournalOp>, u64, usize)> {
    let mut file = std::fs::File::open(path)?;
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut reader = std::io::BufReader::new(file);
    let (mut ops, mut next, mut unreadable) = (Vec::new(), offset, 0);
    let mut line = Vec::new();
    while ops.len() < max {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }
        next += read as u64;
        match serde_json::from_slice(&line) {
            Ok(op) => ops.push(op),
            Err(_) => unreadable += 1,
        }
    }
    Ok((ops, next, unreadable))
}

/// Writes a spill file left by a stop to the store, then removes it: at start, before the
/// journal is read. Returns the writes it held.
pub fn replay_spill(store: &Store, path: &Path) -> anyhow::Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    let (mut offset, mut written) = (0, 0);
    loop {
        let (ops, next, unreadable) = read_spill(path, offset, SPILL_CHUNK).map_err(|err| {
            anyhow::anyhow!("cannot read the spill file {}: {err}", path.display())
        })?;
        if unreadable > 0 {
            tracing::error!(unreadable, spill = %path.display(), "lines of the spill file cannot be read back: given up");
        }
        if ops.is_empty() && next == offset {
            break;
        }
        store.commit_batch(&ops).map_err(|err| {
            anyhow::anyhow!(
                "cannot write the {} writes that waited in {} to the store: {err}",
                ops.len(),
                path.display()
            )
        })?;
        written += ops.len();
        offset = next;
    }
    std::fs::remove_file(path)
        .map_err(|err| anyhow::anyhow!("cannot remove the spill file {}: {err}", path.display()))?;
    tracing::warn!(written, spill = %path.display(), "the writes that waited in the spill file at the last stop are written");
    Ok(written)
}

impl Journal {
    pub fn new(
        store: Arc<Store>,
        health: Arc<StoreHealth>,
        metrics: Metrics,
        spill_path: PathBuf,
    ) -> Self {
        Self::with_limit(store, health, metrics, spill_path, MEMORY_LIMIT)
    }

    /// As [`Journal::new`], with at most `memory_limit` writes waiting in memory.
    pub fn with_limit(
        store: Arc<Store>,
        health: Arc<StoreHealth>,
        metrics: Metrics,
        spill_path: PathBuf,
        memory_limit: usize,
    ) -> Self {
        Self {
            store,
            health,
            metrics,
            pending: VecDeque::new(),
            batch: Vec::new(),
            retry_at: None,
            backoff: FIRST_BACKOFF,
            memory_limit: memory_limit.max(1),
            spill: Spill {
                path: spill_path,
                count: 0,
                offset: 0,
            },
        }
    }

    pub fn push(&mut self, op: JournalOp) {
        self.batch.push(op);
    }

    /// Writes this turn's changes (and what waited before them) in one transaction. While the
    /// store fails, they join the writes waiting and are tried again after the backoff.
    pub async fn flush(&mut self) {
        if self.batch.is_empty() && self.pending.is_empty() && self.spill.count == 0 {
            return;
        }
        for op in self.batch.drain(..) {
            // Only the latest heartbeat matters: a failing store does not pile them up.
            if matches!(op, JournalOp::Heartbeat { .. })
                && matches!(self.pending.back(), Some(JournalOp::Heartbeat { .. }))
            {
                self.pending.pop_back();
            }
            self.pending.push_back(op);
        }
        self.bound_memory();
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            self.note_pending();
            return;
        }
        if let Err(error) = self.write_spill().await {
            self.failed(error);
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
                self.metrics.store_commits.inc();
                self.retry_at = None;
                self.backoff = FIRST_BACKOFF;
                self.health.healthy.store(true, Ordering::Release);
                self.metrics.store_healthy.set(1);
            }
            Some(error) => self.failed(error),
        }
        self.note_pending();
    }

    /// Moves the oldest writes beyond the memory limit to the spill file.
    fn bound_memory(&mut self) {
        let excess = self.pending.len().saturating_sub(self.memory_limit);
        if excess == 0 {
            return;
        }
        let oldest: Vec<JournalOp> = self.pending.drain(..excess).collect();
        match self.spill.append(&oldest) {
            Ok(()) => {
                self.metrics.store_spilled_total.inc_by(excess as u64);
            }
            Err(err) => {
                tracing::error!(
                    error = %err,
                    spill = %self.spill.path.display(),
                    given_up = excess,
                    "THE SPILL FILE REFUSES WRITES TOO: the oldest records that waited are lost"
                );
                self.metrics.store_dropped.inc_by(excess as u64);
            }
        }
    }

    /// Writes the spill file to the store, a chunk per transaction, then removes it.
    async fn write_spill(&mut self) -> Result<(), String> {
        while self.spill.count > 0 {
            let (path, offset) = (self.spill.path.clone(), self.spill.offset);
            let store = Arc::clone(&self.store);
            let result = tokio::task::spawn_blocking(move || {
                let (ops, next, unreadable) =
                    read_spill(&path, offset, SPILL_CHUNK).map_err(|err| {
                        format!("cannot read the spill file {}: {err}", path.display())
                    })?;
                store.commit_batch(&ops).map_err(|err| err.to_string())?;
                Ok::<_, String>((ops.len(), next, unreadable))
            })
            .await
            .map_err(|err| format!("the writer task failed: {err}"))??;
            let (written, next, unreadable) = result;
            if unreadable > 0 {
                tracing::error!(
                    unreadable,
                    "lines of the spill file cannot be read back: given up"
                );
                self.metrics.store_dropped.inc_by(unreadable as u64);
            }
            self.spill.offset = next;
            self.spill.count = self.spill.count.saturating_sub(written + unreadable);
            if written + unreadable == 0 {
                // The file holds less than counted (cut off by hand): nothing more to read.
                self.spill.count = 0;
            }
        }
        if self.spill.offset > 0 {
            if let Err(err) = std::fs::remove_file(&self.spill.path) {
                tracing::warn!(error = %err, "cannot remove the written spill file");
            }
            self.spill.offset = 0;
        }
        Ok(())
    }

    fn failed(&mut self, error: String) {
        self.metrics.store_errors.inc();
        let waiting = self.pending.len() + self.spill.count;
        if self.health.is_healthy() {
            tracing::error!(
                %error,
                waiting,
                "THE STORE REFUSES WRITES: call records wait in memory, new calls are \
                 refused and /readyz answers 503 until it takes them again"
            );
        } else {
            tracing::error!(%error, waiting, "the store still refuses writes");
        }
        self.health.healthy.store(false, Ordering::Release);
        self.metrics.store_healthy.set(0);
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
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
        let pending = self.pending.len() + self.spill.count;
        self.health.pending.store(pending, Ordering::Release);
        self.metrics
            .store_pending_writes
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.metrics
            .store_spilled_writes
            .set(i64::try_from(self.spill.count).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use relais_store::AgentStateChange;

    use super::*;

    fn change(n: i64) -> JournalOp {
        JournalOp::AgentState(AgentStateChange {
            agent: format!("agent-{n}"),
            state: "available".to_owned(),
            reason: None,
            at_ms: n,
        })
    }

    fn written(store: &Store) -> Vec<i64> {
        let mut at: Vec<i64> = store
            .agent_states_between(0, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|c| c.at_ms)
            .collect();
        at.sort_unstable();
        at
    }

    /// A tmpfs of 4 MiB at `at`, unmounted on drop.
    struct Tmpfs(PathBuf);

    impl Tmpfs {
        fn mount(at: &Path) -> Self {
            std::fs::create_dir_all(at).unwrap();
            let status = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
                .arg(at)
                .status()
                .unwrap();
            assert!(status.success(), "mounting a tmpfs needs root");
            Tmpfs(at.to_owned())
        }

        fn fill(&self) -> PathBuf {
            let filler = self.0.join("filler");
            let mut file = std::fs::File::create(&filler).unwrap();
            let block = vec![0u8; 64 * 1024];
            while file.write_all(&block).is_ok() {}
            let _ = file.sync_all();
            filler
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("relais-spill-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A full disk with more writes waiting than the memory holds: the oldest go to the spill
    /// file (on another disk), none is given up, and once space is back every write is in the
    /// store exactly once and the spill file is gone.
    #[tokio::test]
    async fn writes_beyond_the_memory_limit_go_to_the_spill_file_and_none_is_lost() {
        let dir = scratch("full");
        let disk = Tmpfs::mount(&dir.join("data"));
        let store = Arc::new(Store::open(&dir.join("data/relais.sqlite3")).unwrap());
        let health = Arc::new(StoreHealth::default());
        let metrics = Metrics::new().unwrap();
        let spill = dir.join("relais.spill");
        let mut journal = Journal::with_limit(
            Arc::clone(&store),
            Arc::clone(&health),
            metrics.clone(),
            spill.clone(),
            50,
        );
        journal.push(change(1));
        journal.flush().await;
        assert!(health.is_healthy());

        let filler = disk.fill();
        for n in 2..=400 {
            journal.push(change(n));
            journal.flush().await;
        }
        assert!(!health.is_healthy(), "the full disk is seen");
        assert_eq!(health.pending(), 399, "every write waits");
        assert!(
            journal.pending.len() <= 50,
            "memory holds {}",
            journal.pending.len()
        );
        assert_eq!(journal.spill.count, 399 - journal.pending.len());
        let lines = std::fs::read_to_string(&spill).unwrap().lines().count();
        assert_eq!(lines, journal.spill.count, "each spilled write is a line");
        assert_eq!(metrics.store_dropped.get(), 0);
        assert_eq!(
            metrics.store_spilled_writes.get(),
            journal.spill.count as i64
        );

        std::fs::remove_file(filler).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !health.is_healthy() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            journal.flush().await;
        }
        assert!(health.is_healthy(), "the store takes writes again");
        assert_eq!(health.pending(), 0);
        assert_eq!(
            written(&store),
            (1..=400).collect::<Vec<_>>(),
            "every write once"
        );
        assert!(!spill.exists(), "the written spill file is removed");
        drop(store);
        drop(disk);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A spill file left by a stop is written at the next start, in chunks, and removed; a line
    /// cut off by the stop is not read.
    #[test]
    fn a_spill_file_left_by_a_stop_is_written_at_start() {
        let dir = scratch("start");
        let store = Store::open(&dir.join("relais.sqlite3")).unwrap();
        let path = dir.join("relais.spill");
        let mut spill = Spill {
            path: path.clone(),
            count: 0,
            offset: 0,
        };
        let ops: Vec<JournalOp> = (1..=(SPILL_CHUNK as i64 + 5)).map(change).collect();
        spill.append(&ops).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"op\":\"agent_st").unwrap();
        drop(file);
        assert_eq!(replay_spill(&store, &path).unwrap(), SPILL_CHUNK + 5);
        assert_eq!(written(&store).len(), SPILL_CHUNK + 5);
        assert!(!path.exists());
        assert_eq!(replay_spill(&store, &path).unwrap(), 0, "nothing left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
