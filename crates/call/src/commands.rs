//! The dispatcher's commands as the call core carries them: offers, answers, queue positions,
//! re-queues and ends (with their records), wrap-ups and agent states.

use std::time::Instant;

use relais_dispatch::{AgentState, Command};
use relais_proto::{
    AgentId, CallId, EndReason, EndedBy, LegRole, Role, ServerMessage, SupervisionMode,
};

use crate::call::{CallState, LegId, LegLeft, LegMedia, RoomState};
use crate::core::{CallCore, WrapUp};
use crate::io::{Ended, MediaCommand, MediaLink, Output, SessionId, SupervisionEnd};

impl CallCore {
    pub(crate) fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Offer {
                call,
                queue,
                deadline,
                ..
            } if self.consults.contains_key(&call) => {
                self.consult_offered(now, call, queue.as_str(), deadline);
            }
            Command::Offer {
                call,
                agent,
                queue,
                site,
                deadline,
                ..
            } => {
                let waited = self
                    .placed_at
                    .get(&call)
                    .map_or(0, |at| now.saturating_duration_since(*at).as_secs());
                let mut again = false;
                if let Some(state) = self.calls.get_mut(&call) {
                    state.state = CallState::Waiting {
                        ringing: Some(agent.clone()),
                    };
                    again = state.offered_to.iter().any(|a| *a == agent.as_str());
                    if !again {
                        state.offered_to.push(agent.to_string());
                    }
                }
                let service_name = self
                    .config
                    .service_names
                    .get(queue.as_str())
                    .cloned()
                    .unwrap_or_else(|| queue.to_string());
                self.push_agent(
                    agent.as_str(),
                    ServerMessage::Offered {
                        call,
                        service: queue.to_string(),
                        service_name,
                        site: site.to_string(),
                        waited_secs: waited,
                        deadline_secs: deadline.saturating_duration_since(now).as_secs().max(1),
                        consult_from: None,
                        again,
                        caller_warnings: self.caller_warnings(call),
                        callback: self.callback_offer(call),
                    },
                );
                self.ring_media(call, &agent);
            }
            Command::OfferWithdrawn {
                call,
                agent,
                reason,
            } => {
                if let Some(state) = self.calls.get_mut(&call)
                    && matches!(&state.state, CallState::Waiting { ringing: Some(a) } if *a == agent)
                {
                    state.state = CallState::Waiting { ringing: None };
                }
                if self
                    .ringing
                    .get(&call)
                    .is_some_and(|r| r.agent == agent.as_str())
                {
                    self.drop_ringing(call);
                }
                self.push_agent(
                    agent.as_str(),
                    ServerMessage::OfferWithdrawn { call, reason },
                );
            }
            Command::CallAnswered { call, agent, queue }
                if self.interpreting.contains_key(&call) =>
            {
                self.interpreter_answered(now, call, agent, queue.as_str());
            }
            Command::CallAnswered { call, agent, queue } if self.consults.contains_key(&call) => {
                self.consult_answered(now, call, agent, queue.as_str());
            }
            Command::CallAnswered { call, agent, queue } => {
                self.answered(now, call, agent, queue.as_str());
            }
            Command::ConsultEnded { call, answered, .. } => {
                self.consult_ended(now, call, answered);
            }
            Command::TransferCompleted {
                call,
                consult,
                queue,
                from,
                to,
            } => self.transfer_completed(now, call, consult, queue.as_str(), from, to),
            Command::CallTransferred {
                call,
                to,
                agent,
                to_agent,
                ..
            } => self.transferred(now, call, agent, to.as_str(), to_agent),
            Command::QueuePosition {
                call,
                position,
                eta,
            } => {
                let mut callback = false;
                if let Some(live) = self.calls.get_mut(&call) {
                    live.position = Some((position, eta));
                    callback = !live.was_answered();
                }
                let callback = callback
                    && self
                        .calls
                        .get(&call)
                        .is_some_and(|live| self.offers_callback(&live.service, eta));
                self.position_changed(now, call);
                if let Some(session) = self.kiosk_session(call) {
                    self.push(
                        session,
                        ServerMessage::QueuePosition {
                            call,
                            position,
                            eta_secs: eta.map(|d| d.as_secs()),
                            callback,
                        },
                    );
                }
            }
            Command::CallOverflowed { .. } => {}
            Command::CallRequeued { call, .. } if self.interpreting.contains_key(&call) => {
                self.interpreter_requeued(now, call);
            }
            Command::CallRequeued { call, .. } => self.requeued(now, call),
            Command::CallEnded {
                call,
                outcome,
                record,
            } if self.interpreting.contains_key(&call) => {
                self.interpreter_ended(now, call, outcome, *record);
            }
            Command::CallEnded {
                call,
                outcome,
                record,
            } => self.ended(now, call, outcome, *record),
            Command::WrapUpFinished {
                agent,
                call,
                wrap_up,
            } => {
                let disposition = match self.wrap_ups.get(agent.as_str()) {
                    Some(entry) if entry.call == call => self
                        .wrap_ups
                        .remove(agent.as_str())
                        .and_then(|entry| entry.disposition),
                    _ => None,
                };
                // The wrap-up of an agent who transferred a call that goes on is kept with the
                // call, for its record.
                let live = self.calls.get_mut(&call).and_then(|c| {
                    c.history.iter_mut().rev().find(|h| {
                        h.role == LegRole::Agent
                            && h.subject == agent.as_str()
                            && h.wrap_up.is_none()
                    })
                });
                match live {
                    Some(entry) => entry.wrap_up = Some((wrap_up, disposition)),
                    None => self.outputs.push_back(Output::WrapUp {
                        call,
                        agent: agent.as_str().to_owned(),
                        wrap_up,
                        disposition,
                    }),
                }
            }
            Command::AgentStateChanged {
                agent,
                state,
                since,
            } => {
                let rings_for = match state {
                    AgentState::Reserved { call, .. } | AgentState::OnCall { call } => Some(call),
                    _ => None,
                };
                self.agent_stopped_ringing(agent.as_str(), rings_for);
                let mut message = self.agent_state_push(&state, now);
                // An interpreter on its own call is told the call it takes part in.
                if let (
                    AgentState::OnCall { .. },
                    ServerMessage::AgentState {
                        call: Some(call), ..
                    },
                ) = (&state, &mut message)
                {
                    if let Some(entry) = self.interpreting.get(call) {
                        *call = entry.parent;
                    } else if let Some(entry) = self.consults.get(call) {
                        *call = entry.parent;
                    }
                }
                // An agent in wrap-up is told the call it wraps up.
                if let (
                    AgentState::WrapUp { .. },
                    ServerMessage::AgentState { call: wrapped, .. },
                ) = (&state, &mut message)
                {
                    *wrapped = self.wrap_ups.get(agent.as_str()).map(|w| w.call);
                }
                self.push_agent(agent.as_str(), message);
                self.outputs.push_back(Output::AgentState {
                    agent,
                    state,
                    since,
                });
            }
            Command::KpisChanged => self.outputs.push_back(Output::KpisChanged),
        }
    }

    pub(crate) fn kiosk_session(&self, call: CallId) -> Option<SessionId> {
        self.calls.get(&call)?.leg_of_role(LegRole::Kiosk)?.session
    }

    pub(crate) fn answered(&mut self, now: Instant, id: CallId, agent: AgentId, queue: &str) {
        let session = self.agent_sessions.get(agent.as_str()).copied();
        // The peer the agent connected while the offer rang becomes its leg's peer.
        let rang = match self.take_ringing(id, agent.as_str()) {
            Some(r) if Some(r.session) == session => Some(r),
            // Rung on a connection the agent no longer has.
            Some(r) => {
                if let Some(link) = r.media {
                    self.by_peer.remove(&link);
                    self.outputs
                        .push_back(Output::Media(MediaCommand::RemovePeer { link }));
                }
                None
            }
            None => None,
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = CallState::Connected { since: now };
        if call.callback.is_some() {
            // A callback: the agent phones; no room, no media.
            let leg = call.add_leg(now, LegRole::Agent, agent.as_str(), session, Some(queue));
            call.converse(leg);
            if let Some(session) = session {
                self.by_session.insert(session, id);
            }
            self.wrap_ups.remove(agent.as_str());
            self.by_agent.insert(agent.as_str().to_owned(), id);
            return;
        }
        self.waiting_dirty.insert(id);
        // A kiosk that lost its media while it waited has the grace period from the answer.
        for leg in &mut call.legs {
            if leg.lost_at.is_some() {
                leg.lost_at = Some(now);
            }
        }
        let leg = match &rang {
            Some(r) => call.add_leg_as(
                r.leg,
                now,
                LegRole::Agent,
                agent.as_str(),
                session,
                Some(queue),
            ),
            None => call.add_leg(now, LegRole::Agent, agent.as_str(), session, Some(queue)),
        };
        call.converse(leg);
        if let (Some(r), Some(state)) = (&rang, call.leg_mut(leg)) {
            state.media = r.media;
            state.negotiation = r.attempt;
            state.slots = if r.media.is_some() { r.slots } else { 1 };
            state.media_state = if r.connected {
                LegMedia::Connected
            } else {
                LegMedia::Negotiating
            };
            state.had_media = r.connected;
        }
        // A transferred call keeps its room: the kiosk's peer stays connected and receives
        // the new agent on the slot the previous one had.
        // The kiosk's peer connected while it waited (or before a transfer) is kept: the agent
        // joins its room, and the kiosk receives the agent on the slot it negotiated.
        let room_open = matches!(call.room, RoomState::Open { .. });
        let room_opening = call.room == RoomState::Opening;
        if !room_open {
            call.room = RoomState::Opening;
        }
        if let Some(session) = session {
            self.by_session.insert(session, id);
        }
        // A previous wrap-up of this agent is over once it answers again.
        self.wrap_ups.remove(agent.as_str());
        self.by_agent.insert(agent.as_str().to_owned(), id);
        if room_open {
            match &rang {
                // Connected (or negotiating) already: the subscriptions are made now.
                Some(r) => {
                    if r.media.is_some() {
                        self.subscribe_leg(id, leg);
                    }
                }
                None => {
                    if let Some(session) = session {
                        self.push(
                            session,
                            ServerMessage::MediaReady {
                                call: id,
                                peer_role: Role::Kiosk,
                                waiting: false,
                            },
                        );
                    }
                }
            }
            self.announce_participants(id);
        } else {
            self.baseline_participants(id);
            // A room still opening tells every leg `media_ready` when it opens.
            if !room_opening {
                self.outputs
                    .push_back(Output::Media(MediaCommand::OpenRoom { call: id }));
            }
        }
        self.journal(id);
    }

    /// The agent handed the call to the queue of `to`: its leg goes (it is in wrap-up), and
    /// so do the supervisors'; the kiosk stays connected and waits for the next agent.
    pub(crate) fn transferred(
        &mut self,
        now: Instant,
        id: CallId,
        agent: AgentId,
        to: &str,
        to_agent: Option<AgentId>,
    ) {
        let service_name = self
            .config
            .service_names
            .get(to)
            .cloned()
            .unwrap_or_else(|| to.to_owned());
        // An interpreter's call ends with the conversation it served.
        self.end_interpreters_of(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = CallState::Waiting { ringing: None };
        let served = std::mem::replace(&mut call.handled_by, to.to_owned());
        let sessions: Vec<SessionId> = call.sessions().collect();
        let leaving: Vec<Leaving> = call
            .legs
            .iter()
            .filter(|l| l.role != LegRole::Kiosk)
            .map(|l| Leaving {
                leg: l.id,
                role: l.role,
                subject: l.subject.clone(),
                session: l.session,
                mode: l.mode,
            })
            .collect();
        let message = ServerMessage::CallTransferred {
            call: id,
            to: to.to_owned(),
            service_name,
            agent: to_agent.map(|a| a.as_str().to_owned()),
        };
        for session in sessions {
            self.push(session, message.clone());
        }
        for Leaving {
            leg,
            role,
            subject,
            session,
            mode,
        } in leaving
        {
            if let Some(session) = session
                && self.by_session.get(&session) == Some(&id)
            {
                self.by_session.remove(&session);
            }
            let why = if role == LegRole::Agent && subject == agent.as_str() {
                LegLeft::Transferred
            } else {
                LegLeft::Left
            };
            if role == LegRole::Supervisor {
                self.outputs.push_back(Output::SupervisionEnded {
                    call: id,
                    supervisor: subject.clone(),
                    mode,
                    why: SupervisionEnd::Transferred,
                });
            }
            self.remove_leg(now, id, leg, why);
        }
        if self.by_agent.get(agent.as_str()) == Some(&id) {
            self.by_agent.remove(agent.as_str());
        }
        self.wrap_ups.insert(
            agent.as_str().to_owned(),
            WrapUp {
                call: id,
                service: served,
                disposition: None,
            },
        );
        self.journal(id);
    }

    pub(crate) fn requeued(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id).cloned() else {
            return;
        };
        self.supervisions_end(&call, SupervisionEnd::CallEnded);
        self.end_interpreters_of(id);
        // The supervisors and the interpreter leave with the agent: they are told.
        let ended = ServerMessage::CallEnded {
            call: id,
            outcome: relais_proto::Outcome::Interrupted,
            by: Some(EndedBy::Server),
            reason: Some(EndReason::Disconnected),
        };
        for leg in call
            .legs
            .iter()
            .filter(|l| matches!(l.role, LegRole::Supervisor | LegRole::Interpreter))
        {
            if let Some(session) = leg.session {
                self.push(session, ended.clone());
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let agent_legs: Vec<(LegId, LegLeft)> = call
            .legs
            .iter()
            .filter(|l| l.role != LegRole::Kiosk)
            .map(|l| {
                let why = if l.role == LegRole::Agent {
                    LegLeft::Interrupted
                } else {
                    LegLeft::Left
                };
                (l.id, why)
            })
            .collect();
        let mut removed = Vec::new();
        for (leg, why) in agent_legs {
            if let Some(leg) = call.remove_leg(now, leg, why) {
                removed.push(leg);
            }
        }
        let mut links: Vec<MediaLink> = removed.iter().filter_map(|l| l.media).collect();
        for leg in &mut call.legs {
            links.extend(leg.media.take());
            leg.media_state = LegMedia::Idle;
            leg.lost_at = None;
        }
        call.state = CallState::Waiting { ringing: None };
        call.end_reason = None;
        let room = std::mem::replace(&mut call.room, RoomState::None);
        self.lost.remove(&id);
        for link in links {
            self.by_peer.remove(&link);
        }
        for leg in removed {
            if let Some(session) = leg.session
                && self.by_session.get(&session) == Some(&id)
            {
                self.by_session.remove(&session);
            }
            if self.by_agent.get(&leg.subject) == Some(&id) {
                self.by_agent.remove(&leg.subject);
            }
        }
        if let RoomState::Open { shard } = room {
            self.outputs
                .push_back(Output::Media(MediaCommand::CloseRoom { call: id, shard }));
        }
        // Back in its queue, the kiosk connects its media again to wait with it.
        self.open_waiting_room(id);
        self.journal(id);
    }

    /// Opens the room of a waiting call, so its kiosk connects its media while it waits.
    pub(crate) fn open_waiting_room(&mut self, id: CallId) {
        if !self.config.waiting_media {
            return;
        }
        // A callback task has no kiosk to connect.
        let Some(call) = self.calls.get_mut(&id).filter(|c| c.callback.is_none()) else {
            return;
        };
        if call.room != RoomState::None
            || !matches!(call.state, CallState::Waiting { .. })
            || call.end_reason.is_some()
        {
            return;
        }
        call.room = RoomState::Opening;
        self.outputs
            .push_back(Output::Media(MediaCommand::OpenRoom { call: id }));
    }

    pub(crate) fn ended(
        &mut self,
        now: Instant,
        id: CallId,
        outcome: relais_dispatch::Outcome,
        record: relais_dispatch::CallSummary,
    ) {
        let Some(call) = self.forget(id) else {
            return;
        };
        self.forget_consult_requests(id);
        self.supervisions_end(&call, SupervisionEnd::CallEnded);
        self.end_interpreters_of(id);
        let outcome = outcome.wire();
        let enqueued_at = record.enqueued_at;
        let ended_by = record.ended_by;
        let reason = call.end_reason.or(match ended_by {
            Some(EndedBy::Kiosk | EndedBy::Agent) => Some(EndReason::Hangup),
            _ => None,
        });
        let agent = record.agent.clone();
        let legs = call.closed_history(now);
        let chat = if self.config.chat_retention.contains(&call.handled_by) {
            call.chat.clone()
        } else {
            Vec::new()
        };
        self.outputs.push_back(Output::Record(Box::new(Ended {
            call: id,
            outcome,
            ended_by,
            reason,
            summary: record,
            legs,
            chat,
        })));
        if call.admitted {
            let message = ServerMessage::CallEnded {
                call: id,
                outcome,
                by: ended_by,
                reason,
            };
            let mut sessions: Vec<SessionId> = call.sessions().collect();
            // An agent that was only ringing hears of the end through `offer_withdrawn`.
            if let Some(agent) = agent.as_ref()
                && outcome == relais_proto::Outcome::Answered
                && let Some(&session) = self.agent_sessions.get(agent.as_str())
                && !sessions.contains(&session)
            {
                sessions.push(session);
            }
            for session in sessions {
                self.push(session, message.clone());
            }
        }
        match call.room {
            RoomState::Open { shard } => self
                .outputs
                .push_back(Output::Media(MediaCommand::CloseRoom { call: id, shard })),
            // The room is closed when `RoomOpened` finds the call gone.
            RoomState::Opening | RoomState::None => {}
        }
        if outcome == relais_proto::Outcome::CallbackRequested {
            self.callback_task_from(&call, enqueued_at);
        }
        if call.callback.is_some() {
            let taken_by = agent.as_ref().map(|a| a.as_str().to_owned());
            self.callback_ended(&call, taken_by, outcome);
        }
        if outcome == relais_proto::Outcome::Answered
            && let Some(agent) = agent
        {
            self.wrap_ups.insert(
                agent.as_str().to_owned(),
                WrapUp {
                    call: id,
                    service: call.handled_by.clone(),
                    disposition: None,
                },
            );
        }
    }
}

/// A leg that leaves a transferred call.
struct Leaving {
    leg: LegId,
    role: LegRole,
    subject: String,
    session: Option<SessionId>,
    mode: Option<SupervisionMode>,
}

/// The `agent_state` push for `state` at `now`.
pub fn agent_state_message(state: &AgentState, now: Instant) -> ServerMessage {
    let (reason, call, remaining) = match state {
        AgentState::NotReady { reason } => (Some(reason.clone()), None, None),
        AgentState::Reserved { call, until } => (
            None,
            Some(*call),
            Some(until.saturating_duration_since(now).as_secs()),
        ),
        AgentState::OnCall { call } => (None, Some(*call), None),
        AgentState::WrapUp { until } => (
            None,
            None,
            Some(until.saturating_duration_since(now).as_secs()),
        ),
        AgentState::LoggedOut | AgentState::Available => (None, None, None),
    };
    ServerMessage::AgentState {
        state: state.name(),
        reason,
        call,
        remaining_secs: remaining,
        callback: None,
    }
}
