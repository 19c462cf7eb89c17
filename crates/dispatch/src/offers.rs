//! Offers: reserving an agent for a call, accept (first wins), reject, deadline expiry with
//! missed-offer auto-pause, and withdrawal; a returned call goes back to its original place.

use std::time::Instant;

use relais_proto::{AgentId, CallId};

use crate::agent::AState;
use crate::calls::CState;
use crate::config::Strategy;
use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;
use crate::model::{Command, WithdrawReason};
use crate::timers::Timer;

impl Dispatcher {
    /// Offers waiting call `idx` to available agent `a`.
    pub(crate) fn offer(&mut self, now: Instant, idx: u32, a: u32) {
        let Some(call) = self.call(idx) else { return };
        let (q, level, key) = (call.queue, call.level, call.key(idx));
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        queue.remove_waiting(level, &key);
        queue.on_offer.insert(key);
        self.pos_touched.push(q);
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let until = now.checked_add(queue.cfg.offer_timeout).unwrap_or(now);
        if queue.cfg.strategy == Strategy::RoundRobin {
            queue.rr_last = Some(a);
        }
        let queue_id = queue.id.clone();
        let agent_id = self.agents[a as usize].id.clone();
        let Some(call) = self.call_mut(idx) else {
            return;
        };
        call.state = CState::Offered { agent: a, until };
        call.attempts += 1;
        call.offered_at.get_or_insert(now);
        call.exclusions.clear();
        let command = Command::Offer {
            call: call.id,
            agent: agent_id,
            queue: queue_id,
            kiosk: call.kiosk.clone(),
            site: call.site.clone(),
            deadline: until,
            attempt: call.attempts,
            callback: call.callback,
        };
        let id = call.id;
        self.commands.push_back(command);
        self.timers.insert(until, Timer::Offer(a));
        self.set_state(
            now,
            a,
            AState::Reserved {
                call: idx,
                id,
                until,
            },
        );
    }

    /// The agent's slot and the offered call's slot, if `call` is offered to `agent` now.
    fn offered_pair(
        &self,
        call: CallId,
        agent: &AgentId,
    ) -> Result<(u32, u32, Instant), DispatchError> {
        let a = *self
            .agent_index
            .get(agent)
            .ok_or_else(|| DispatchError::UnknownAgent(agent.clone()))?;
        let refused = || DispatchError::NoLongerOffered {
            call,
            agent: agent.clone(),
        };
        match self.agents[a as usize].state {
            AState::Reserved {
                call: idx,
                id,
                until,
            } if id == call => Ok((a, idx, until)),
            _ => Err(refused()),
        }
    }

    pub(crate) fn accept(
        &mut self,
        now: Instant,
        call: CallId,
        agent: &AgentId,
    ) -> Result<(), DispatchError> {
        let (a, idx, until) = self.offered_pair(call, agent)?;
        self.timers.remove(until, Timer::Offer(a));
        let Some(c) = self.call(idx) else {
            return Err(DispatchError::UnknownCall(call));
        };
        let (q, key, max_wait_at) = (c.queue, c.key(idx), c.max_wait_at);
        let wait = now.saturating_duration_since(c.waiting_since);
        let (threshold, wrap_up, queue_id) = match self.queue_mut(q) {
            Some(queue) => {
                queue.on_offer.remove(&key);
                (
                    queue.cfg.service_level_threshold,
                    queue.cfg.wrap_up,
                    queue.id.clone(),
                )
            }
            None => (
                std::time::Duration::MAX,
                std::time::Duration::ZERO,
                self.queue_names[q as usize].clone(),
            ),
        };
        if let Some(at) = max_wait_at {
            self.timers.remove(at, Timer::MaxWait(idx, call.0));
        }
        if let Some(c) = self.call_mut(idx) {
            c.state = CState::Connected { agent: a };
            c.answered_at = Some(now);
            c.first_answered_at.get_or_insert(now);
            c.agent = Some(a);
            c.max_wait_at = None;
            c.max_wait_due = false;
            c.wrap_up = wrap_up;
        }
        let within = u64::from(wait <= threshold);
        let consult = self.is_consult(idx);
        let callback = self.call(idx).is_some_and(|c| c.callback);
        if callback {
            // The caller is phoned back: no live answer, no speed of answer.
            self.record(q, now, true, |c| c.callbacks_answered += 1);
        } else if !consult {
            self.record(q, now, true, |c| {
                c.answered += 1;
                c.answered_within_threshold += within;
                c.answered_wait = c.answered_wait.saturating_add(wait);
            });
        }
        let agent_state = &mut self.agents[a as usize];
        agent_state.missed = 0;
        if !consult {
            agent_state.calls_answered += 1;
        }
        self.commands.push_back(Command::CallAnswered {
            call,
            agent: agent.clone(),
            queue: queue_id,
        });
        self.set_state(
            now,
            a,
            AState::OnCall {
                call: idx,
                id: call,
            },
        );
        Ok(())
    }

    pub(crate) fn reject(
        &mut self,
        now: Instant,
        call: CallId,
        agent: &AgentId,
    ) -> Result<(), DispatchError> {
        let (a, idx, until) = self.offered_pair(call, agent)?;
        self.timers.remove(until, Timer::Offer(a));
        self.return_to_queue(now, idx, Some(a));
        self.set_state(now, a, AState::Available);
        Ok(())
    }

    /// The offer deadline of agent `a` passed.
    pub(crate) fn offer_expired(&mut self, now: Instant, a: u32) {
        let AState::Reserved { call: idx, .. } = self.agents[a as usize].state else {
            return;
        };
        self.take_back_offer(now, a, idx, WithdrawReason::Expired);
        let max = self.settings.max_missed_offers;
        let agent = &mut self.agents[a as usize];
        agent.missed += 1;
        if max > 0 && agent.missed >= max {
            agent.missed = 0;
            self.set_state(
                now,
                a,
                AState::NotReady {
                    reason: "missed".into(),
                },
            );
        } else {
            self.set_state(now, a, AState::Available);
        }
    }

    /// Withdraws agent `a`'s offer, if any, because the agent leaves (the caller sets its
    /// state next).
    pub(crate) fn withdraw_offer_of(&mut self, now: Instant, a: u32) {
        let AState::Reserved {
            call: idx, until, ..
        } = self.agents[a as usize].state
        else {
            return;
        };
        self.timers.remove(until, Timer::Offer(a));
        self.take_back_offer(now, a, idx, WithdrawReason::AgentUnavailable);
    }

    /// Tells agent `a` its offer of call `idx` is withdrawn for `reason`, and puts the call
    /// back in its queue.
    fn take_back_offer(&mut self, now: Instant, a: u32, idx: u32, reason: WithdrawReason) {
        if let Some(call) = self.call(idx) {
            self.commands.push_back(Command::OfferWithdrawn {
                call: call.id,
                agent: self.agents[a as usize].id.clone(),
                reason,
            });
        }
        self.return_to_queue(now, idx, Some(a));
    }

    /// An offered call goes back to its original place (its key never changed); `excluded`
    /// is not offered it again before the back-off unless another agent is offered it first.
    fn return_to_queue(&mut self, now: Instant, idx: u32, excluded: Option<u32>) {
        // A consultation is offered once, to the colleague asked for: it ends instead.
        if self.is_consult(idx) {
            self.end_consult(idx);
            return;
        }
        let backoff = self.settings.reoffer_backoff;
        let Some(call) = self.call_mut(idx) else {
            return;
        };
        call.state = CState::Queued;
        // It learns its place and estimate again, even if unchanged: they may have been
        // estimated when nobody could answer.
        call.last_notice = None;
        let id = call.id;
        if let Some(a) = excluded
            && let Some(until) = now.checked_add(backoff)
        {
            call.exclusions.push((a, until));
        }
        let (q, level, key, due) = (call.queue, call.level, call.key(idx), call.max_wait_due);
        if let Some(queue) = self.queue_mut(q) {
            queue.on_offer.remove(&key);
            queue.insert_waiting(level, key);
        }
        self.pos_touched.push(q);
        self.fresh_calls.push((idx, id));
        self.pending_queues.push(q);
        if due {
            if let Some(call) = self.call_mut(idx) {
                call.max_wait_due = false;
            }
            self.max_wait_reached(now, idx);
        }
    }
}
