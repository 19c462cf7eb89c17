//! The session registry: every connected websocket by session id and who it is, so messages
//! reach their socket. Calls and their legs are the call core's; the hub only routes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;
use relais_proto::{Role, ServerMessage};
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
    /// The browser sign-in (web session hash) it authenticated with, if not a token.
    pub web: Option<String>,
}

/// What a session's writer sends.
#[derive(Debug)]
pub enum Outgoing {
    Message(ServerMessage),
    /// Close the connection after sending what is queued.
    Close(&'static str),
}

/// Who is connected.
#[derive(Debug, Default)]
pub struct Hub {
    next_session: AtomicU64,
    pub sessions: DashMap<u64, SessionEntry>,
    /// Agent subject → its session.
    pub agents: DashMap<String, u64>,
    /// Kiosk subject → what it last said of its camera, microphone and browser.
    pub kiosk_devices: DashMap<String, KioskDevices>,
}

/// A kiosk's last `kiosk_status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KioskDevices {
    pub camera: relais_proto::messages::DeviceState,
    pub microphone: relais_proto::messages::DeviceState,
    pub browser: String,
    pub at_ms: i64,
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

    /// Queues a message for every signed-in session.
    pub fn broadcast(&self, message: &ServerMessage) {
        let sessions: Vec<u64> = self.sessions.iter().map(|entry| *entry.key()).collect();
        for session in sessions {
            self.send(session, message.clone());
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
}
