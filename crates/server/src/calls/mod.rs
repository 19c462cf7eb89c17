//! The call task: owns the two cores — the dispatcher (who gets a waiting call) and the call
//! core (what happens to a call) — feeds them what sessions ask, what the media shards report
//! and their own deadlines, and carries out what they decide: pushes to sessions, media rooms,
//! records committed to the store before a call's end is reported.
//!
//! Sessions reach the task through [`Calls`]; every request is one job run against
//! [`Cores`] on the task, so both cores see one order of events.

mod cores;
mod effects;
mod journal;
mod services;
pub mod stored;
mod task;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub use cores::{Cores, RESTART_REASON, Recovered, Recovery, Refusal, Returning, dispatch_refusal};
pub use journal::{MEMORY_LIMIT, SPILL_CHUNK, StoreHealth, replay_spill};
use relais_dispatch::{Dispatcher, WallAnchor};
pub use services::dispatch_config;
pub use task::{Context, call_config, start};
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut Cores, Instant) + Send>;

/// The sessions' handle on the call task. Cheap to clone.
#[derive(Clone)]
pub struct Calls {
    tx: mpsc::UnboundedSender<Job>,
    /// Set when KPIs changed since the last snapshot.
    pub kpis_dirty: Arc<AtomicBool>,
    anchor: WallAnchor,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls").finish_non_exhaustive()
    }
}

impl Calls {
    /// Runs `job` on the task and waits for its result; `None` when the task is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Cores, Instant) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |cores, now| {
            let _ = tx.send(job(cores, now));
        });
        self.tx.send(job).ok()?;
        rx.await.ok()
    }

    /// Runs `job` on the task and answers only once what it caused is carried out: a call
    /// refused at its `call` or ended by a `hangup` has its record stored before the reply.
    pub async fn run_then_carry_out<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Cores, Instant) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |cores, now| {
            let out = job(cores, now);
            cores.replies.push(Box::new(move || {
                let _ = tx.send(out);
            }));
        });
        self.tx.send(job).ok()?;
        rx.await.ok()
    }

    /// Runs `job` on the task without waiting (a session that closed, a peer that joined).
    pub fn notify(&self, job: impl FnOnce(&mut Cores, Instant) + Send + 'static) {
        let _ = self.tx.send(Box::new(job));
    }

    /// Runs `read` against the dispatcher's views.
    pub async fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Dispatcher, Instant) -> T + Send + 'static,
    ) -> Option<T> {
        self.run(move |cores, now| read(cores.dispatcher(), now))
            .await
    }

    /// Unix milliseconds of an instant.
    pub fn unix_ms(&self, at: Instant) -> i64 {
        unix_ms(&self.anchor, at)
    }
}

fn unix_ms(anchor: &WallAnchor, at: Instant) -> i64 {
    let base = anchor.utc.as_millisecond();
    match at.checked_duration_since(anchor.at) {
        Some(after) => base + after.as_millis() as i64,
        None => base - anchor.at.saturating_duration_since(at).as_millis() as i64,
    }
}
