//! Carrying out what the cores decided, in order: pushes routed to sessions, media rooms
//! opened and closed on the shards, call records, agent states, wrap-ups and audit entries
//! committed to the store (the journal's group commit) before anything that follows them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use relais_call::{Ended, Input, MediaCommand, Output, SupervisionEnd};
use relais_dispatch::WallAnchor;
use relais_media::{PeerId, RoomId};
use relais_proto::CallId;
use relais_store::{
    AgentStateChange, CallRecord, ChatRecord, JournalOp, LegRecord, LiveCall, LiveState, Store,
};

use super::cores::Cores;
use super::journal::{Journal, StoreHealth};
use super::unix_ms;
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
    pub(super) documents: Arc<crate::documents::Documents>,
    pub(super) journal: Journal,
}

impl Effects {
    pub fn new(
        hub: Arc<Hub>,
        store: Arc<Store>,
        media: Arc<MediaShards>,
        metrics: Metrics,
        kpis_dirty: Arc<AtomicBool>,
        anchor: WallAnchor,
        health: Arc<StoreHealth>,
    ) -> Self {
        let journal = Journal::new(Arc::clone(&store), health, metrics.clone());
        Self {
            journal,
            hub,
            media,
            metrics,
            kpis_dirty,
            anchor,
            documents: Arc::new(crate::documents::Documents::new(Default::default())),
        }
    }

    /// Carries out every pending effect, including those that carrying them out adds. Records
    /// and journal entries are committed (one transaction for those that come together)
    /// before any push that follows them, and at the end.
    pub async fn carry_out(&mut self, cores: &mut Cores) {
        for expired in std::mem::take(&mut cores.expired) {
            self.give_up(&expired);
        }
        while let Some(output) = cores.effects.pop_front() {
            match output {
                Output::Push { session, message } => {
                    self.journal.flush().await;
                    self.hub.send(session, message);
                }
                Output::Media(command) => self.media(cores, command).await,
                Output::Record(ended) => {
                    self.record(&ended);
                    self.documents.call_ended(ended.call);
                }
                Output::Journal(entry) => self
                    .journal
                    .push(JournalOp::Live(Box::new(self.live_call(&entry)))),
                Output::WrapUp {
                    call,
                    agent,
                    wrap_up,
                    disposition,
                } => {
                    self.documents.wrap_up_done(call, &agent);
                    self.journal.push(JournalOp::WrapUp {
                        call_id: call.0,
                        agent,
                        wrap_up_ms: wrap_up.as_millis() as i64,
                        disposition,
                    });
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
                } => {
                    let reason = match &state {
                        relais_dispatch::AgentState::NotReady { reason } => Some(reason.clone()),
                        _ => None,
                    };
                    self.journal.push(JournalOp::AgentState(AgentStateChange {
                        agent: agent.0,
                        state: state.name().as_str().to_owned(),
                        reason,
                        at_ms: unix_ms(&self.anchor, since),
                    }));
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

    /// The journal's row of a call in progress.
    fn live_call(&self, entry: &relais_call::Journalled) -> LiveCall {
        let now_ms = jiff::Timestamp::now().as_millisecond();
        LiveCall {
            call_id: entry.call.0,
            queue: entry.queue.clone(),
            origin_queue: entry.service.clone(),
            kiosk: entry.kiosk.clone(),
            site: entry.site.clone(),
            priority: 0,
            enqueued_at_ms: unix_ms(&self.anchor, entry.placed_at),
            state: if entry.agent.is_some() {
                LiveState::Connected
            } else {
                LiveState::Waiting
            },
            agent: entry.agent.as_ref().map(|(agent, _)| agent.clone()),
            answered_at_ms: entry
                .agent
                .as_ref()
                .map(|(_, at)| unix_ms(&self.anchor, *at)),
            ended_at_ms: None,
            attempts: 0,
            legs: leg_records(&self.anchor, &entry.legs, None),
            updated_at_ms: now_ms,
        }
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
        let record = CallRecord {
            call_id: ended.call.0,
            queue: summary.queue.to_string(),
            kiosk: summary.kiosk.to_string(),
            site: summary.site.to_string(),
            agent: summary.agent.as_ref().map(ToString::to_string),
            outcome: ended.outcome,
            enqueued_at_ms: unix_ms(&self.anchor, summary.enqueued_at),
            offered_at_ms: summary.offered_at.map(|at| unix_ms(&self.anchor, at)),
            answered_at_ms: summary.answered_at.map(|at| unix_ms(&self.anchor, at)),
            ended_at_ms: unix_ms(&self.anchor, summary.ended_at),
            wait_ms: summary.wait.as_millis() as i64,
            talk_ms: summary.talk.map(|d| d.as_millis() as i64),
            wrap_up_ms: summary.wrap_up.map(|d| d.as_millis() as i64),
            attempts: summary.attempts,
            callback: summary.callback,
            disposition: None,
            ended_by: ended.ended_by,
            end_reason: ended.reason,
        };
        let legs = leg_records(&self.anchor, &ended.legs, Some(summary.ended_at));
        let chat: Vec<ChatRecord> = ended
            .chat
            .iter()
            .map(|line| ChatRecord {
                at_ms: line.at_ms,
                role: line.role.as_str().to_owned(),
                name: line.name.clone(),
                text: line.text.clone(),
            })
            .collect();
        let call = ended.call;
        // The agent who answered wraps up next: the journal keeps the call until then.
        let wrap_up_of = (ended.outcome == relais_proto::Outcome::Answered)
            .then(|| record.agent.clone())
            .flatten();
        self.journal.push(JournalOp::Ended {
            record: Box::new(record),
            legs,
            chat,
            wrap_up_of,
        });
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

/// The stored form of a call's legs. With `end`, a leg still there leaves then as `ended` (a
/// record); without, it keeps an empty reason and a zero leave time (the journal of a call in
/// progress).
fn leg_records(
    anchor: &WallAnchor,
    legs: &[relais_call::LegHistory],
    end: Option<std::time::Instant>,
) -> Vec<LegRecord> {
    legs.iter()
        .enumerate()
        .map(|(seq, leg)| {
            let left = leg
                .left
                .or_else(|| end.map(|at| (at, relais_call::LegLeft::Ended)));
            LegRecord {
                seq: seq as u32,
                role: leg.role.as_str().to_owned(),
                subject: leg.subject.clone(),
                queue: leg.queue.clone(),
                joined_at_ms: unix_ms(anchor, leg.joined_at),
                left_at_ms: left.map_or(0, |(at, _)| unix_ms(anchor, at)),
                left_because: left.map_or(String::new(), |(_, why)| why.as_str().to_owned()),
                wrap_up_ms: leg.wrap_up.as_ref().map(|(d, _)| d.as_millis() as i64),
                disposition: leg.wrap_up.as_ref().and_then(|(_, d)| d.clone()),
            }
        })
        .collect()
}
