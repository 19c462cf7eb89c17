//! What sessions ask of the call core: sign-in and sign-out, placing, cancelling and hanging up
//! a call, ending a wrap-up.

use std::time::Instant;

use relais_dispatch::{Admission, Event};
use relais_proto::{AgentId, CallId, EndReason, EndedBy, LegRole, Role};

use crate::call::{Call, CallState, LegLeft};
use crate::core::{CallCore, SessionInfo};
use crate::error::CallError;
use crate::io::{Ended, Output, SessionId, SupervisionEnd, TransferTarget, Verdict};

impl CallCore {
    pub(crate) fn session_opened(
        &mut self,
        now: Instant,
        session: SessionId,
        role: Role,
        subject: String,
    ) {
        if role == Role::Agent {
            if let Some(previous) = self.agent_sessions.insert(subject.clone(), session)
                && previous != session
            {
                self.by_session.remove(&previous);
            }
            if let Some(&call) = self.by_agent.get(&subject)
                && let Some(leg) = self.calls.get_mut(&call).and_then(|c| {
                    c.legs
                        .iter_mut()
                        .find(|l| l.role == LegRole::Agent && l.subject == subject)
                })
            {
                leg.session = Some(session);
                self.by_session.insert(session, call);
            }
            self.agent_back(now, &subject);
        }
        self.sessions.insert(
            session,
            SessionInfo {
                role,
                subject,
                resume: None,
            },
        );
    }

    pub(crate) fn session_closed(&mut self, now: Instant, session: SessionId) {
        let Some(info) = self.sessions.remove(&session) else {
            return;
        };
        if self.detach(now, session, &info) {
            return;
        }
        if let Some(call_id) = self.by_session.remove(&session)
            && let Some(call) = self.calls.get_mut(&call_id)
        {
            let mut kiosk_left = None;
            let mut departed = Vec::new();
            for leg in call.legs.iter_mut().filter(|l| l.session == Some(session)) {
                leg.session = None;
                match leg.role {
                    LegRole::Kiosk => {
                        kiosk_left = Some(matches!(call.state, CallState::Connected { .. }));
                    }
                    // A supervisor or an interpreter leaves; the call goes on without it.
                    LegRole::Supervisor | LegRole::Interpreter => departed.push(leg.id),
                    LegRole::Agent => {}
                }
            }
            let supervisors: Vec<(String, Option<relais_proto::SupervisionMode>)> = departed
                .iter()
                .filter_map(|&leg| call.leg(leg))
                .filter(|leg| leg.role == LegRole::Supervisor)
                .map(|leg| (leg.subject.clone(), leg.mode))
                .collect();
            let ending = match kiosk_left {
                Some(true) => {
                    call.end_reason.get_or_insert(EndReason::Disconnected);
                    Some(Event::CallEnded {
                        call: call_id,
                        by: EndedBy::Kiosk,
                    })
                }
                Some(false) => Some(Event::Abandon { call: call_id }),
                None => None,
            };
            for leg in departed {
                self.remove_leg(now, call_id, leg, LegLeft::Left);
            }
            for (supervisor, mode) in supervisors {
                self.outputs.push_back(Output::SupervisionEnded {
                    call: call_id,
                    supervisor,
                    mode,
                    why: SupervisionEnd::Disconnected,
                });
            }
            if let Some(event) = ending {
                self.outputs.push_back(Output::Dispatch(event));
            }
        }
        if info.role == Role::Agent && self.agent_sessions.get(&info.subject) == Some(&session) {
            self.agent_sessions.remove(&info.subject);
            if self.agent_away(now, &info.subject) {
                return;
            }
            if let Some(call) = self
                .by_agent
                .get(&info.subject)
                .and_then(|c| self.calls.get_mut(c))
            {
                call.end_reason.get_or_insert(EndReason::Disconnected);
            }
            self.outputs
                .push_back(Output::Dispatch(Event::AgentDisconnect {
                    agent: AgentId::from(info.subject),
                }));
        }
    }

    /// A kiosk's call, placed at `since` (`now`, or earlier for a call given back after a
    /// restart).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn place(
        &mut self,
        now: Instant,
        since: Instant,
        id: CallId,
        session: SessionId,
        kiosk: String,
        site: String,
        service: String,
    ) -> Result<Verdict, CallError> {
        if let Some(&held) = self.by_session.get(&session) {
            return Err(CallError::AlreadyInCall(held));
        }
        if let Some(&held) = self.by_identity.get(&kiosk) {
            return Err(CallError::AlreadyInCall(held));
        }
        if self.calls.contains_key(&id) {
            return Err(CallError::DuplicateCall(id));
        }
        if let Err((count, retry_secs)) =
            self.refusals
                .check(now, &kiosk, &service, self.config.refusals_per_minute)
        {
            return Err(CallError::TooManyRefusals {
                service,
                count,
                retry_secs,
            });
        }
        self.calls
            .insert(id, Call::new(since, id, &service, &kiosk, &site, session));
        self.placed_at.insert(id, since);
        self.by_session.insert(session, id);
        self.by_identity.insert(kiosk.clone(), id);
        Ok(Verdict::Enqueue {
            call: id,
            queue: service,
            kiosk,
            site,
        })
    }

    pub(crate) fn admission(
        &mut self,
        now: Instant,
        id: CallId,
        admission: Option<Admission>,
    ) -> Verdict {
        match admission {
            Some(Admission::Queued) => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.admitted = true;
                    let (kiosk, service) = (call.kiosk.clone(), call.service.clone());
                    self.refusals.admitted(&kiosk, &service);
                }
                self.open_waiting_room(id);
                self.journal(id);
                Verdict::Queued(id)
            }
            Some(Admission::Refused { outcome, record }) => {
                let legs = match self.forget(id) {
                    Some(call) => {
                        self.refusals.refused(now, &call.kiosk, &call.service);
                        call.closed_history(now)
                    }
                    None => Vec::new(),
                };
                let outcome = outcome.wire();
                self.outputs.push_back(Output::Record(Box::new(Ended {
                    call: id,
                    outcome,
                    ended_by: None,
                    reason: None,
                    summary: *record,
                    legs,
                    chat: Vec::new(),
                })));
                Verdict::Refused(outcome)
            }
            None => {
                self.forget(id);
                Verdict::Done
            }
        }
    }

    pub(crate) fn cancel(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        let (call, _, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is waiting"))?;
        if role != LegRole::Kiosk {
            return Err(CallError::NoCall("no call is waiting"));
        }
        match call.state {
            CallState::Waiting { .. } => Ok(Verdict::Dispatch(Event::Abandon { call: call.id })),
            CallState::Connected { .. } => {
                Err(CallError::WrongState("the call is connected: use hangup"))
            }
        }
    }

    pub(crate) fn hangup(&mut self, session: SessionId) -> Result<Verdict, CallError> {
        let (call, _, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if !matches!(call.state, CallState::Connected { .. }) {
            // A kiosk whose call was transferred hangs up while it waits for the next agent.
            if role == LegRole::Kiosk && call.was_answered() {
                return Ok(Verdict::Dispatch(Event::Abandon { call: call.id }));
            }
            return Err(CallError::NoCall("no call is connected"));
        }
        // The colleague of a consultation ends the consultation; the call goes on.
        if role == LegRole::Agent
            && let Some(subject) = call.leg_of_session(session).map(|l| l.subject.as_str())
            && let Some(aux) = self.consultation_joined_by(call.id, subject)
        {
            return Ok(Verdict::Dispatch(Event::EndConsult { call: aux }));
        }
        let by =
            match role {
                LegRole::Kiosk => EndedBy::Kiosk,
                LegRole::Agent => EndedBy::Agent,
                // An interpreter ends its own call; the one it served goes on.
                LegRole::Interpreter => {
                    let subject = call
                        .leg_of_session(session)
                        .map(|l| l.subject.clone())
                        .unwrap_or_default();
                    return self.interpreter_hangup(call.id, &subject).ok_or(
                        CallError::WrongState("this interpreter has no call of its own"),
                    );
                }
                // A supervisor leaves; it does not end the call for everyone.
                _ => {
                    return Err(CallError::WrongState(
                        "only the kiosk or the agent ends a call",
                    ));
                }
            };
        let id = call.id;
        if let Some(call) = self.calls.get_mut(&id) {
            call.end_reason.get_or_insert(EndReason::Hangup);
        }
        Ok(Verdict::Dispatch(Event::CallEnded { call: id, by }))
    }

    pub(crate) fn transfer(
        &mut self,
        session: SessionId,
        to: TransferTarget,
    ) -> Result<Verdict, CallError> {
        let (call, leg, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        if role != LegRole::Agent {
            return Err(CallError::WrongState("only the agent transfers a call"));
        }
        if !matches!(call.state, CallState::Connected { .. }) {
            return Err(CallError::NoCall("no call is connected"));
        }
        let agent = call
            .leg(leg)
            .map(|l| l.subject.clone())
            .ok_or(CallError::NoCall("no call is connected"))?;
        Ok(Verdict::Dispatch(match to {
            TransferTarget::Service(service) => Event::Transfer {
                call: call.id,
                agent: AgentId::from(agent),
                to: service.as_str().into(),
            },
            TransferTarget::Agent(to) => Event::TransferToAgent {
                call: call.id,
                agent: AgentId::from(agent),
                to: AgentId::from(to),
            },
        }))
    }

    /// The agent signed in on `session`; `why` refuses any other session.
    fn agent_of(&self, session: SessionId, why: &'static str) -> Result<String, CallError> {
        self.sessions
            .get(&session)
            .filter(|info| info.role == Role::Agent)
            .map(|info| info.subject.clone())
            .ok_or(CallError::WrongState(why))
    }

    pub(crate) fn case_note(
        &mut self,
        session: SessionId,
        call: CallId,
        case_ref: Option<String>,
        notes: Option<String>,
    ) -> Result<Verdict, CallError> {
        let agent = self.agent_of(session, "only an agent notes a case")?;
        let connected = self.by_agent.get(&agent) == Some(&call);
        let wrapping = self.wrap_ups.get(&agent).is_some_and(|w| w.call == call);
        if !connected && !wrapping {
            return Err(CallError::WrongState(
                "a case is noted on the call you are connected to or wrap up",
            ));
        }
        let clean =
            |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        self.outputs.push_back(Output::CaseNote {
            call,
            agent,
            case_ref: clean(case_ref),
            notes: clean(notes),
        });
        Ok(Verdict::Done)
    }

    pub(crate) fn wrap_up_done(
        &mut self,
        session: SessionId,
        disposition: Option<String>,
    ) -> Result<Verdict, CallError> {
        let agent = self.agent_of(session, "only an agent wraps up")?;
        let wrap_up = self
            .wrap_ups
            .get_mut(&agent)
            .ok_or(CallError::WrongState("no call is in wrap-up"))?;
        if let Some(code) = disposition {
            if let Some(allowed) = self.config.dispositions.get(&wrap_up.service)
                && !allowed.is_empty()
                && !allowed.contains(&code)
            {
                return Err(CallError::UnknownDisposition {
                    code,
                    allowed: allowed.join(", "),
                });
            }
            wrap_up.disposition = Some(code);
        }
        Ok(Verdict::Dispatch(Event::WrapUpDone {
            agent: AgentId::from(agent),
        }))
    }
}
