//! The task's loop: jobs from sessions, events from the media shards and the cores' deadlines
//! in; the cores' effects carried out after each.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use relais_call::{CallConfig, CallCore, Input, MediaInput};
use relais_dispatch::{Dispatcher, WallAnchor};
use relais_media::{GoneReason, MediaEvent};
use relais_proto::MediaLossReason;
use relais_store::Store;
use tokio::sync::mpsc;

use super::cores::Cores;
use super::effects::Effects;
use super::{Calls, Job, dispatch_config};
use crate::config::Config;
use crate::hub::Hub;
use crate::media::MediaShards;
use crate::metrics::Metrics;

/// Everything the task needs besides the cores.
pub struct Context {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub store: Arc<Store>,
    pub media: Arc<MediaShards>,
    pub metrics: Metrics,
    /// Events of the media shards: `(shard, event)`.
    pub media_events: mpsc::UnboundedReceiver<(usize, MediaEvent)>,
    /// Whether the store takes writes.
    pub health: Arc<super::journal::StoreHealth>,
    /// The files of the calls in progress.
    pub documents: Arc<crate::documents::Documents>,
    /// What the server's last run left: waiting calls, agents signed in, when it stopped.
    pub recovered: super::Recovery,
}

/// Starts the call task.
pub fn start(context: Context) -> anyhow::Result<Calls> {
    let anchor = WallAnchor {
        at: Instant::now(),
        utc: jiff::Timestamp::now(),
    };
    let dispatcher = Dispatcher::new(dispatch_config(&context.config), seed(), anchor)?;
    let calls = CallCore::new(call_config(&context.config));
    let (tx, rx) = mpsc::unbounded_channel();
    let kpis_dirty = Arc::new(AtomicBool::new(true));
    let handle = Calls {
        tx,
        kpis_dirty: Arc::clone(&kpis_dirty),
        anchor,
    };
    let grace = std::time::Duration::from_secs(context.config.recovery.grace_secs);
    let spill = context.config.spill_path();
    let Context {
        config: _,
        hub,
        store,
        media,
        metrics,
        media_events,
        health,
        documents,
        recovered:
            super::Recovery {
                waiting,
                agents,
                callbacks,
                stopped_at_ms,
            },
    } = context;
    let journal = super::journal::Journal::new(store, health, metrics.clone(), spill);
    let effects = Effects::new(hub, journal, media, metrics, kpis_dirty, anchor, documents);
    let mut cores = Cores::new(dispatcher, calls);
    cores.restore(
        super::Recovery {
            waiting,
            agents,
            callbacks,
            stopped_at_ms,
        },
        anchor,
        grace,
    );
    tokio::spawn(run(cores, rx, media_events, effects));
    Ok(handle)
}

/// The call core's settings from the configuration.
pub fn call_config(config: &Config) -> CallConfig {
    CallConfig {
        media_grace: std::time::Duration::from_secs(config.media.lost_grace_secs),
        resume_grace: std::time::Duration::from_secs(config.recovery.resume_secs),
        agent_grace: std::time::Duration::from_secs(config.recovery.agent_resume_secs),
        waiting_media: config.waiting.media,
        ring_media: config.waiting.ring_media,
        hold_audio: config.waiting.hold,
        announce_every: (config.waiting.announce_secs > 0)
            .then(|| std::time::Duration::from_secs(config.waiting.announce_secs)),
        check_after: std::time::Duration::from_secs(config.waiting.check_secs),
        refusals_per_minute: config.limits.call_refusals_per_minute,
        service_names: config
            .services
            .iter()
            .map(|service| (service.id.clone(), service.name.clone()))
            .collect(),
        chat_retention: config
            .services
            .iter()
            .filter(|service| service.chat_retention)
            .map(|service| service.id.clone())
            .collect(),
        dispositions: config
            .services
            .iter()
            .map(|service| (service.id.clone(), service.dispositions.clone()))
            .collect(),
        callbacks: config
            .services
            .iter()
            .filter_map(|service| {
                let after = service.callback_after_secs?;
                Some((service.id.clone(), std::time::Duration::from_secs(after)))
            })
            .collect(),
    }
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}

/// What the call core hears of a media event; `None` for what it does not act on.
fn media_input(event: &MediaEvent) -> Option<MediaInput> {
    match *event {
        MediaEvent::PeerConnected { peer, .. } => Some(MediaInput::PeerConnected { peer: peer.0 }),
        MediaEvent::PeerGone { peer, reason, .. } => Some(MediaInput::PeerGone {
            peer: peer.0,
            reason: match reason {
                GoneReason::Removed => None,
                GoneReason::ConsentExpired => Some(MediaLossReason::ConsentExpired),
                GoneReason::SetupTimeout => Some(MediaLossReason::SetupTimeout),
                GoneReason::Failed => Some(MediaLossReason::Failed),
            },
        }),
        MediaEvent::InputReport { peer, report, .. } => {
            tracing::debug!(
                peer = peer.0,
                audio_packets = report.audio_packets,
                audio_dbfs = report.audio_dbfs,
                video_frames = report.video_frames,
                "input of a waiting kiosk"
            );
            Some(MediaInput::InputReport {
                peer: peer.0,
                audio_packets: report.audio_packets,
                audio_dbfs: report.audio_dbfs,
                video_frames: report.video_frames,
                width: report.width,
                height: report.height,
            })
        }
        MediaEvent::TrackPublished { .. } => None,
    }
}

/// Requests taken in one turn of the call task at most (their writes share one transaction).
const MAX_JOBS_PER_TURN: usize = 256;

async fn run(
    mut cores: Cores,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut media_events: mpsc::UnboundedReceiver<(usize, MediaEvent)>,
    mut effects: Effects,
) {
    // The shards hold the senders of media events: when every shard is gone, there are none.
    let mut shards_running = true;
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = cores.next_deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { break };
                job(&mut cores, Instant::now());
                // The requests that queued meanwhile join this turn: one commit for all.
                for _ in 1..MAX_JOBS_PER_TURN {
                    let Ok(job) = jobs.try_recv() else { break };
                    job(&mut cores, Instant::now());
                }
            }
            event = media_events.recv(), if shards_running => {
                let Some((shard, event)) = event else {
                    tracing::error!("every media shard stopped: calls can no longer get media");
                    shards_running = false;
                    continue;
                };
                tracing::debug!(shard, ?event, "media event");
                if let Some(event) = media_input(&event) {
                    let _ = cores.input(Instant::now(), Input::Media { shard, event });
                }
            }
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => cores.timeout(Instant::now()),
            _ = ticks.tick() => {
                // The heartbeat, and the retry of writes that wait for the store.
                effects.journal.tick().await;
            }
        }
        effects.carry_out(&mut cores).await;
        for reply in std::mem::take(&mut cores.replies) {
            reply();
        }
    }
    tracing::info!("call task stopped");
}
