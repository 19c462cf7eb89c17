//! Calls at run time and their lifecycle: enqueue (or immediate Closed/QueueFull), abandon,
//! callback request, connect, end, max wait (overflow or time-out), interruption, the record.

use std::time::{Duration, Instant};

use relais_proto::{CallId, KioskId, SiteId};

use crate::agent::{AState, WrapInfo};
use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;
use crate::hours::is_open;
use crate::model::{Admission, CallSummary, Command, EndedBy, Outcome, WithdrawReason};
use crate::queue::{HEAD_LEVEL, WaitKey};
use crate::timers::Timer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CState {
    Queued,
    Offered { agent: u32, until: Instant },
    Connected { agent: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub id: CallId,
    pub kiosk: KioskId,
    pub site: SiteId,
    /// Current queue slot.
    pub queue: u32,
    /// First queue slot.
    pub origin: u32,
    pub priority: i32,
    /// Priority level in the queue: `priority`, or `HEAD_LEVEL` after an interruption.
    pub level: i64,
    pub enqueued_at: Instant,
    /// When it started waiting in its current queue (its enqueue, or its transfer): the wait
    /// that queue's service level and ASA count.
    pub waiting_since: Instant,
    pub state: CState,
    pub attempts: u32,
    pub overflows: u32,
    pub transfers: u32,
    pub offered_at: Option<Instant>,
    /// When its current agent answered it.
    pub answered_at: Option<Instant>,
    /// When an agent first answered it (its caller's wait ends there, whatever came after).
    pub first_answered_at: Option<Instant>,
    pub agent: Option<u32>,
    /// Agents not to offer this call to until the instant (cleared at the next offer).
    pub exclusions: Vec<(u32, Instant)>,
    /// Agents who handed it on (a transfer): never offered it again.
    pub handed_by: Vec<u32>,
    pub callback: bool,
    /// A callback task is not offered before this instant.
    pub not_before: Option<Instant>,
    pub max_wait_at: Option<Instant>,
    /// Max wait passed while on offer: act when the call comes back.
    pub max_wait_due: bool,
    /// Last notified position (0 = none yet).
    pub last_pos: usize,
    pub last_notice: Option<Instant>,
    /// Wrap-up time of its queue, taken at answer (the queue may be removed meanwhile).
    pub wrap_up: Duration,
    /// For a consultation: the slot and id of the call it is about.
    pub consult_of: Option<(u32, CallId)>,
    /// The slot and id of its consultation, while its agent consults a colleague.
    pub consult: Option<(u32, CallId)>,
}

impl Call {
    /// A call waiting in queue slot `queue` since `now`.
    pub(crate) fn new(
        id: CallId,
        kiosk: KioskId,
        site: SiteId,
        queue: u32,
        priority: i32,
        now: Instant,
    ) -> Self {
        Self {
            id,
            kiosk,
            site,
            queue,
            origin: queue,
            priority,
            level: i64::from(priority),
            enqueued_at: now,
            waiting_since: now,
            state: CState::Queued,
            attempts: 0,
            overflows: 0,
            transfers: 0,
            offered_at: None,
            answered_at: None,
            first_answered_at: None,
            agent: None,
            exclusions: Vec::new(),
            handed_by: Vec::new(),
            callback: false,
            not_before: None,
            max_wait_at: None,
            max_wait_due: false,
            last_pos: 0,
            last_notice: None,
            wrap_up: Duration::ZERO,
            consult_of: None,
            consult: None,
        }
    }

    pub(crate) fn key(&self, idx: u32) -> WaitKey {
        WaitKey {
            at: self.enqueued_at,
            id: self.id.0,
            idx,
        }
    }

    pub(crate) fn excludes(&self, agent: u32, now: Instant) -> bool {
        self.not_before.is_some_and(|at| at > now)
            || self.handed_by.contains(&agent)
            || self
                .exclusions
                .iter()
                .any(|&(a, until)| a == agent && until > now)
    }

    pub(crate) fn exclusions_expire(&self, now: Instant) -> Option<Instant> {
        self.exclusions
            .iter()
            .map(|&(_, until)| until)
            .chain(self.not_before)
            .filter(|&u| u > now)
            .min()
    }
}

impl Dispatcher {
    pub(crate) fn call_slot(&self, id: CallId) -> Result<u32, DispatchError> {
        self.call_index
            .get(&id)
            .copied()
            .ok_or(DispatchError::UnknownCall(id))
    }

    fn summary(&self, call: &Call, now: Instant, ended_by: Option<EndedBy>) -> CallSummary {
        let name = |q: u32| {
            self.queue_names
                .get(q as usize)
                .cloned()
                .unwrap_or_else(|| "?".into())
        };
        // The caller's wait: until the first answer (a transferred or re-queued call waited
        // again later, but talked in between).
        let waited_until = call.first_answered_at.or(call.answered_at).unwrap_or(now);
        CallSummary {
            call: call.id,
            queue: name(call.queue),
            origin_queue: name(call.origin),
            kiosk: call.kiosk.clone(),
            site: call.site.clone(),
            priority: call.priority,
            enqueued_at: call.enqueued_at,
            offered_at: call.offered_at,
            answered_at: call.answered_at,
            ended_at: now,
            agent: call
                .agent
                .and_then(|a| self.agents.get(a as usize))
                .map(|a| a.id.clone()),
            wait: waited_until.saturating_duration_since(call.enqueued_at),
            talk: call.answered_at.map(|t| now.saturating_duration_since(t)),
            wrap_up: None,
            attempts: call.attempts,
            overflows: call.overflows,
            transfers: call.transfers,
            callback: call.callback,
            ended_by,
        }
    }

    /// Takes the call out of every structure and reports its end. Counters are the caller's.
    pub(crate) fn end_call(
        &mut self,
        now: Instant,
        idx: u32,
        outcome: Outcome,
        by: Option<EndedBy>,
    ) {
        // The consultation about a call ends with it.
        self.release_consult_of(now, idx);
        let Some(call) = self.calls.get_mut(idx as usize).and_then(Option::take) else {
            return;
        };
        self.free_calls.push(idx);
        self.call_index.remove(&call.id);
        let key = call.key(idx);
        if let Some(queue) = self.queue_mut(call.queue) {
            match call.state {
                CState::Queued => {
                    queue.remove_waiting(call.level, &key);
                    self.pos_touched.push(call.queue);
                }
                CState::Offered { .. } => {
                    queue.on_offer.remove(&key);
                }
                CState::Connected { .. } => {}
            }
        }
        if let Some(at) = call.max_wait_at {
            self.timers.remove(at, Timer::MaxWait(idx, call.id.0));
        }
        let record = Box::new(self.summary(&call, now, by));
        self.commands.push_back(Command::CallEnded {
            call: call.id,
            outcome,
            record,
        });
    }

    fn refused(&mut self, now: Instant, call: Call, outcome: Outcome) -> Admission {
        let record = Box::new(self.summary(&call, now, None));
        Admission::Refused { outcome, record }
    }

    pub(crate) fn alloc_call(&mut self, call: Call) -> u32 {
        let id = call.id;
        let idx = match self.free_calls.pop() {
            Some(idx) => {
                self.calls[idx as usize] = Some(call);
                idx
            }
            None => {
                self.calls.push(Some(call));
                u32::try_from(self.calls.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.call_index.insert(id, idx);
        idx
    }

    /// Puts a call (state Queued) into its queue's waiting set with a fresh max-wait timer.
    fn place(&mut self, now: Instant, idx: u32) {
        self.place_from(now, now, idx);
    }

    /// As [`Self::place`], with the max wait counted from `from` (a call waiting since before
    /// a restart counts from its original enqueue).
    fn place_from(&mut self, now: Instant, from: Instant, idx: u32) {
        let Some(call) = self.call(idx) else { return };
        let (q, level, key, id) = (call.queue, call.level, call.key(idx), call.id);
        // A callback task waits for an agent however long it takes.
        let max_wait = self
            .queue(q)
            .and_then(|queue| queue.cfg.max_wait.as_ref())
            .map(|m| m.after)
            .filter(|_| !call.callback);
        let deadline = max_wait.and_then(|after| from.min(now).checked_add(after));
        if let Some(at) = deadline {
            self.timers.insert(at, Timer::MaxWait(idx, id.0));
        }
        if let Some(call) = self.call_mut(idx) {
            call.max_wait_at = deadline;
            call.max_wait_due = false;
            call.last_pos = 0;
            call.last_notice = None;
        }
        if let Some(queue) = self.queue_mut(q) {
            queue.insert_waiting(level, key);
        }
        self.pos_touched.push(q);
        self.fresh_calls.push((idx, id));
        self.pending_queues.push(q);
    }

    /// A new call waiting since `since` (`now`, or earlier for a call given back after a
    /// restart), counted at `now`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue(
        &mut self,
        now: Instant,
        since: Instant,
        id: CallId,
        queue_id: &relais_proto::QueueId,
        kiosk: KioskId,
        site: SiteId,
        priority: i32,
    ) -> Result<Admission, DispatchError> {
        let q = self.new_call_queue(id, queue_id)?;
        let queue = self
            .queue(q)
            .ok_or_else(|| DispatchError::UnknownQueue(queue_id.clone()))?;
        let open = is_open(
            queue.cfg.hours.as_ref(),
            &queue.cfg.time_zone,
            self.anchor.utc_of(now),
        );
        let full = queue
            .cfg
            .max_waiting
            .is_some_and(|max| queue.queued + queue.on_offer.len() >= max);
        let call = Call::new(id, kiosk, site, q, priority, since);
        if !open {
            self.record(q, now, true, |c| c.closed += 1);
            return Ok(self.refused(now, call, Outcome::Closed));
        }
        if full {
            self.record(q, now, true, |c| c.queue_full += 1);
            return Ok(self.refused(now, call, Outcome::QueueFull));
        }
        let idx = self.alloc_call(call);
        self.record(q, now, true, |c| c.offered += 1);
        self.place_from(now, since, idx);
        Ok(Admission::Queued)
    }

    /// [`Dispatcher::admit_callback`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue_callback(
        &mut self,
        now: Instant,
        since: Instant,
        id: CallId,
        queue_id: &relais_proto::QueueId,
        kiosk: KioskId,
        site: SiteId,
        not_before: Option<Instant>,
    ) -> Result<(), DispatchError> {
        let q = self.new_call_queue(id, queue_id)?;
        let mut call = Call::new(id, kiosk, site, q, 0, since);
        call.callback = true;
        call.not_before = not_before.filter(|&at| at > now);
        let idx = self.alloc_call(call);
        self.record(q, now, true, |c| c.count_entry(true));
        self.place(now, idx);
        Ok(())
    }

    /// The queue slot of a new call `id` to `queue_id`: refused for an id in use or an unknown
    /// queue.
    fn new_call_queue(
        &self,
        id: CallId,
        queue_id: &relais_proto::QueueId,
    ) -> Result<u32, DispatchError> {
        if self.call_index.contains_key(&id) {
            return Err(DispatchError::DuplicateCall(id));
        }
        self.queue_index
            .get(queue_id)
            .copied()
            .ok_or_else(|| DispatchError::UnknownQueue(queue_id.clone()))
    }

    pub(crate) fn abandon(&mut self, now: Instant, id: CallId) -> Result<(), DispatchError> {
        let idx = self.call_slot(id)?;
        if self.is_consult(idx) {
            self.release_consult(now, idx);
            return Ok(());
        }
        let Some(call) = self.call(idx) else {
            return Err(DispatchError::UnknownCall(id));
        };
        let offered_to = match call.state {
            CState::Connected { .. } => return Err(DispatchError::CallNotWaiting(id)),
            CState::Offered { agent, until } => Some((agent, until)),
            CState::Queued => None,
        };
        let q = call.queue;
        let wait = now.saturating_duration_since(call.enqueued_at);
        let short = wait < self.settings.short_abandon;
        let threshold = self
            .queue(q)
            .map_or(Duration::MAX, |queue| queue.cfg.service_level_threshold);
        if short {
            self.record(q, now, true, |c| c.short_abandoned += 1);
        } else {
            let within = u64::from(wait <= threshold);
            self.record(q, now, true, |c| {
                c.abandoned += 1;
                c.abandoned_within_threshold += within;
            });
        }
        if let Some((agent, until)) = offered_to {
            self.timers.remove(until, Timer::Offer(agent));
            self.commands.push_back(Command::OfferWithdrawn {
                call: id,
                agent: self.agents[agent as usize].id.clone(),
                reason: WithdrawReason::CallEnded,
            });
        }
        self.end_call(now, idx, Outcome::Abandoned { short }, None);
        if let Some((agent, _)) = offered_to {
            self.set_state(now, agent, AState::Available);
        }
        Ok(())
    }

    /// The waiting call `id` ends `CallbackRequested` and its callback task `task` takes its
    /// place in the queue.
    pub(crate) fn callback_request(
        &mut self,
        now: Instant,
        id: CallId,
        task: CallId,
        not_before: Option<Instant>,
    ) -> Result<(), DispatchError> {
        if self.call_index.contains_key(&task) {
            return Err(DispatchError::DuplicateCall(task));
        }
        let idx = self.call_slot(id)?;
        let call = self.call(idx).ok_or(DispatchError::UnknownCall(id))?;
        if call.consult_of.is_some() || call.callback {
            return Err(DispatchError::CallNotWaiting(id));
        }
        let offered_to = match call.state {
            CState::Connected { .. } => return Err(DispatchError::CallNotWaiting(id)),
            CState::Offered { agent, until } => Some((agent, until)),
            CState::Queued => None,
        };
        let mut callback = Call::new(
            task,
            call.kiosk.clone(),
            call.site.clone(),
            call.queue,
            call.priority,
            call.enqueued_at,
        );
        callback.origin = call.origin;
        callback.level = call.level;
        callback.waiting_since = call.waiting_since;
        callback.overflows = call.overflows;
        callback.transfers = call.transfers;
        callback.handed_by = call.handed_by.clone();
        callback.callback = true;
        callback.not_before = not_before.filter(|&at| at > now);
        let q = call.queue;
        self.record(q, now, true, |c| c.callback_requested += 1);
        if let Some((agent, until)) = offered_to {
            self.timers.remove(until, Timer::Offer(agent));
            self.commands.push_back(Command::OfferWithdrawn {
                call: id,
                agent: self.agents[agent as usize].id.clone(),
                reason: WithdrawReason::CallEnded,
            });
        }
        self.end_call(now, idx, Outcome::CallbackRequested, None);
        if let Some((agent, _)) = offered_to {
            self.set_state(now, agent, AState::Available);
        }
        let task_idx = self.alloc_call(callback);
        self.record(q, now, true, |c| c.count_entry(true));
        self.place(now, task_idx);
        Ok(())
    }

    pub(crate) fn call_connected(
        &mut self,
        _now: Instant,
        id: CallId,
    ) -> Result<(), DispatchError> {
        let idx = self.call_slot(id)?;
        match self.call(idx).map(|c| c.state) {
            Some(CState::Connected { .. }) => Ok(()),
            _ => Err(DispatchError::CallNotConnected(id)),
        }
    }

    pub(crate) fn call_ended(
        &mut self,
        now: Instant,
        id: CallId,
        by: EndedBy,
    ) -> Result<(), DispatchError> {
        let idx = self.call_slot(id)?;
        let Some(call) = self.call(idx) else {
            return Err(DispatchError::UnknownCall(id));
        };
        let CState::Connected { agent } = call.state else {
            return Err(DispatchError::CallNotConnected(id));
        };
        if call.consult_of.is_some() {
            self.release_consult(now, idx);
            return Ok(());
        }
        let talk = call
            .answered_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let (q, wrap_up) = (call.queue, call.wrap_up);
        let a = &mut self.agents[agent as usize];
        a.talk_total = a.talk_total.saturating_add(talk);
        a.wrap = Some(WrapInfo {
            call: id,
            queue: q,
            talk,
            started: now,
        });
        self.end_call(now, idx, Outcome::Answered, Some(by));
        match now.checked_add(wrap_up).filter(|_| !wrap_up.is_zero()) {
            Some(until) => {
                self.timers.insert(until, Timer::WrapUp(agent));
                self.set_state(now, agent, AState::WrapUp { until });
            }
            None => {
                self.finish_wrap_up(now, agent);
                self.set_state(now, agent, AState::Available);
            }
        }
        Ok(())
    }

    /// The connected call `id` and its agent's slot, checked against `agent`.
    pub(crate) fn connected_to(
        &self,
        id: CallId,
        agent: &relais_proto::AgentId,
    ) -> Result<(u32, u32), DispatchError> {
        let idx = self.call_slot(id)?;
        let Some(call) = self.call(idx) else {
            return Err(DispatchError::UnknownCall(id));
        };
        let CState::Connected { agent: a } = call.state else {
            return Err(DispatchError::CallNotConnected(id));
        };
        if call.consult_of.is_some() || self.agents.get(a as usize).is_none_or(|x| x.id != *agent) {
            return Err(DispatchError::CallNotConnected(id));
        }
        Ok((idx, a))
    }

    /// A blind transfer of a connected call to queue `to` (see [`crate::Event::Transfer`]).
    pub(crate) fn transfer(
        &mut self,
        now: Instant,
        id: CallId,
        agent: &relais_proto::AgentId,
        to: &relais_proto::QueueId,
    ) -> Result<(), DispatchError> {
        let (idx, a) = self.connected_to(id, agent)?;
        let q = self.call(idx).map_or(0, |c| c.queue);
        let t = *self
            .queue_index
            .get(to)
            .ok_or_else(|| DispatchError::UnknownQueue(to.clone()))?;
        let refused = |why| DispatchError::TransferRefused {
            call: id,
            queue: to.clone(),
            why,
        };
        if t == q {
            return Err(refused("it is the call's own queue"));
        }
        let target = self.queue(t).ok_or_else(|| refused("it was removed"))?;
        if !is_open(
            target.cfg.hours.as_ref(),
            &target.cfg.time_zone,
            self.anchor.utc_of(now),
        ) {
            return Err(refused("it is closed now"));
        }
        if target
            .cfg
            .max_waiting
            .is_some_and(|max| target.queued + target.on_offer.len() >= max)
        {
            return Err(refused("it has too many calls waiting"));
        }
        self.hand_over(now, idx, a, t, None);
        self.place(now, idx);
        Ok(())
    }

    /// A blind transfer of a connected call to an available agent (see
    /// [`crate::Event::TransferToAgent`]).
    pub(crate) fn transfer_to_agent(
        &mut self,
        now: Instant,
        id: CallId,
        agent: &relais_proto::AgentId,
        to: &relais_proto::AgentId,
    ) -> Result<(), DispatchError> {
        let (idx, a) = self.connected_to(id, agent)?;
        let refused = |why| DispatchError::AgentUnavailable {
            call: id,
            agent: to.clone(),
            why,
        };
        let b = self
            .agents
            .iter()
            .position(|x| x.id == *to)
            .ok_or_else(|| refused("that agent is not logged in"))? as u32;
        if b == a {
            return Err(refused("it is the agent of the call"));
        }
        if self.agents[b as usize].state != AState::Available {
            return Err(refused("that agent is not available now"));
        }
        let q = self.call(idx).map_or(0, |c| c.queue);
        self.hand_over(now, idx, a, q, Some(to.clone()));
        self.place(now, idx);
        // Offered at once to the agent asked for; back to its queue if that agent declines.
        self.offer(now, idx, b);
        Ok(())
    }

    /// The agent `a` of call `idx` hands it on to queue `t`: the agent goes to wrap-up, the
    /// call leaves its queue's count and enters `t`'s, at the head (it waited once already),
    /// not to be offered back to `a`. The caller places it.
    fn hand_over(
        &mut self,
        now: Instant,
        idx: u32,
        a: u32,
        t: u32,
        to_agent: Option<relais_proto::AgentId>,
    ) {
        self.release_consult_of(now, idx);
        let Some(call) = self.call(idx) else { return };
        let (q, id, wrap_up, callback) = (call.queue, call.id, call.wrap_up, call.callback);
        self.note_talk_of_leaving_agent(now, idx, a);
        if let Some(call) = self.call_mut(idx) {
            call.queue = t;
            call.state = CState::Queued;
            call.level = HEAD_LEVEL;
            call.waiting_since = now;
            call.transfers += 1;
            call.agent = None;
            call.exclusions.clear();
            if !call.handed_by.contains(&a) {
                call.handed_by.push(a);
            }
        }
        self.record(q, now, true, |c| c.transferred_out += 1);
        self.record(t, now, false, |c| c.count_entry(callback));
        self.pos_touched.push(q);
        self.commands.push_back(Command::CallTransferred {
            call: id,
            from: self.queue_names[q as usize].clone(),
            to: self.queue_names[t as usize].clone(),
            agent: self.agents[a as usize].id.clone(),
            to_agent,
        });
        self.leave_for_wrap_up(now, a, wrap_up);
    }

    /// Agent `a` leaves call `idx` that goes on: its talk is counted and kept for its
    /// wrap-up.
    pub(crate) fn note_talk_of_leaving_agent(&mut self, now: Instant, idx: u32, a: u32) {
        let Some(call) = self.call(idx) else { return };
        let (q, id) = (call.queue, call.id);
        let talk = call
            .answered_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        let agent_state = &mut self.agents[a as usize];
        agent_state.talk_total = agent_state.talk_total.saturating_add(talk);
        agent_state.wrap = Some(WrapInfo {
            call: id,
            queue: q,
            talk,
            started: now,
        });
    }

    /// Agent `a` goes to wrap-up for `wrap_up` (available at once if zero).
    pub(crate) fn leave_for_wrap_up(&mut self, now: Instant, a: u32, wrap_up: Duration) {
        match now.checked_add(wrap_up).filter(|_| !wrap_up.is_zero()) {
            Some(until) => {
                self.timers.insert(until, Timer::WrapUp(a));
                self.set_state(now, a, AState::WrapUp { until });
            }
            None => {
                self.finish_wrap_up(now, a);
                self.set_state(now, a, AState::Available);
            }
        }
    }

    /// Ends the agent's wrap-up bookkeeping (the caller sets its next state).
    pub(crate) fn finish_wrap_up(&mut self, now: Instant, a: u32) {
        if let AState::WrapUp { until } = self.agents[a as usize].state {
            self.timers.remove(until, Timer::WrapUp(a));
        }
        let Some(wrap) = self.agents[a as usize].wrap.take() else {
            return;
        };
        let wrap_up = now.saturating_duration_since(wrap.started);
        let handle = wrap.talk.saturating_add(wrap_up);
        self.record(wrap.queue, now, true, |c| {
            c.handled += 1;
            c.handle_time = c.handle_time.saturating_add(handle);
            c.talk_time = c.talk_time.saturating_add(wrap.talk);
        });
        self.commands.push_back(Command::WrapUpFinished {
            agent: self.agents[a as usize].id.clone(),
            call: wrap.call,
            wrap_up,
        });
    }

    /// The call waited its queue's max wait: overflow, or end.
    pub(crate) fn max_wait_reached(&mut self, now: Instant, idx: u32) {
        let Some(call) = self.call_mut(idx) else {
            return;
        };
        call.max_wait_at = None;
        match call.state {
            CState::Offered { .. } => {
                call.max_wait_due = true;
                return;
            }
            CState::Connected { .. } => return,
            CState::Queued => {}
        }
        let (q, level, key, id) = (call.queue, call.level, call.key(idx), call.id);
        let target = self
            .queue(q)
            .and_then(|queue| queue.cfg.max_wait.as_ref())
            .and_then(|m| m.overflow_to.clone());
        let Some(target_id) = target else {
            self.record(q, now, true, |c| c.timed_out += 1);
            self.end_call(now, idx, Outcome::TimedOut, None);
            return;
        };
        self.record(q, now, true, |c| c.overflowed += 1);
        let accepting = self.queue_index.get(&target_id).copied().filter(|&t| {
            self.queue(t).is_some_and(|tq| {
                is_open(
                    tq.cfg.hours.as_ref(),
                    &tq.cfg.time_zone,
                    self.anchor.utc_of(now),
                ) && tq
                    .cfg
                    .max_waiting
                    .is_none_or(|max| tq.queued + tq.on_offer.len() < max)
            })
        });
        let Some(t) = accepting else {
            self.end_call(
                now,
                idx,
                Outcome::Overflowed {
                    to: Some(target_id),
                },
                None,
            );
            return;
        };
        if let Some(queue) = self.queue_mut(q) {
            queue.remove_waiting(level, &key);
        }
        self.pos_touched.push(q);
        if let Some(call) = self.call_mut(idx) {
            call.queue = t;
            call.overflows += 1;
            call.exclusions.clear();
        }
        self.record(t, now, false, |c| c.offered += 1);
        self.commands.push_back(Command::CallOverflowed {
            call: id,
            from: self.queue_names[q as usize].clone(),
            to: target_id,
        });
        self.place(now, idx);
    }

    /// A connected call lost its agent `a`: re-queue it at the head, or end it Interrupted.
    pub(crate) fn interrupt(&mut self, now: Instant, idx: u32, a: u32) {
        // A consultation that lost its colleague simply ends (the caller sets its state).
        if self.is_consult(idx) {
            self.end_consult(idx);
            return;
        }
        self.release_consult_of(now, idx);
        let Some(call) = self.call(idx) else { return };
        let (q, id, callback) = (call.queue, call.id, call.callback);
        let talk = call
            .answered_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let agent = &mut self.agents[a as usize];
        agent.talk_total = agent.talk_total.saturating_add(talk);
        self.record(q, now, true, |c| c.interrupted += 1);
        if self.settings.requeue_interrupted && self.queue(q).is_some() {
            if let Some(call) = self.call_mut(idx) {
                call.state = CState::Queued;
                call.level = HEAD_LEVEL;
                call.exclusions.clear();
            }
            self.record(q, now, true, |c| c.count_entry(callback));
            self.commands.push_back(Command::CallRequeued {
                call: id,
                queue: self.queue_names[q as usize].clone(),
                agent: self.agents[a as usize].id.clone(),
            });
            self.place(now, idx);
        } else {
            self.end_call(now, idx, Outcome::Interrupted, Some(EndedBy::Server));
        }
    }

    /// Ends every call of queue `q` (removed by a reload) with `Closed`; offers are withdrawn.
    pub(crate) fn close_queue_calls(&mut self, now: Instant, q: u32) {
        let Some(queue) = self.queue(q) else { return };
        let mut keys: Vec<WaitKey> = queue.on_offer.iter().copied().collect();
        keys.extend(
            queue
                .levels
                .iter()
                .flat_map(|level| level.calls.iter().copied()),
        );
        for key in keys {
            let Some(call) = self.call(key.idx) else {
                continue;
            };
            let id = call.id;
            let offered_to = match call.state {
                CState::Offered { agent, until } => Some((agent, until)),
                _ => None,
            };
            self.record(q, now, true, |c| c.closed += 1);
            if let Some((agent, until)) = offered_to {
                self.timers.remove(until, Timer::Offer(agent));
                self.commands.push_back(Command::OfferWithdrawn {
                    call: id,
                    agent: self.agents[agent as usize].id.clone(),
                    reason: WithdrawReason::CallEnded,
                });
            }
            self.end_call(now, key.idx, Outcome::Closed, None);
            if let Some((agent, _)) = offered_to {
                self.set_state(now, agent, AState::Available);
            }
        }
    }
}
