//! Warm transfers: the agent of a connected call consults a colleague who is available; the
//! kiosk is on hold (it receives nobody and nobody but supervisors receives it) while the two
//! agents talk in the call's room; then the agent hands the call over (the colleague stays,
//! the agent leaves for wrap-up, the kiosk comes off hold with the colleague on the same peer)
//! or ends the consultation and goes on with the call.

use std::time::Instant;

use relais_dispatch::Event;
use relais_proto::{AgentId, CallId, ConsultState, LegRole, ServerMessage, SupervisionMode};

use crate::call::{CallState, LegLeft, RoomState};
use crate::core::{CallCore, WrapUp};
use crate::error::CallError;
use crate::io::{Output, SessionId, Verdict};

/// A consultation, by its own call id.
#[derive(Debug, Clone)]
pub(crate) struct Consulting {
    /// The call it is about.
    pub(crate) parent: CallId,
    /// The agent of the call, who consults.
    pub(crate) from: String,
    /// The colleague consulted.
    pub(crate) to: String,
    /// Whether the dispatcher took it (offered it to the colleague).
    pub(crate) offered: bool,
    /// Whether the colleague answered (and has a leg in the call).
    pub(crate) joined: bool,
    /// Whether the agent withdrew it (an end, not a colleague's refusal).
    pub(crate) cancelled: bool,
}

impl CallCore {
    /// The connected call whose agent this session is, and that agent.
    fn handled_call(&self, session: SessionId) -> Result<(CallId, String), CallError> {
        let (call, leg, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if !matches!(call.state, CallState::Connected { .. })
            || !matches!(call.room, RoomState::Open { .. })
        {
            return Err(CallError::NoCall("no call is connected"));
        }
        let subject = call
            .leg(leg)
            .map(|l| l.subject.clone())
            .ok_or(CallError::NoCall("no call is connected"))?;
        if role != LegRole::Agent || self.by_agent.get(&subject) != Some(&call.id) {
            return Err(CallError::WrongState(
                "only the agent of the call does this",
            ));
        }
        Ok((call.id, subject))
    }

    /// The consultation about `parent` the dispatcher took, if any.
    fn consult_of(&self, parent: CallId) -> Option<(CallId, &Consulting)> {
        self.consults
            .iter()
            .find(|(_, c)| c.parent == parent && c.offered)
            .map(|(&aux, c)| (aux, c))
    }

    /// The consultation in which `subject` is the colleague who answered, in `parent`.
    pub(crate) fn consultation_joined_by(&self, parent: CallId, subject: &str) -> Option<CallId> {
        self.consults
            .iter()
            .find(|(_, c)| c.parent == parent && c.joined && c.to == subject)
            .map(|(&aux, _)| aux)
    }

    pub(crate) fn consult(
        &mut self,
        session: SessionId,
        aux: CallId,
        to: String,
    ) -> Result<Verdict, CallError> {
        let (parent, from) = self.handled_call(session)?;
        if to == from {
            return Err(CallError::WrongState("consult a colleague, not yourself"));
        }
        if self.consult_of(parent).is_some() {
            return Err(CallError::WrongState("a colleague is already consulted"));
        }
        if self.calls.contains_key(&aux) || self.consults.contains_key(&aux) {
            return Err(CallError::DuplicateCall(aux));
        }
        // A request the dispatcher refused left nothing behind but its entry.
        self.consults.retain(|_, c| c.parent != parent || c.offered);
        self.consults.insert(
            aux,
            Consulting {
                parent,
                from: from.clone(),
                to: to.clone(),
                offered: false,
                joined: false,
                cancelled: false,
            },
        );
        Ok(Verdict::Dispatch(Event::Consult {
            call: aux,
            parent,
            agent: AgentId::from(from),
            to: AgentId::from(to),
        }))
    }

    pub(crate) fn complete_transfer(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        let (parent, agent) = self.handled_call(session)?;
        match self.consult_of(parent) {
            Some((_, c)) if c.joined => Ok(Verdict::Dispatch(Event::CompleteTransfer {
                call: parent,
                agent: AgentId::from(agent),
            })),
            Some(_) => Err(CallError::WrongState("the colleague has not answered yet")),
            None => Err(CallError::WrongState("no colleague is consulted")),
        }
    }

    pub(crate) fn cancel_consult(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        let (parent, _) = self.handled_call(session)?;
        let (aux, _) = self
            .consult_of(parent)
            .ok_or(CallError::WrongState("no colleague is consulted"))?;
        if let Some(entry) = self.consults.get_mut(&aux) {
            entry.cancelled = true;
        }
        Ok(Verdict::Dispatch(Event::EndConsult { call: aux }))
    }

    /// The dispatcher offers the consultation to the colleague: the kiosk goes on hold.
    pub(crate) fn consult_offered(
        &mut self,
        now: Instant,
        aux: CallId,
        queue: &str,
        deadline: Instant,
    ) {
        let Some(entry) = self.consults.get_mut(&aux) else {
            return;
        };
        entry.offered = true;
        let (parent, from, to) = (entry.parent, entry.from.clone(), entry.to.clone());
        let site = self
            .calls
            .get(&parent)
            .map(|c| c.site.clone())
            .unwrap_or_default();
        let service_name = self.service_name(queue);
        self.push_agent(
            &to,
            ServerMessage::Offered {
                call: aux,
                service: queue.to_owned(),
                service_name,
                site,
                waited_secs: 0,
                deadline_secs: deadline.saturating_duration_since(now).as_secs().max(1),
                consult_from: Some(from.clone()),
                again: false,
                caller_warnings: Vec::new(),
                callback: None,
            },
        );
        self.set_hold(parent, true);
        self.push_consult_status(parent, &from, &to, ConsultState::Ringing);
    }

    /// The colleague answered: it joins the call, talking with the agent; the kiosk stays on
    /// hold.
    pub(crate) fn consult_answered(
        &mut self,
        now: Instant,
        aux: CallId,
        agent: AgentId,
        queue: &str,
    ) {
        let Some(entry) = self.consults.get_mut(&aux) else {
            return;
        };
        entry.joined = true;
        let (parent, from) = (entry.parent, entry.from.clone());
        if !self.join_as_participant(now, parent, LegRole::Agent, agent.as_str(), queue) {
            self.outputs
                .push_back(Output::Dispatch(Event::EndConsult { call: aux }));
            return;
        }
        self.push_consult_status(parent, &from, agent.as_str(), ConsultState::Joined);
    }

    /// The consultation ended without a transfer: the colleague's leg goes, the kiosk comes
    /// off hold with its agent.
    pub(crate) fn consult_ended(&mut self, now: Instant, aux: CallId, answered: bool) {
        let Some(entry) = self.consults.remove(&aux) else {
            return;
        };
        let parent = entry.parent;
        if entry.joined {
            self.remove_agent_leg(now, parent, &entry.to, LegLeft::Left);
        }
        self.set_hold(parent, false);
        let status = if answered || entry.cancelled {
            ConsultState::Ended
        } else {
            ConsultState::Declined
        };
        self.push_consult_status(parent, &entry.from, &entry.to, status);
    }

    /// The agent handed its call to the colleague it consulted.
    pub(crate) fn transfer_completed(
        &mut self,
        now: Instant,
        parent: CallId,
        aux: CallId,
        queue: &str,
        from: AgentId,
        to: AgentId,
    ) {
        self.consults.remove(&aux);
        let session = self.agent_sessions.get(from.as_str()).copied();
        self.remove_agent_leg(now, parent, from.as_str(), LegLeft::Transferred);
        if self.by_agent.get(from.as_str()) == Some(&parent) {
            self.by_agent.remove(from.as_str());
        }
        self.by_agent.insert(to.as_str().to_owned(), parent);
        let served = self
            .calls
            .get(&parent)
            .map(|call| call.handled_by.clone())
            .unwrap_or_else(|| queue.to_owned());
        self.wrap_ups.insert(
            from.as_str().to_owned(),
            WrapUp {
                call: parent,
                service: served,
                disposition: None,
            },
        );
        if let Some(call) = self.calls.get_mut(&parent) {
            call.handled_by = queue.to_owned();
        }
        // Those who coached the agent now coach the colleague.
        let colleague = self.calls.get(&parent).and_then(|call| {
            call.legs
                .iter()
                .find(|l| l.role == LegRole::Agent && l.subject == to.as_str())
                .map(|l| l.id)
        });
        if let Some(colleague) = colleague {
            self.repolicy(parent, |call| {
                let coaches: Vec<_> = call
                    .legs
                    .iter()
                    .filter(|l| l.mode == Some(SupervisionMode::Whisper))
                    .map(|l| l.id)
                    .collect();
                for coach in coaches {
                    call.whisper(coach, colleague);
                }
            });
        }
        if let Some(session) = session {
            self.push(
                session,
                ServerMessage::CallTransferred {
                    call: parent,
                    to: queue.to_owned(),
                    service_name: self.service_name(queue),
                    agent: Some(to.as_str().to_owned()),
                },
            );
        }
        self.set_hold(parent, false);
        self.push_consult_status(parent, from.as_str(), to.as_str(), ConsultState::Completed);
        self.journal(parent);
    }

    /// Removes agent `subject`'s leg from a call that goes on.
    fn remove_agent_leg(&mut self, now: Instant, parent: CallId, subject: &str, why: LegLeft) {
        let leg = self.calls.get(&parent).and_then(|call| {
            call.legs
                .iter()
                .find(|l| l.role == LegRole::Agent && l.subject == subject)
                .map(|l| (l.id, l.session))
        });
        let Some((leg, session)) = leg else {
            return;
        };
        if let Some(session) = session
            && self.by_session.get(&session) == Some(&parent)
        {
            self.by_session.remove(&session);
        }
        self.remove_leg(now, parent, leg, why);
    }

    /// Puts the kiosk of `parent` on hold or takes it off, and tells it.
    fn set_hold(&mut self, parent: CallId, on: bool) {
        let Some(call) = self.calls.get(&parent) else {
            return;
        };
        if call.on_hold == on || !matches!(call.state, CallState::Connected { .. }) {
            return;
        }
        let Some(kiosk) = call.leg_of_role(LegRole::Kiosk).map(|l| (l.id, l.session)) else {
            return;
        };
        self.repolicy(parent, |call| {
            call.on_hold = on;
            if on {
                call.hold(kiosk.0);
            } else {
                call.converse(kiosk.0);
            }
        });
        if let Some(session) = kiosk.1 {
            self.push(session, ServerMessage::Hold { call: parent, on });
        }
        self.announce_participants(parent);
    }

    /// Tells both agents where the consultation stands.
    fn push_consult_status(&mut self, parent: CallId, from: &str, to: &str, status: ConsultState) {
        let message = ServerMessage::ConsultStatus {
            call: parent,
            agent: to.to_owned(),
            status,
        };
        self.push_agent(from, message.clone());
        // The colleague hears of its own part once it answered (before, its offer tells it).
        if matches!(
            status,
            ConsultState::Joined | ConsultState::Ended | ConsultState::Completed
        ) {
            self.push_agent(to, message);
        }
    }

    /// A call ends or leaves its agent: its consultations are the dispatcher's to end; the
    /// core only forgets those the dispatcher never took.
    pub(crate) fn forget_consult_requests(&mut self, parent: CallId) {
        self.consults.retain(|_, c| c.parent != parent || c.offered);
    }

    pub(crate) fn service_name(&self, queue: &str) -> String {
        self.config
            .service_names
            .get(queue)
            .cloned()
            .unwrap_or_else(|| queue.to_owned())
    }
}
