//! A kiosk whose signalling connection drops keeps its call for a grace period: waiting at its
//! place in the queue, or connected (its media does not depend on the websocket). A new
//! session that shows the resume token of the old one gets the call back; after the grace
//! period the call ends as if the kiosk had left (abandoned while waiting, ended by the kiosk
//! once answered). An agent whose connection drops during a call likewise keeps it for its own
//! grace period before the call goes back to its queue.

use std::time::Instant;

use relais_dispatch::Event;
use relais_proto::messages::ResumedCall;
use relais_proto::{CallId, EndReason, EndedBy, LegRole, Role, ServerMessage};

use crate::call::{CallState, RoomState};
use crate::core::{CallCore, SessionInfo};
use crate::io::{Output, SessionId, Verdict};

/// A call whose kiosk's connection dropped, waiting for it to come back.
#[derive(Debug, Clone)]
pub(crate) struct Detached {
    /// The kiosk identity: only a session of the same identity may resume.
    pub(crate) subject: String,
    pub(crate) call: CallId,
    /// When the connection dropped.
    pub(crate) since: Instant,
}

impl CallCore {
    /// Whether `call` waits for its kiosk or its agent to reconnect.
    pub(crate) fn is_detached(&self, call: CallId) -> bool {
        self.detached.values().any(|d| d.call == call)
            || self.away.values().any(|(c, _)| *c == call)
    }

    /// When the earliest grace period of a detached kiosk or an away agent ends.
    pub(crate) fn resume_deadline(&self) -> Option<Instant> {
        let kiosks = self
            .detached
            .values()
            .map(|d| d.since)
            .min()
            .and_then(|since| since.checked_add(self.config.resume_grace));
        let agents = self
            .away
            .values()
            .map(|(_, since)| *since)
            .min()
            .and_then(|since| since.checked_add(self.config.agent_grace));
        match (kiosks, agents) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The agent's last session closed: a connected call of its waits for it to sign in
    /// again (its leg already has no session). Returns whether it does.
    pub(crate) fn agent_away(&mut self, now: Instant, agent: &str) -> bool {
        if self.config.agent_grace.is_zero() {
            return false;
        }
        let Some(&id) = self.by_agent.get(agent) else {
            return false;
        };
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.end_reason.is_some() || !matches!(call.state, CallState::Connected { .. }) {
            return false;
        }
        let Some(leg) = call
            .legs
            .iter()
            .find(|l| l.role == LegRole::Agent && l.subject == agent)
            .map(|l| l.id)
        else {
            return false;
        };
        self.away.insert(agent.to_owned(), (id, now));
        self.tell_signalling(id, leg, LegRole::Agent, false);
        true
    }

    /// The agent signed in again (its leg is bound to the new session).
    pub(crate) fn agent_back(&mut self, now: Instant, agent: &str) {
        let Some((id, _)) = self.away.remove(agent) else {
            return;
        };
        let leg = self.calls.get_mut(&id).and_then(|call| {
            let leg = call
                .legs
                .iter_mut()
                .find(|l| l.role == LegRole::Agent && l.subject == agent)?;
            // Its media lost meanwhile (a reloaded console), it gets the whole media grace
            // period to offer again.
            if leg.lost_at.is_some() {
                leg.lost_at = Some(now);
            }
            Some(leg.id)
        });
        if let Some(leg) = leg {
            self.tell_signalling(id, leg, LegRole::Agent, true);
        }
    }

    /// The kiosk session `session` closed: its admitted call, waiting or connected, waits for
    /// it instead of ending. Returns whether it does.
    pub(crate) fn detach(&mut self, now: Instant, session: SessionId, info: &SessionInfo) -> bool {
        if info.role != Role::Kiosk || self.config.resume_grace.is_zero() {
            return false;
        }
        let Some(token) = info.resume.clone() else {
            return false;
        };
        let Some(&id) = self.by_session.get(&session) else {
            return false;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if call.end_reason.is_some() || !call.admitted {
            return false;
        }
        let Some(leg) = call
            .legs
            .iter_mut()
            .find(|l| l.role == LegRole::Kiosk && l.session == Some(session))
        else {
            return false;
        };
        leg.session = None;
        let leg = leg.id;
        let connected = matches!(call.state, CallState::Connected { .. });
        self.by_session.remove(&session);
        self.detached.insert(
            token,
            Detached {
                subject: info.subject.clone(),
                call: id,
                since: now,
            },
        );
        if connected {
            self.tell_signalling(id, leg, LegRole::Kiosk, false);
        }
        true
    }

    /// Tells the other participants of `call` that the connection of `leg` (a kiosk's or an
    /// agent's) dropped or is back.
    fn tell_signalling(
        &mut self,
        call: CallId,
        leg: crate::call::LegId,
        role: LegRole,
        online: bool,
    ) {
        let message = ServerMessage::PeerSignalling { call, role, online };
        self.push_others(call, leg, &message);
    }

    /// [`crate::Input::Resume`].
    pub(crate) fn resume(
        &mut self,
        now: Instant,
        session: SessionId,
        token: String,
        previous: Option<String>,
    ) -> Verdict {
        let Some(info) = self.sessions.get_mut(&session) else {
            return Verdict::Done;
        };
        if info.role != Role::Kiosk || self.by_session.contains_key(&session) {
            return Verdict::Done;
        }
        info.resume = Some(token);
        let subject = info.subject.clone();
        let Some(previous) = previous else {
            return Verdict::Done;
        };
        let (id, replaced) = match self.detached.get(&previous) {
            Some(detached) if detached.subject == subject => {
                let id = detached.call;
                self.detached.remove(&previous);
                (id, None)
            }
            Some(_) => return Verdict::Done,
            // The old connection may still look open (its drop not noticed yet): the new one
            // takes its call over.
            None => {
                let old = self.sessions.iter().find(|(s, i)| {
                    **s != session
                        && i.role == Role::Kiosk
                        && i.subject == subject
                        && i.resume.as_deref() == Some(previous.as_str())
                });
                let Some((&old, _)) = old else {
                    return Verdict::Done;
                };
                let Some(&id) = self.by_session.get(&old) else {
                    return Verdict::Done;
                };
                (id, Some(old))
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return Verdict::Done;
        };
        if call.end_reason.is_some() {
            return Verdict::Done;
        }
        let Some(leg) = call
            .legs
            .iter_mut()
            .find(|l| l.role == LegRole::Kiosk && (l.session.is_none() || l.session == replaced))
        else {
            return Verdict::Done;
        };
        leg.session = Some(session);
        // A kiosk whose media was lost meanwhile gets the whole grace period to offer again.
        if leg.lost_at.is_some() {
            leg.lost_at = Some(now);
        }
        let leg = leg.id;
        let connected = matches!(call.state, CallState::Connected { .. });
        let resumed = ResumedCall {
            call: id,
            service: call.service.clone(),
            connected,
            position: call.position.filter(|_| !connected).map(|(p, _)| p),
            eta_secs: call
                .position
                .filter(|_| !connected)
                .and_then(|(_, eta)| eta)
                .map(|eta| eta.as_secs()),
            media: !connected && matches!(call.room, RoomState::Open { .. }),
        };
        if let Some(old) = replaced {
            self.by_session.remove(&old);
            if let Some(info) = self.sessions.get_mut(&old) {
                info.resume = None;
            }
        }
        self.by_session.insert(session, id);
        if connected && replaced.is_none() {
            self.tell_signalling(id, leg, LegRole::Kiosk, true);
        }
        Verdict::Resumed {
            call: resumed,
            replaced,
        }
    }

    /// Ends the calls whose kiosk did not come back in time, and sends back to their queue
    /// those whose agent did not.
    pub(crate) fn resume_timeout(&mut self, now: Instant) {
        let agent_grace = self.config.agent_grace;
        let gone: Vec<String> = self
            .away
            .iter()
            .filter(|(_, (_, since))| since.checked_add(agent_grace).is_some_and(|at| at <= now))
            .map(|(agent, _)| agent.clone())
            .collect();
        for agent in gone {
            let Some((id, _)) = self.away.remove(&agent) else {
                continue;
            };
            if let Some(call) = self.calls.get_mut(&id) {
                call.end_reason.get_or_insert(EndReason::Disconnected);
            }
            self.outputs
                .push_back(Output::Dispatch(Event::AgentDisconnect {
                    agent: relais_proto::AgentId::from(agent),
                }));
        }
        let grace = self.config.resume_grace;
        let due: Vec<String> = self
            .detached
            .iter()
            .filter(|(_, d)| d.since.checked_add(grace).is_some_and(|at| at <= now))
            .map(|(token, _)| token.clone())
            .collect();
        for token in due {
            let Some(detached) = self.detached.remove(&token) else {
                continue;
            };
            let Some(call) = self.calls.get_mut(&detached.call) else {
                continue;
            };
            if call.end_reason.is_some() {
                continue;
            }
            let event = match call.state {
                CallState::Waiting { .. } => Event::Abandon { call: call.id },
                CallState::Connected { .. } => {
                    call.end_reason = Some(EndReason::Disconnected);
                    Event::CallEnded {
                        call: call.id,
                        by: EndedBy::Kiosk,
                    }
                }
            };
            self.outputs.push_back(Output::Dispatch(event));
        }
    }
}
