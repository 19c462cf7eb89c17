//! An interpreter joins a call (French Sign Language, a spoken language): the agent asks for
//! one from an interpreter queue, where a call of its own waits like any other and is offered
//! to that queue's agents; the one who accepts joins the agent's call as a full participant,
//! and may leave while the call goes on. The interpreter's call has its own record in the
//! interpreter queue (its wait, its talk, its wrap-up), beside the call it served.

use std::time::Instant;

use relais_dispatch::{CallSummary, Event};
use relais_proto::{AgentId, CallId, EndedBy, InterpreterState, LegRole, Role, ServerMessage};

use crate::call::{CallState, LegLeft, RoomState};
use crate::core::{CallCore, WrapUp};
use crate::error::CallError;
use crate::io::{Ended, Output, SessionId, Verdict};

/// A call for an interpreter, on behalf of a call in progress.
#[derive(Debug, Clone)]
pub(crate) struct Interpreting {
    /// The call the interpreter is for.
    pub(crate) parent: CallId,
    /// The interpreter queue.
    pub(crate) service: String,
    /// The interpreter who answered, while in the call.
    pub(crate) interpreter: Option<String>,
}

impl CallCore {
    /// The agent of a connected call asks for an interpreter from `service`: a call `aux`
    /// waits in that queue (answer [`Verdict::Enqueue`] as for a kiosk's call).
    pub(crate) fn ask_interpreter(
        &mut self,
        now: Instant,
        session: SessionId,
        aux: CallId,
        service: String,
    ) -> Result<Verdict, CallError> {
        let (call, _, role) = self
            .session_call(session)
            .ok_or(CallError::NoCall("no call is connected"))?;
        let handles = call
            .leg_of_session(session)
            .is_some_and(|l| self.by_agent.get(&l.subject) == Some(&call.id));
        if role != LegRole::Agent || !handles {
            return Err(CallError::WrongState(
                "only the agent asks for an interpreter",
            ));
        }
        if !matches!(call.state, CallState::Connected { .. })
            || !matches!(call.room, RoomState::Open { .. })
        {
            return Err(CallError::NoCall("no call is connected"));
        }
        let parent = call.id;
        if self.interpreting.values().any(|i| i.parent == parent) {
            return Err(CallError::WrongState(
                "an interpreter is already asked for or in the call",
            ));
        }
        if self.calls.contains_key(&aux) || self.interpreting.contains_key(&aux) {
            return Err(CallError::DuplicateCall(aux));
        }
        let (kiosk, site) = (call.kiosk.clone(), call.site.clone());
        self.interpreting.insert(
            aux,
            Interpreting {
                parent,
                service: service.clone(),
                interpreter: None,
            },
        );
        self.placed_at.insert(aux, now);
        Ok(Verdict::Enqueue {
            call: aux,
            queue: service,
            kiosk,
            site,
        })
    }

    /// The interpreter queue's answer to the request.
    pub(crate) fn interpreter_admitted(
        &mut self,
        aux: CallId,
        admission: Option<relais_dispatch::Admission>,
    ) -> Verdict {
        match admission {
            Some(relais_dispatch::Admission::Queued) => {
                self.announce_interpreter(aux, InterpreterState::Waiting);
                Verdict::Queued(aux)
            }
            Some(relais_dispatch::Admission::Refused { outcome, record }) => {
                self.interpreting.remove(&aux);
                self.placed_at.remove(&aux);
                let outcome = outcome.wire();
                self.outputs.push_back(Output::Record(Box::new(Ended {
                    call: aux,
                    outcome,
                    ended_by: None,
                    reason: None,
                    summary: *record,
                    legs: Vec::new(),
                    chat: Vec::new(),
                })));
                Verdict::Refused(outcome)
            }
            None => {
                self.interpreting.remove(&aux);
                self.placed_at.remove(&aux);
                Verdict::Done
            }
        }
    }

    /// An interpreter accepted: it joins the call it is for, as a full participant.
    pub(crate) fn interpreter_answered(
        &mut self,
        now: Instant,
        aux: CallId,
        agent: AgentId,
        queue: &str,
    ) {
        let Some(entry) = self.interpreting.get_mut(&aux) else {
            return;
        };
        let parent = entry.parent;
        entry.interpreter = Some(agent.as_str().to_owned());
        if !self.join_as_participant(now, parent, LegRole::Interpreter, agent.as_str(), queue) {
            // The call ended or is waiting for an agent again: the interpreter's call ends.
            self.outputs.push_back(Output::Dispatch(Event::CallEnded {
                call: aux,
                by: EndedBy::Server,
            }));
            return;
        }
        self.announce_interpreter(aux, InterpreterState::Joined);
    }

    /// Agent `subject` (an interpreter, a consulted colleague) joins the connected call
    /// `parent` as a full participant, for `queue`, and negotiates after `media_ready`;
    /// `false` if the call is no longer connected.
    pub(crate) fn join_as_participant(
        &mut self,
        now: Instant,
        parent: CallId,
        role: LegRole,
        subject: &str,
        queue: &str,
    ) -> bool {
        let session = self.agent_sessions.get(subject).copied();
        self.wrap_ups.remove(subject);
        let live = self.calls.get_mut(&parent).filter(|call| {
            matches!(call.state, CallState::Connected { .. })
                && matches!(call.room, RoomState::Open { .. })
        });
        let Some(call) = live else {
            return false;
        };
        let leg = call.add_leg(now, role, subject, session, Some(queue));
        call.converse(leg);
        if let Some(session) = session {
            self.by_session.insert(session, parent);
            self.push(
                session,
                ServerMessage::MediaReady {
                    call: parent,
                    peer_role: Role::Kiosk,
                    waiting: false,
                },
            );
        }
        self.announce_participants(parent);
        true
    }

    /// The interpreter's call ended (it hung up, it vanished, the call it served ended, or
    /// nobody answered): its record, and its leg out of the call that goes on.
    pub(crate) fn interpreter_ended(
        &mut self,
        now: Instant,
        aux: CallId,
        outcome: relais_dispatch::Outcome,
        record: CallSummary,
    ) {
        let Some(entry) = self.interpreting.remove(&aux) else {
            return;
        };
        self.placed_at.remove(&aux);
        let mut legs = Vec::new();
        if let Some(interpreter) = &entry.interpreter
            && let Some(call) = self.calls.get_mut(&entry.parent)
        {
            let leg = call
                .legs
                .iter()
                .find(|l| l.role == LegRole::Interpreter && l.subject == *interpreter)
                .map(|l| (l.id, l.session, l.record));
            if let Some((leg, session, record)) = leg {
                if let Some(session) = session
                    && self.by_session.get(&session) == Some(&entry.parent)
                {
                    self.by_session.remove(&session);
                }
                if let Some(history) = call.history.get(record) {
                    legs.push(history.clone());
                }
                self.remove_leg(now, entry.parent, leg, LegLeft::Left);
                if let Some(closed) = legs.last_mut() {
                    closed.left.get_or_insert((now, LegLeft::Left));
                }
            }
        }
        let outcome = outcome.wire();
        let answered = outcome == relais_proto::Outcome::Answered;
        if answered && let Some(interpreter) = &entry.interpreter {
            self.wrap_ups.insert(
                interpreter.clone(),
                WrapUp {
                    call: aux,
                    service: entry.service.clone(),
                    disposition: None,
                },
            );
        }
        self.outputs.push_back(Output::Record(Box::new(Ended {
            call: aux,
            outcome,
            ended_by: record.ended_by,
            reason: None,
            summary: record,
            legs,
            chat: Vec::new(),
        })));
        let status = if answered {
            InterpreterState::Left
        } else {
            InterpreterState::Unavailable
        };
        self.push_interpreter_status(entry.parent, &entry.service, status);
    }

    /// The interpreter vanished and its call waits again in its queue: its leg leaves.
    pub(crate) fn interpreter_requeued(&mut self, now: Instant, aux: CallId) {
        let Some(entry) = self.interpreting.get_mut(&aux) else {
            return;
        };
        let parent = entry.parent;
        let Some(interpreter) = entry.interpreter.take() else {
            return;
        };
        let leg = self.calls.get(&parent).and_then(|call| {
            call.legs
                .iter()
                .find(|l| l.role == LegRole::Interpreter && l.subject == interpreter)
                .map(|l| l.id)
        });
        if let Some(leg) = leg {
            self.remove_leg(now, parent, leg, LegLeft::Left);
        }
        self.announce_interpreter(aux, InterpreterState::Waiting);
    }

    /// The interpreter of a call hangs up: its own call ends; the call it served goes on.
    pub(crate) fn interpreter_hangup(&self, parent: CallId, subject: &str) -> Option<Verdict> {
        self.interpreting
            .iter()
            .find(|(_, i)| i.parent == parent && i.interpreter.as_deref() == Some(subject))
            .map(|(&aux, _)| {
                Verdict::Dispatch(Event::CallEnded {
                    call: aux,
                    by: EndedBy::Agent,
                })
            })
    }

    /// A call ends: its interpreter's call ends too (or stops waiting).
    pub(crate) fn end_interpreters_of(&mut self, parent: CallId) {
        let pending: Vec<(CallId, bool)> = self
            .interpreting
            .iter()
            .filter(|(_, i)| i.parent == parent)
            .map(|(&aux, i)| (aux, i.interpreter.is_some()))
            .collect();
        for (aux, joined) in pending {
            let event = if joined {
                Event::CallEnded {
                    call: aux,
                    by: EndedBy::Server,
                }
            } else {
                Event::Abandon { call: aux }
            };
            self.outputs.push_back(Output::Dispatch(event));
        }
    }

    fn announce_interpreter(&mut self, aux: CallId, status: InterpreterState) {
        if let Some(entry) = self.interpreting.get(&aux) {
            let (parent, service) = (entry.parent, entry.service.clone());
            self.push_interpreter_status(parent, &service, status);
        }
    }

    /// Tells the call's agent where its request for an interpreter stands.
    fn push_interpreter_status(&mut self, parent: CallId, service: &str, status: InterpreterState) {
        let agent = self
            .calls
            .get(&parent)
            .and_then(|c| c.leg_of_role(LegRole::Agent))
            .and_then(|l| l.session);
        if let Some(session) = agent {
            self.push(
                session,
                ServerMessage::InterpreterStatus {
                    call: parent,
                    service: service.to_owned(),
                    status,
                },
            );
        }
    }
}
