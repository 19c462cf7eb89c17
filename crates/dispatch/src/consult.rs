//! Consultations and warm transfers: the agent of a connected call consults a colleague who is
//! available (a consultation is a call of its own, offered to that colleague at once, in no
//! queue and in no queue's figures), then either hands the call over to that colleague or ends
//! the consultation and goes on with the call.

use std::time::{Duration, Instant};

use relais_proto::{AgentId, CallId};

use crate::agent::AState;
use crate::calls::{CState, Call};
use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;
use crate::model::{Command, WithdrawReason};
use crate::timers::Timer;

impl Dispatcher {
    /// Whether the call in slot `idx` is a consultation.
    pub(crate) fn is_consult(&self, idx: u32) -> bool {
        self.call(idx).is_some_and(|c| c.consult_of.is_some())
    }

    /// See [`crate::Event::Consult`].
    pub(crate) fn consult(
        &mut self,
        now: Instant,
        id: CallId,
        parent: CallId,
        agent: &AgentId,
        to: &AgentId,
    ) -> Result<(), DispatchError> {
        if self.call_index.contains_key(&id) {
            return Err(DispatchError::DuplicateCall(id));
        }
        let (pidx, a) = self.connected_to(parent, agent)?;
        let refused = |why| DispatchError::AgentUnavailable {
            call: parent,
            agent: to.clone(),
            why,
        };
        let b = *self
            .agent_index
            .get(to)
            .ok_or_else(|| refused("that agent is not logged in"))?;
        if b == a {
            return Err(refused("it is the agent of the call"));
        }
        if self.agents[b as usize].state != AState::Available {
            return Err(refused("that agent is not available now"));
        }
        let Some(source) = self.call(pidx) else {
            return Err(DispatchError::UnknownCall(parent));
        };
        if source.consult.is_some() {
            return Err(DispatchError::ConsultRefused {
                call: parent,
                why: "a colleague is already consulted",
            });
        }
        let q = source.queue;
        let mut call = Call::new(
            id,
            source.kiosk.clone(),
            source.site.clone(),
            q,
            source.priority,
            now,
        );
        call.consult_of = Some((pidx, parent));
        let idx = self.alloc_call(call);
        if let Some(source) = self.call_mut(pidx) {
            source.consult = Some((idx, id));
        }
        let timeout = self
            .queue(q)
            .map_or(Duration::from_secs(20), |queue| queue.cfg.offer_timeout);
        let until = now.checked_add(timeout).unwrap_or(now);
        let queue = self.queue_names[q as usize].clone();
        let Some(call) = self.call_mut(idx) else {
            return Ok(());
        };
        call.state = CState::Offered { agent: b, until };
        call.attempts = 1;
        call.offered_at = Some(now);
        let command = Command::Offer {
            call: id,
            agent: to.clone(),
            queue,
            kiosk: call.kiosk.clone(),
            site: call.site.clone(),
            deadline: until,
            attempt: 1,
            callback: false,
        };
        self.commands.push_back(command);
        self.timers.insert(until, Timer::Offer(b));
        self.set_state(
            now,
            b,
            AState::Reserved {
                call: idx,
                id,
                until,
            },
        );
        Ok(())
    }

    /// See [`crate::Event::CompleteTransfer`].
    pub(crate) fn complete_transfer(
        &mut self,
        now: Instant,
        id: CallId,
        agent: &AgentId,
    ) -> Result<(), DispatchError> {
        let (idx, a) = self.connected_to(id, agent)?;
        let refused = |why| DispatchError::ConsultRefused { call: id, why };
        let (aux, aux_id) = self
            .call(idx)
            .and_then(|c| c.consult)
            .ok_or_else(|| refused("no colleague is consulted"))?;
        let Some(CState::Connected { agent: b }) = self.call(aux).map(|c| c.state) else {
            return Err(refused("the colleague has not answered yet"));
        };
        self.drop_call_slot(aux);
        let Some(call) = self.call(idx) else {
            return Err(DispatchError::UnknownCall(id));
        };
        let (q, wrap_up, callback) = (call.queue, call.wrap_up, call.callback);
        let threshold = self
            .queue(q)
            .map_or(Duration::MAX, |queue| queue.cfg.service_level_threshold);
        self.note_talk_of_leaving_agent(now, idx, a);
        if let Some(call) = self.call_mut(idx) {
            call.consult = None;
            call.state = CState::Connected { agent: b };
            call.agent = Some(b);
            call.answered_at = Some(now);
            call.waiting_since = now;
            call.transfers += 1;
            if !call.handed_by.contains(&a) {
                call.handed_by.push(a);
            }
        }
        // As a transfer to a named agent: handed out of the queue, offered to it again and
        // answered at once (a wait of zero).
        let within = u64::from(Duration::ZERO <= threshold);
        self.record(q, now, true, |c| c.transferred_out += 1);
        self.record(q, now, false, |c| c.count_entry(callback));
        self.record(q, now, true, |c| {
            if callback {
                c.callbacks_answered += 1;
            } else {
                c.answered += 1;
                c.answered_within_threshold += within;
            }
        });
        let colleague = &mut self.agents[b as usize];
        colleague.missed = 0;
        colleague.calls_answered += 1;
        self.commands.push_back(Command::TransferCompleted {
            call: id,
            consult: aux_id,
            queue: self.queue_names[q as usize].clone(),
            from: self.agents[a as usize].id.clone(),
            to: self.agents[b as usize].id.clone(),
        });
        self.set_state(now, b, AState::OnCall { call: idx, id });
        self.leave_for_wrap_up(now, a, wrap_up);
        Ok(())
    }

    /// See [`crate::Event::EndConsult`].
    pub(crate) fn end_consult_event(
        &mut self,
        now: Instant,
        id: CallId,
    ) -> Result<(), DispatchError> {
        let idx = self.call_slot(id)?;
        if !self.is_consult(idx) {
            return Err(DispatchError::ConsultRefused {
                call: id,
                why: "it is not a consultation",
            });
        }
        self.release_consult(now, idx);
        Ok(())
    }

    /// Ends consultation `idx` wherever it stands and frees its colleague.
    pub(crate) fn release_consult(&mut self, now: Instant, idx: u32) {
        let Some(state) = self.call(idx).map(|c| c.state) else {
            return;
        };
        match state {
            CState::Offered { agent, until } => {
                self.timers.remove(until, Timer::Offer(agent));
                if let Some(call) = self.call(idx) {
                    self.commands.push_back(Command::OfferWithdrawn {
                        call: call.id,
                        agent: self.agents[agent as usize].id.clone(),
                        reason: WithdrawReason::CallEnded,
                    });
                }
                self.end_consult(idx);
                self.set_state(now, agent, AState::Available);
            }
            CState::Connected { agent } => {
                self.end_consult(idx);
                self.set_state(now, agent, AState::Available);
            }
            CState::Queued => self.end_consult(idx),
        }
    }

    /// The consultation of call `idx`, if any, ends (the call ends, goes back to a queue or
    /// is handed on).
    pub(crate) fn release_consult_of(&mut self, now: Instant, idx: u32) {
        if let Some((aux, aux_id)) = self.call(idx).and_then(|c| c.consult)
            && self.call(aux).is_some_and(|c| c.id == aux_id)
        {
            self.release_consult(now, aux);
        }
    }

    /// Takes consultation `idx` out and reports it ended; its colleague's state is the
    /// caller's.
    pub(crate) fn end_consult(&mut self, idx: u32) {
        let Some(call) = self.drop_call_slot(idx) else {
            return;
        };
        let agent = match call.state {
            CState::Offered { agent, .. } | CState::Connected { agent } => agent,
            CState::Queued => return,
        };
        let Some((pidx, parent)) = call.consult_of else {
            return;
        };
        if let Some(source) = self.call_mut(pidx)
            && source.id == parent
        {
            source.consult = None;
        }
        self.commands.push_back(Command::ConsultEnded {
            call: call.id,
            parent,
            agent: self.agents[agent as usize].id.clone(),
            answered: matches!(call.state, CState::Connected { .. }),
        });
    }

    /// Frees call slot `idx` (a consultation, which is in no queue and has no timer).
    fn drop_call_slot(&mut self, idx: u32) -> Option<Call> {
        let call = self.calls.get_mut(idx as usize).and_then(Option::take)?;
        self.free_calls.push(idx);
        self.call_index.remove(&call.id);
        Some(call)
    }
}
