//! A call's media: negotiation plans for its legs, its room opening or failing, peers
//! connecting and going away, and the grace period of a lost leg.

use std::time::Instant;

use relais_dispatch::Event;
use relais_proto::{CallId, EndReason, EndedBy, LegRole, MediaLossReason, Role, ServerMessage};

use crate::call::{CallState, LegId, LegMedia, RoomState};
use crate::core::CallCore;
use crate::error::CallError;
use crate::io::{MediaCommand, MediaInput, MediaLink, NegotiationPlan, Output, SessionId, Verdict};
use crate::policy::{Kinds, Participation};

impl CallCore {
    pub(crate) fn negotiate(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        // An agent whose offer rings connects its media before it answers.
        if self.session_call(session).is_none()
            && let Some(plan) = self.ringing_plan(session)
        {
            return Ok(Verdict::Negotiate(plan));
        }
        let (call, leg, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        // A waiting kiosk connects its media before an agent answers (hold audio, the check
        // of its camera and microphone, and an instant answer).
        let waiting_kiosk =
            role == LegRole::Kiosk && matches!(call.state, CallState::Waiting { .. });
        if !matches!(call.state, CallState::Connected { .. }) && !waiting_kiosk {
            return Err(CallError::NoCall("no call is connected"));
        }
        let RoomState::Open { shard } = call.room else {
            return Err(CallError::WrongState("wait for `media_ready`"));
        };
        let plan = NegotiationPlan {
            call: call.id,
            leg,
            role,
            shard,
            replaces: call.leg(leg).and_then(|l| l.media),
            // A supervisor may coach or barge in at any time: its peer always publishes (its
            // console keeps its tracks muted while nobody receives them).
            // A kiosk always publishes (its agent may come at any time, and the server checks
            // its camera and microphone while it waits).
            publish: call.is_published(leg)
                || role == LegRole::Supervisor
                || role == LegRole::Kiosk,
            // A kiosk negotiates the slot of its agent even before one answers: the answer
            // then binds it without a new negotiation.
            receive_slots: call.leg(leg).map_or(0, |l| {
                if role == LegRole::Kiosk {
                    l.receives.len().max(1)
                } else {
                    l.receives.len()
                }
            }),
            attempt: call.leg(leg).map_or(0, |l| l.negotiation.wrapping_add(1)),
        };
        if let Some(link) = plan.replaces {
            self.by_peer.remove(&link);
        }
        if let Some(leg) = self
            .calls
            .get_mut(&plan.call)
            .and_then(|c| c.leg_mut(plan.leg))
        {
            leg.media = None;
            leg.negotiation = plan.attempt;
            leg.slots = plan.receive_slots;
            leg.renegotiating = None;
            if !matches!(leg.media_state, LegMedia::Lost { .. }) {
                leg.media_state = LegMedia::Negotiating;
            }
        }
        Ok(Verdict::Negotiate(plan))
    }

    pub(crate) fn joined(
        &mut self,
        id: CallId,
        leg: LegId,
        attempt: u32,
        link: MediaLink,
        slots: usize,
    ) {
        let not_a_leg = self.calls.get(&id).is_some_and(|c| c.leg(leg).is_none());
        if not_a_leg && self.ringing_joined(id, leg, attempt, link, slots) {
            return;
        }
        let current = self
            .calls
            .get_mut(&id)
            .filter(|call| call.room == RoomState::Open { shard: link.shard });
        match current.and_then(|call| call.leg_mut(leg)) {
            Some(leg_state) if leg_state.media.is_none() && leg_state.negotiation == attempt => {
                leg_state.media = Some(link);
                leg_state.slots = slots.min(leg_state.slots);
                self.by_peer.insert(link, (id, leg));
                self.subscribe_leg(id, leg);
            }
            // The call ended, its room changed or a newer offer was made meanwhile.
            _ => self
                .outputs
                .push_back(Output::Media(MediaCommand::RemovePeer { link })),
        }
    }

    /// The latest offer of a leg that had media failed at the shard, after its previous peer
    /// was removed: the leg is without media, as if lost, so the grace period runs.
    pub(crate) fn join_failed(&mut self, now: Instant, id: CallId, leg: LegId, attempt: u32) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(state) = call.leg_mut(leg) else {
            return;
        };
        if state.negotiation != attempt || state.media.is_some() || !state.had_media {
            return;
        }
        self.lose_leg(now, id, leg, MediaLossReason::Failed);
    }

    /// `leg` of call `id` is without media from `now`: its grace period runs, and the other
    /// legs are told.
    fn lose_leg(&mut self, now: Instant, id: CallId, leg: LegId, reason: MediaLossReason) {
        let Some(state) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) else {
            return;
        };
        state.media = None;
        state.media_state = LegMedia::Lost { since: now, reason };
        state.lost_at.get_or_insert(now);
        let role = state.role;
        self.lost.insert(id);
        let grace_secs = self.config.media_grace.as_secs();
        self.push_others(
            id,
            leg,
            &ServerMessage::PeerMediaLost {
                call: id,
                role,
                reason,
                grace_secs,
            },
        );
    }

    /// The subscriptions of a leg that just got its peer, as the policy says: what it
    /// receives, and what the legs that receive it receive.
    pub(crate) fn subscribe_leg(&mut self, id: CallId, leg: LegId) {
        self.resubscribe(id, leg);
        let receivers: Vec<LegId> = self
            .calls
            .get(&id)
            .map(|call| {
                call.legs
                    .iter()
                    .filter(|other| other.id != leg && other.receives.iter().any(|r| r.from == leg))
                    .map(|other| other.id)
                    .collect()
            })
            .unwrap_or_default();
        for other in receivers {
            self.resubscribe(id, other);
        }
    }

    /// Subscribes `leg`'s peer to every publisher it receives that has a peer, as far as its
    /// negotiated slots go; asks for more slots (a server offer) when they do not.
    pub(crate) fn resubscribe(&mut self, id: CallId, leg: LegId) {
        self.waiting_dirty.insert(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let wanted: Vec<(MediaLink, Kinds)> = match call.leg(leg) {
            Some(state) => state
                .receives
                .iter()
                .filter_map(|r| {
                    // A leg whose link is too poor for video gets the audio only.
                    let kinds = Kinds {
                        audio: r.kinds.audio,
                        video: r.kinds.video && !state.audio_only,
                    };
                    call.leg(r.from).and_then(|p| p.media).map(|l| (l, kinds))
                })
                .collect(),
            None => return,
        };
        let Some(state) = call.leg_mut(leg) else {
            return;
        };
        let Some(link) = state.media else {
            return;
        };
        let mut commands: Vec<MediaCommand> = wanted
            .iter()
            .take(state.slots)
            .map(|&(publisher, kinds)| MediaCommand::Subscribe {
                subscriber: link,
                publisher,
                kinds,
            })
            .collect();
        if wanted.len() > state.slots && state.renegotiating.is_none() {
            let more = wanted.len() - state.slots;
            state.renegotiating = Some(more);
            commands.push(MediaCommand::AddSlots {
                call: id,
                leg,
                link,
                more,
            });
        }
        for command in commands {
            self.outputs.push_back(Output::Media(command));
        }
    }

    /// A participant's link is too poor for video, or good again: what it receives follows,
    /// and the others are told (they show its last picture and say why it stands still).
    pub(crate) fn audio_only(
        &mut self,
        session: SessionId,
        on: bool,
    ) -> Result<Verdict, CallError> {
        let (id, leg, role) = self
            .session_call(session)
            .map(|(call, leg, role)| (call.id, leg, role))
            .ok_or(CallError::NoCall("no call is connected"))?;
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if !matches!(call.state, crate::call::CallState::Connected { .. }) {
            return Err(CallError::NoCall("no call is connected"));
        }
        let Some(state) = call.leg_mut(leg) else {
            return Err(CallError::NoCall("no call is connected"));
        };
        if state.audio_only == on {
            return Ok(Verdict::Done);
        }
        state.audio_only = on;
        self.resubscribe(id, leg);
        self.push_others(
            id,
            leg,
            &relais_proto::ServerMessage::PeerAudioOnly { call: id, role, on },
        );
        Ok(Verdict::Done)
    }

    /// A session answers the server's offer.
    pub(crate) fn answer(&self, session: SessionId) -> Result<Verdict, CallError> {
        let (call, leg, _) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        let state = call
            .leg(leg)
            .ok_or(CallError::NoCall("no call is connected"))?;
        match (state.renegotiating, state.media) {
            (Some(_), Some(link)) => Ok(Verdict::AcceptAnswer {
                call: call.id,
                leg,
                link,
            }),
            _ => Err(CallError::WrongState(
                "no server offer is waiting for an answer",
            )),
        }
    }

    /// The answer was taken: the new slots are subscribed.
    pub(crate) fn answered_offer(&mut self, id: CallId, leg: LegId) {
        let Some(state) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) else {
            return;
        };
        if let Some(more) = state.renegotiating.take() {
            state.slots += more;
        }
        self.resubscribe(id, leg);
    }

    /// The shard made (or could not make) the offer of more slots.
    pub(crate) fn slots_offered(&mut self, id: CallId, leg: LegId, sdp: Option<String>) {
        let Some(state) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(leg)) else {
            return;
        };
        match (sdp, state.session) {
            (Some(sdp), Some(session)) => {
                self.push(session, ServerMessage::SdpOffer { call: id, sdp });
            }
            _ => state.renegotiating = None,
        }
    }

    /// A participant joins a connected call with `participation`; it negotiates its peer
    /// after `media_ready`, as the others did.
    pub(crate) fn add_leg(
        &mut self,
        now: Instant,
        id: CallId,
        session: SessionId,
        role: LegRole,
        subject: String,
        participation: Participation,
    ) -> Result<Verdict, CallError> {
        self.attach_leg(now, id, session, role, &subject, participation)?;
        self.push(
            session,
            ServerMessage::MediaReady {
                call: id,
                peer_role: Role::Kiosk,
                waiting: false,
            },
        );
        Ok(Verdict::Done)
    }

    /// A session's new leg in a connected call, with its part; it negotiates after
    /// `media_ready`, which the caller sends.
    pub(crate) fn attach_leg(
        &mut self,
        now: Instant,
        id: CallId,
        session: SessionId,
        role: LegRole,
        subject: &str,
        participation: Participation,
    ) -> Result<LegId, CallError> {
        if let Some(&held) = self.by_session.get(&session) {
            return Err(CallError::AlreadyInCall(held));
        }
        if !self.sessions.contains_key(&session) {
            return Err(CallError::NoCall("the session is not signed in"));
        }
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(CallError::NoCall("no such call in progress"))?;
        if !matches!(call.state, CallState::Connected { .. })
            || !matches!(call.room, RoomState::Open { .. })
        {
            return Err(CallError::WrongState("the call is not connected"));
        }
        if let Participation::Whisper { to } = participation
            && call.leg(to).is_none()
        {
            return Err(CallError::WrongState("no such participant to whisper to"));
        }
        let leg = call.add_leg(now, role, subject, Some(session), None);
        call.participate(leg, participation);
        self.by_session.insert(session, id);
        Ok(leg)
    }

    pub(crate) fn candidate(&self, session: SessionId) -> Result<Verdict, CallError> {
        if self.session_call(session).is_none()
            && let Some(ringing) = self.ringing.values().find(|r| r.session == session)
        {
            return ringing
                .media
                .map(Verdict::Candidate)
                .ok_or(CallError::WrongState("send `sdp_offer` first"));
        }
        let (call, leg, _) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        call.leg(leg)
            .and_then(|l| l.media)
            .map(Verdict::Candidate)
            .ok_or(CallError::WrongState("send `sdp_offer` first"))
    }

    pub(crate) fn room_opened(&mut self, id: CallId, shard: usize) {
        let open = self
            .calls
            .get_mut(&id)
            .filter(|call| call.room == RoomState::Opening);
        let Some(call) = open else {
            // Ended while the room was opening.
            self.outputs
                .push_back(Output::Media(MediaCommand::CloseRoom { call: id, shard }));
            return;
        };
        call.room = RoomState::Open { shard };
        let waiting = matches!(call.state, CallState::Waiting { .. });
        let pushes: Vec<(SessionId, Role)> = call
            .legs
            .iter()
            .filter_map(|leg| {
                let peer_role = match leg.role {
                    LegRole::Kiosk => Role::Agent,
                    _ => Role::Kiosk,
                };
                leg.session.map(|s| (s, peer_role))
            })
            .collect();
        for (session, peer_role) in pushes {
            self.push(
                session,
                ServerMessage::MediaReady {
                    call: id,
                    peer_role,
                    waiting,
                },
            );
        }
    }

    pub(crate) fn room_failed(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.room != RoomState::Opening {
            return;
        }
        call.room = RoomState::None;
        if matches!(call.state, CallState::Connected { .. }) && call.end_reason.is_none() {
            call.end_reason = Some(EndReason::MediaFailed);
            self.outputs.push_back(Output::Dispatch(Event::CallEnded {
                call: id,
                by: EndedBy::Server,
            }));
        }
    }

    pub(crate) fn media(&mut self, now: Instant, shard: usize, event: MediaInput) {
        match event {
            MediaInput::PeerConnected { peer } => {
                let link = MediaLink { shard, peer };
                if self.ringing_peer(link, true) {
                    return;
                }
                let Some(&(id, leg)) = self.by_peer.get(&link) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                let Some(state) = call.leg_mut(leg) else {
                    return;
                };
                self.waiting_dirty.insert(id);
                let was_lost = state.lost_at.take().is_some();
                state.media_state = LegMedia::Connected;
                state.had_media = true;
                let role = state.role;
                if call.lost_since().is_none() {
                    self.lost.remove(&id);
                }
                if was_lost {
                    self.push_others(
                        id,
                        leg,
                        &ServerMessage::PeerMediaRestored { call: id, role },
                    );
                }
            }
            MediaInput::PeerGone { peer, reason } => {
                let link = MediaLink { shard, peer };
                if self.ringing_peer(link, false) {
                    return;
                }
                let Some((id, leg)) = self.by_peer.remove(&link) else {
                    return;
                };
                self.waiting_dirty.insert(id);
                // The peer took its hold audio and metering with it.
                if let Some(call) = self.calls.get_mut(&id) {
                    if call.waiting.hold == Some(link) {
                        call.waiting.hold = None;
                    }
                    if call.waiting.meter == Some(link) {
                        call.waiting.meter = None;
                    }
                }
                let Some(reason) = reason else {
                    // Removed by the server itself: a replaced peer or a closed room.
                    return;
                };
                self.lose_leg(now, id, leg, reason);
            }
            MediaInput::InputReport {
                peer,
                audio_packets,
                audio_dbfs,
                video_frames,
                width,
                height,
            } => self.input_report(
                now,
                MediaLink { shard, peer },
                audio_packets,
                audio_dbfs,
                video_frames,
                width,
                height,
            ),
        }
    }

    pub(crate) fn timeout(&mut self, now: Instant) {
        let grace = self.config.media_grace;
        let due: Vec<CallId> = self
            .lost
            .iter()
            .filter(|id| {
                self.calls.get(id).is_some_and(|call| {
                    self.media_grace_runs(call)
                        && call
                            .lost_since()
                            .and_then(|since| since.checked_add(grace))
                            .is_some_and(|due| due <= now)
                })
            })
            .copied()
            .collect();
        for id in due {
            let mut waiting = false;
            if let Some(call) = self.calls.get_mut(&id) {
                call.end_reason = Some(EndReason::MediaLost);
                waiting = matches!(call.state, CallState::Waiting { .. });
            }
            self.lost.remove(&id);
            // A transferred call waiting for its next agent is given up, as if abandoned.
            let event = if waiting {
                Event::Abandon { call: id }
            } else {
                Event::CallEnded {
                    call: id,
                    by: EndedBy::Server,
                }
            };
            self.outputs.push_back(Output::Dispatch(event));
        }
    }
}
