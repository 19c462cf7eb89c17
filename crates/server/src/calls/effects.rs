//! Carrying out what the cores decided, in order: pushes routed to sessions, media rooms
//! opened and closed on the shards, call records, agent states, wrap-ups and audit entries
//! committed to the store (the journal's group commit) before anything that follows them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use relais_call::{Ended, Input, MediaCommand, Output, SupervisionEnd};
use relais_dispatch::WallAnchor;
use relais_media::{PeerId, RoomId};
use relais_proto::CallId;
use relais_store::JournalOp;

use super::cores::Cores;
use super::journal::Journal;
use super::stored;
use crate::hub::Hub;
use crate::media::MediaShards;
use crate::metrics::Metrics;

pub struct Effects {
    hub: Arc<Hub>,
    media: Arc<MediaShards>,
    metrics: Metrics,
    kpis_dirty: Arc<AtomicBool>,
    anchor: WallAnchor,
    /// The files of the calls in progress: dropped when their call and wrap-ups end.
    documents: Arc<crate::documents::Documents>,
    pub(super) journal: Journal,
    /// The turn's pushes, sent once its writes are committed.
    held: Vec<(relais_call::SessionId, relais_proto::ServerMessage)>,
}

impl Effects {
    pub fn new(
        hub: Arc<Hub>,
        journal: Journal,
        media: Arc<MediaShards>,
        metrics: Metrics,
        kpis_dirty: Arc<AtomicBool>,
        anchor: WallAnchor,
        documents: Arc<crate::documents::Documents>,
    ) -> Self {
        Self {
            journal,
            held: Vec::new(),
            hub,
            media,
            metrics,
            kpis_dirty,
            anchor,
            documents,
        }
    }

    /// Carries out every pending effect, including those that carrying them out adds. Records
    /// and journal entries are committed in one transaction (the group commit of the turn,
    /// whatever number of requests it took) before any push of the turn goes out: nobody hears
    /// of a change before it is journalled, and a turn costs one sync.
    pub async fn carry_out(&mut self, cores: &mut Cores) {
        for expired in std::mem::take(&mut cores.expired) {
            self.give_up(&expired);
        }
        while let Some(output) = cores.effects.pop_front() {
            match output {
                Output::Push { session, message } => self.held.push((session, message)),
                Output::Media(command) => self.media(cores, command).await,
                Output::Record(ended) => {
                    self.record(&ended);
                    self.documents.call_ended(ended.call);
                }
                Output::Journal(entry) => self.journal.push(stored::live(
                    &self.anchor,
                    &entry,
                    jiff::Timestamp::now().as_millisecond(),
                )),
                Output::WrapUp {
                    call,
                    agent,
                    wrap_up,
                    disposition,
                } => {
                    self.documents.wrap_up_done(call, &agent);
                    self.journal
                        .push(stored::wrap_up(call, agent, wrap_up, disposition));
                }
                Output::CaseNote {
                    call,
                    agent,
                    case_ref,
                    notes,
                } => self.journal.push(JournalOp::CaseNote {
                    call_id: call.0,
                    agent,
                    case_ref,
                    notes,
                    at_ms: jiff::Timestamp::now().as_millisecond(),
                }),
                Output::AgentState {
                    agent,
                    state,
                    since,
                } => self
                    .journal
                    .push(stored::agent_state(&self.anchor, &agent, &state, since)),
                Output::Callback(change) => {
                    self.journal.push(stored::callback(&self.anchor, *change))
                }
                Output::KpisChanged => self.kpis_dirty.store(true, Ordering::Release),
                Output::SupervisionEnded {
                    call,
                    supervisor,
                    mode,
                    why,
                } => {
                    let why = match why {
                        SupervisionEnd::Disconnected => "disconnected",
                        SupervisionEnd::CallEnded => "call ended",
                        SupervisionEnd::Transferred => "call transferred",
                    };
                    self.journal.push(JournalOp::Audit(crate::audit::stopped(
                        jiff::Timestamp::now().as_millisecond(),
                        &supervisor,
                        call,
                        mode,
                        why,
                    )));
                }
                // Applied by `Cores` before it hands effects out.
                Output::Dispatch(_) => {}
            }
        }
        self.journal.flush().await;
        for (session, message) in self.held.drain(..) {
            self.hub.send(session, message);
        }
    }

    /// A call given back after a restart whose kiosk did not come back in time: recorded
    /// `interrupted` at the instant the server stopped.
    fn give_up(&mut self, expired: &super::cores::Recovered) {
        let (record, legs) = expired.call.interrupted(expired.stopped_at_ms);
        tracing::info!(call = record.call_id, kiosk = %record.kiosk, "a call waiting before the restart was not taken back: recorded interrupted");
        self.journal.push(JournalOp::Ended {
            record: Box::new(record),
            legs,
            chat: Vec::new(),
            wrap_up_of: None,
        });
    }

    async fn media(&self, cores: &mut Cores, command: MediaCommand) {
        match command {
            MediaCommand::OpenRoom { call } => {
                let shard = self.media.place_room();
                let index = shard.index();
                let input = match shard.create_room(RoomId(call.0)).await {
                    Ok(()) => Input::RoomOpened { call, shard: index },
                    Err(err) => {
                        tracing::error!(%call, error = %err, "cannot open the call's media room");
                        self.media.room_closed(index);
                        Input::RoomFailed { call }
                    }
                };
                let _ = cores.input(std::time::Instant::now(), input);
            }
            MediaCommand::CloseRoom { call, shard } => self.close_room(call, shard).await,
            MediaCommand::Subscribe {
                subscriber,
                publisher,
                kinds,
            } => {
                let kinds = relais_media::MediaKinds {
                    audio: kinds.audio,
                    video: kinds.video,
                };
                if let Some(shard) = self.media.shards().get(subscriber.shard)
                    && let Err(err) = shard
                        .subscribe(PeerId(subscriber.peer), PeerId(publisher.peer), kinds)
                        .await
                {
                    tracing::warn!(error = %err, "cannot subscribe a leg");
                }
            }
            MediaCommand::Unsubscribe {
                subscriber,
                publisher,
            } => {
                if let Some(shard) = self.media.shards().get(subscriber.shard)
                    && let Err(err) = shard
                        .unsubscribe(PeerId(subscriber.peer), PeerId(publisher.peer))
                        .await
                {
                    tracing::debug!(error = %err, "cannot unsubscribe a leg");
                }
            }
            MediaCommand::AddSlots {
                call,
                leg,
                link,
                more,
            } => {
                let sdp = match self.media.shards().get(link.shard) {
                    Some(shard) => match shard.add_receive_slots(PeerId(link.peer), more).await {
                        Ok(offer) => Some(offer),
                        Err(err) => {
                            tracing::warn!(%call, error = %err, "cannot renegotiate a leg");
                            None
                        }
                    },
                    None => None,
                };
                let _ = cores.input(
                    std::time::Instant::now(),
                    Input::SlotsOffered { call, leg, sdp },
                );
            }
            MediaCommand::Hold { call, link, on } => {
                let music = on.then(|| {
                    let service = cores.calls().call(call).map(|c| c.service.clone());
                    service.and_then(|s| self.media.wait_audio().music(&s))
                });
                if let Some(shard) = self.media.shards().get(link.shard) {
                    let _ = shard.hold(PeerId(link.peer), music);
                }
            }
            MediaCommand::Announce {
                link,
                position,
                eta_secs,
                ..
            } => {
                let clip = self.media.wait_audio().announcement(position, eta_secs);
                if let (Some(clip), Some(shard)) = (clip, self.media.shards().get(link.shard)) {
                    let _ = shard.announce(PeerId(link.peer), std::sync::Arc::new(clip));
                }
            }
            MediaCommand::Meter { link, on } => {
                if let Some(shard) = self.media.shards().get(link.shard) {
                    let _ = shard.meter(PeerId(link.peer), on);
                }
            }
            MediaCommand::RemovePeer { link } => {
                if let Some(shard) = self.media.shards().get(link.shard) {
                    let _ = shard.remove_peer(PeerId(link.peer)).await;
                }
            }
        }
    }

    async fn close_room(&self, call: CallId, index: usize) {
        if let Some(shard) = self.media.shards().get(index) {
            if let Err(err) = shard.close_room(RoomId(call.0)).await {
                tracing::warn!(%call, error = %err, "cannot close the call's media room");
            }
            self.media.room_closed(index);
        }
    }

    /// The record of an ended call, committed with this turn's writes before what follows it
    /// (the `call_ended` pushes) is carried out.
    fn record(&mut self, ended: &Ended) {
        let summary = &ended.summary;
        let call = ended.call;
        self.journal.push(stored::ended(&self.anchor, ended));
        let outcome = ended.outcome.as_str();
        self.metrics
            .calls
            .with_label_values(&[summary.origin_queue.as_str(), outcome])
            .inc();
        self.metrics
            .wait_seconds
            .with_label_values(&[summary.origin_queue.as_str()])
            .observe(summary.wait.as_secs_f64());
        tracing::info!(%call, outcome, reason = ?ended.reason, "call ended");
    }
}
