//! The session registry: every connected websocket by session id, who it is, and the indexes
//! the dispatcher task uses to route its commands (agent → session, call → kiosk session,
//! call → media room).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;
use relais_media::PeerId;
use relais_proto::{CallId, Role, ServerMessage};
use tokio::sync::mpsc;

/// Messages queued per session before it is treated as too slow and closed.
pub const SESSION_QUEUE: usize = 256;

/// One connected client.
#[derive(Debug)]
pub struct SessionEntry {
    pub role: Role,
    pub subject: String,
    pub tx: mpsc::Sender<Outgoing>,
    /// Supervisor: wants KPI snapshots.
    pub kpis: AtomicBool,
}

/// What a session's writer sends.
#[derive(Debug)]
pub enum Outgoing {
    Message(ServerMessage),
    /// Close the connection after sending what is queued.
    Close(&'static str),
}

/// The media of a connected call.
#[derive(Debug, Clone)]
pub struct CallMedia {
    pub shard: usize,
    pub room: relais_media::RoomId,
    pub kiosk_peer: Option<PeerId>,
    pub agent_peer: Option<PeerId>,
}

/// The refused calls of one kiosk identity to one service in the current minute.
#[derive(Debug, Clone, Copy)]
pub struct RefusalWindow {
    pub started: std::time::Instant,
    pub count: u32,
}

impl RefusalWindow {
    const LENGTH: std::time::Duration = std::time::Duration::from_secs(60);

    /// Whether another call may be tried at `now` with `per_minute` refusals allowed; the time
    /// left in the window when not.
    pub fn allows(&self, now: std::time::Instant, per_minute: u32) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= Self::LENGTH || self.count < per_minute {
            Ok(())
        } else {
            Err((Self::LENGTH - elapsed).as_secs().max(1))
        }
    }

    /// Counts one refusal at `now`, opening a new window when the last one is over.
    pub fn refused(window: Option<Self>, now: std::time::Instant) -> Self {
        match window {
            Some(window) if now.saturating_duration_since(window.started) < Self::LENGTH => Self {
                count: window.count + 1,
                ..window
            },
            _ => Self {
                started: now,
                count: 1,
            },
        }
    }
}

/// Who is connected, and where calls are.
#[derive(Debug, Default)]
pub struct Hub {
    next_session: AtomicU64,
    pub sessions: DashMap<u64, SessionEntry>,
    /// Agent subject → its session.
    pub agents: DashMap<String, u64>,
    /// Call → the kiosk session that placed it.
    pub call_kiosk: DashMap<CallId, u64>,
    /// Kiosk session → its current call.
    pub kiosk_call: DashMap<u64, CallId>,
    /// Kiosk identity (token subject) → its current call: one call per identity, across all of
    /// its connections.
    pub kiosk_identity_call: DashMap<String, CallId>,
    /// (kiosk identity, service) → its recent refused calls.
    pub call_refusals: DashMap<(String, String), RefusalWindow>,
    /// Call → the agent that has it (from answer to end).
    pub call_agent: DashMap<CallId, String>,
    /// Connected calls' media.
    pub media: DashMap<CallId, CallMedia>,
    /// Disposition codes given at wrap-up, until the wrap-up is recorded.
    pub dispositions: DashMap<String, String>,
}

impl Hub {
    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Queues a message for one session; a session whose queue is full is closed (a client
    /// that does not read cannot hold the server's memory).
    pub fn send(&self, session: u64, message: ServerMessage) {
        let Some(entry) = self.sessions.get(&session) else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(_)) =
            entry.tx.try_send(Outgoing::Message(message))
        {
            tracing::warn!(session, subject = %entry.subject, "session too slow: closing it");
            let tx = entry.tx.clone();
            drop(entry);
            tokio::spawn(async move {
                let _ = tx.send(Outgoing::Close("too slow")).await;
            });
        }
    }

    /// Sends to the agent's session, if connected.
    pub fn send_agent(&self, agent: &str, message: ServerMessage) {
        if let Some(session) = self.agents.get(agent).map(|s| *s) {
            self.send(session, message);
        }
    }

    /// Sends to the kiosk that placed `call`, if connected.
    pub fn send_kiosk(&self, call: CallId, message: ServerMessage) {
        if let Some(session) = self.call_kiosk.get(&call).map(|s| *s) {
            self.send(session, message);
        }
    }

    /// Supervisors subscribed to KPIs.
    pub fn kpi_subscribers(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .sessions
            .iter()
            .filter(|entry| entry.kpis.load(Ordering::Relaxed))
            .map(|entry| *entry.key())
            .collect();
        out.sort_unstable();
        out
    }

    /// Forgets a finished call's indexes; `kiosk` is the identity that placed it.
    pub fn forget_call(&self, call: CallId, kiosk: &str) {
        if let Some((_, session)) = self.call_kiosk.remove(&call) {
            self.kiosk_call
                .remove_if(&session, |_, current| *current == call);
        }
        self.kiosk_identity_call
            .remove_if(kiosk, |_, current| *current == call);
        self.call_agent.remove(&call);
        self.media.remove(&call);
    }
}
