//! The `Dispatcher`: owns all state, runs `handle(now, event)` (due deadlines first, then the
//! event, then routing and position notices), and hands out commands and the next deadline.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use relais_proto::{AgentId, CallId, KioskId, QueueId, SiteId};

use crate::agent::{AState, Agent};
use crate::calls::Call;
use crate::config::{DispatchConfig, QueueConfig, validate};
use crate::error::DispatchError;
use crate::hash::FxMap;
use crate::hours::{WallAnchor, day_bounds};
use crate::kpi::{Counters, KpiState};
use crate::model::{Admission, Command, Event, TimeoutReason};
use crate::queue::{Queue, Req};
use crate::rng::Rng;
use crate::timers::{Timer, Timers};

/// The sans-IO call distributor. Feed it [`Event`]s with the current time; drain
/// [`Command`]s; wake it at [`Dispatcher::poll_timeout`].
#[derive(Debug)]
pub struct Dispatcher {
    /// Settings (the configuration without its queues).
    pub(crate) settings: DispatchConfig,
    pub(crate) rng: Rng,
    pub(crate) anchor: WallAnchor,
    /// Latest time seen (time never goes backwards inside the dispatcher).
    pub(crate) now: Instant,
    /// Origin of the KPI slots and strategy keys.
    pub(crate) epoch: Instant,
    /// Queue slots; a removed queue leaves `None` (slots are never reused).
    pub(crate) queues: Vec<Option<Queue>>,
    /// Name of each queue slot, kept after removal for records.
    pub(crate) queue_names: Vec<QueueId>,
    pub(crate) queue_index: BTreeMap<QueueId, u32>,
    pub(crate) skills: BTreeMap<String, u16>,
    pub(crate) agents: Vec<Agent>,
    pub(crate) agent_index: FxMap<AgentId, u32>,
    pub(crate) calls: Vec<Option<Call>>,
    pub(crate) free_calls: Vec<u32>,
    pub(crate) call_index: FxMap<CallId, u32>,
    pub(crate) timers: Timers,
    pub(crate) commands: VecDeque<Command>,
    /// Agents that became available and must look for a call.
    pub(crate) pending_agents: Vec<u32>,
    /// Queues whose calls must look for agents.
    pub(crate) pending_queues: Vec<u32>,
    /// Calls that entered a queue and get their first position notice after routing.
    pub(crate) fresh_calls: Vec<(u32, CallId)>,
    /// Queues whose waiting order changed (position notices to schedule).
    pub(crate) pos_touched: Vec<u32>,
    pub(crate) overall: KpiState,
    pub(crate) overall_counts: [u32; 6],
    pub(crate) next_day_roll: Instant,
    pub(crate) kpi_dirty: bool,
}

impl Dispatcher {
    /// Builds a dispatcher. `seed` drives the random strategy; `anchor` maps instants to UTC.
    pub fn new(
        config: DispatchConfig,
        seed: u64,
        anchor: WallAnchor,
    ) -> Result<Self, DispatchError> {
        validate(&config)?;
        let now = anchor.at;
        let overall_day = day_bounds(&anchor, &config.time_zone, now);
        let mut dispatcher = Self {
            settings: DispatchConfig {
                queues: Vec::new(),
                ..config.clone()
            },
            rng: Rng::new(seed),
            anchor,
            now,
            epoch: now,
            queues: Vec::new(),
            queue_names: Vec::new(),
            queue_index: BTreeMap::new(),
            skills: BTreeMap::new(),
            agents: Vec::new(),
            agent_index: FxMap::default(),
            calls: Vec::new(),
            free_calls: Vec::new(),
            call_index: FxMap::default(),
            timers: Timers::default(),
            commands: VecDeque::new(),
            pending_agents: Vec::new(),
            pending_queues: Vec::new(),
            fresh_calls: Vec::new(),
            pos_touched: Vec::new(),
            overall: KpiState::new(now, now, config.recent_window, overall_day),
            overall_counts: [0; 6],
            next_day_roll: overall_day.1,
            kpi_dirty: false,
        };
        for queue in config.queues {
            dispatcher.add_queue(now, queue);
        }
        dispatcher.update_next_day_roll();
        Ok(dispatcher)
    }

    /// Applies one event at `now`. Deadlines due at or before `now` fire first (each at its own
    /// instant), so an accept arriving after its offer deadline is refused as late. A refused
    /// event returns an error and changes nothing.
    pub fn handle(&mut self, now: Instant, event: Event) -> Result<(), DispatchError> {
        self.step(now, |dispatcher, now| dispatcher.apply(now, event))
    }

    /// Asks for a call to be queued and answers with the verdict: a call refused at its
    /// enqueue (queue closed or full) comes back as [`Admission::Refused`] with its record,
    /// and no command is emitted for it (its caller never learnt the call). Through
    /// [`Dispatcher::handle`], the same refusal is reported as a `CallEnded` command.
    pub fn admit(
        &mut self,
        now: Instant,
        call: CallId,
        queue: &QueueId,
        kiosk: KioskId,
        site: SiteId,
        priority: Option<i32>,
    ) -> Result<Admission, DispatchError> {
        self.step(now, |dispatcher, now| {
            dispatcher.enqueue(now, now, call, queue, kiosk, site, priority.unwrap_or(0))
        })
    }

    /// As [`Dispatcher::admit`], for a call first placed at `since` (a call given back to its
    /// kiosk after a restart): it keeps its original enqueue time, and so its place among the
    /// calls waiting, and its wait counts from then.
    #[allow(clippy::too_many_arguments)]
    pub fn admit_since(
        &mut self,
        now: Instant,
        since: Instant,
        call: CallId,
        queue: &QueueId,
        kiosk: KioskId,
        site: SiteId,
        priority: Option<i32>,
    ) -> Result<Admission, DispatchError> {
        self.step(now, |dispatcher, now| {
            let since = since.min(now);
            dispatcher.enqueue(now, since, call, queue, kiosk, site, priority.unwrap_or(0))
        })
    }

    /// A callback task kept across a restart: it waits in `queue` from `since` (its call's
    /// original enqueue), not offered before `not_before`, as
    /// [`Event::CallbackRequest`] queued it. A promised callback is kept whatever the queue's
    /// hours and capacity; only an unknown queue refuses it.
    #[allow(clippy::too_many_arguments)]
    pub fn admit_callback(
        &mut self,
        now: Instant,
        since: Instant,
        task: CallId,
        queue: &QueueId,
        kiosk: KioskId,
        site: SiteId,
        not_before: Option<Instant>,
    ) -> Result<(), DispatchError> {
        self.step(now, |dispatcher, now| {
            dispatcher.enqueue_callback(now, since.min(now), task, queue, kiosk, site, not_before)
        })
    }

    /// Fires the timers due by `now`, applies `change` at `now` and settles.
    fn step<T>(
        &mut self,
        now: Instant,
        change: impl FnOnce(&mut Self, Instant) -> Result<T, DispatchError>,
    ) -> Result<T, DispatchError> {
        let now = now.max(self.now);
        while let Some((at, timer)) = self.timers.pop_due(now) {
            self.now = at;
            self.roll_days(at);
            self.fire(at, timer);
            self.settle(at);
        }
        self.now = now;
        self.roll_days(now);
        let result = change(self, now);
        self.settle(now);
        if self.kpi_dirty {
            self.kpi_dirty = false;
            self.commands.push_back(Command::KpisChanged);
        }
        result
    }

    /// The next command to carry out, in order.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The earliest deadline: call `handle(deadline, Event::Timeout)` then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Instant, TimeoutReason)> {
        self.timers.first().map(|(at, timer)| (at, timer.reason()))
    }

    fn apply(&mut self, now: Instant, event: Event) -> Result<(), DispatchError> {
        match event {
            Event::AgentLogin {
                agent,
                skills,
                queues,
            } => self.login(now, agent, skills, queues),
            Event::AgentLogout { agent } => self.logout(now, &agent),
            Event::AgentReady { agent } => self.ready(now, &agent),
            Event::AgentNotReady { agent, reason } => self.not_ready(now, &agent, reason),
            Event::AgentDisconnect { agent } => self.disconnect(now, &agent),
            Event::WrapUpDone { agent } => self.wrap_up_done(now, &agent),
            Event::Consult {
                call,
                parent,
                agent,
                to,
            } => self.consult(now, call, parent, &agent, &to),
            Event::CompleteTransfer { call, agent } => self.complete_transfer(now, call, &agent),
            Event::EndConsult { call } => self.end_consult_event(now, call),
            Event::Transfer { call, agent, to } => self.transfer(now, call, &agent, &to),
            Event::TransferToAgent { call, agent, to } => {
                self.transfer_to_agent(now, call, &agent, &to)
            }
            Event::Enqueue {
                call,
                queue,
                kiosk,
                site,
                priority,
            } => match self.enqueue(now, now, call, &queue, kiosk, site, priority.unwrap_or(0))? {
                Admission::Queued => Ok(()),
                Admission::Refused { outcome, record } => {
                    self.commands.push_back(Command::CallEnded {
                        call,
                        outcome,
                        record,
                    });
                    Ok(())
                }
            },
            Event::Abandon { call } => self.abandon(now, call),
            Event::CallbackRequest {
                call,
                task,
                not_before,
            } => self.callback_request(now, call, task, not_before),
            Event::Accept { call, agent } => self.accept(now, call, &agent),
            Event::Reject { call, agent } => self.reject(now, call, &agent),
            Event::CallConnected { call } => self.call_connected(now, call),
            Event::CallEnded { call, by } => self.call_ended(now, call, by),
            Event::ConfigReload(config) => self.reload(now, config),
            Event::ClockSync { utc } => {
                self.clock_sync(now, utc);
                Ok(())
            }
            Event::Timeout => Ok(()),
        }
    }

    /// After a change: route, send first position notices, schedule position refreshes.
    fn settle(&mut self, now: Instant) {
        self.route(now);
        self.flush_fresh_positions(now);
        self.schedule_positions(now);
    }

    fn fire(&mut self, at: Instant, timer: Timer) {
        match timer {
            Timer::Offer(a) => {
                if matches!(self.agents.get(a as usize).map(|x| &x.state),
                    Some(AState::Reserved { until, .. }) if *until == at)
                {
                    self.offer_expired(at, a);
                }
            }
            Timer::WrapUp(a) => {
                if matches!(self.agents.get(a as usize).map(|x| &x.state),
                    Some(AState::WrapUp { until }) if *until == at)
                {
                    self.finish_wrap_up(at, a);
                    self.set_state(at, a, AState::Available);
                }
            }
            Timer::MaxWait(idx, id) => {
                let due = self
                    .call(idx)
                    .is_some_and(|c| c.id.0 == id && c.max_wait_at == Some(at));
                if due {
                    self.max_wait_reached(at, idx);
                }
            }
            Timer::Eligibility(q) => {
                if let Some(queue) = self.queue_mut(q)
                    && queue.wake == Some(at)
                {
                    queue.wake = None;
                    self.pending_queues.push(q);
                }
            }
            Timer::Positions(q) => {
                if let Some(queue) = self.queue_mut(q)
                    && queue.pos.timer == Some(at)
                {
                    queue.pos.timer = None;
                    self.refresh_positions(at, q);
                    self.pos_touched.push(q);
                }
            }
        }
    }

    pub(crate) fn queue(&self, q: u32) -> Option<&Queue> {
        self.queues.get(q as usize).and_then(Option::as_ref)
    }

    pub(crate) fn queue_mut(&mut self, q: u32) -> Option<&mut Queue> {
        self.queues.get_mut(q as usize).and_then(Option::as_mut)
    }

    pub(crate) fn call(&self, idx: u32) -> Option<&Call> {
        self.calls.get(idx as usize).and_then(Option::as_ref)
    }

    pub(crate) fn call_mut(&mut self, idx: u32) -> Option<&mut Call> {
        self.calls.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// Counts something at `at` in queue `q` (if it still exists) and, if `overall`, in the
    /// overall scope.
    pub(crate) fn record(
        &mut self,
        q: u32,
        at: Instant,
        overall: bool,
        update: impl Fn(&mut Counters),
    ) {
        if let Some(queue) = self.queue_mut(q) {
            queue.kpi.record(at, &update);
        }
        if overall {
            self.overall.record(at, &update);
        }
        self.kpi_dirty = true;
    }

    fn intern_skill(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.skills.get(name) {
            return id;
        }
        let id = u16::try_from(self.skills.len()).unwrap_or(u16::MAX);
        self.skills.insert(name.to_owned(), id);
        id
    }

    pub(crate) fn requirements(&mut self, cfg: &QueueConfig) -> Vec<Req> {
        cfg.skills
            .iter()
            .map(|req| {
                let mut steps = req.relax.clone();
                steps.sort_by_key(|&(after, _)| after);
                Req {
                    skill: self.intern_skill(&req.skill),
                    min: req.min_proficiency,
                    steps,
                }
            })
            .collect()
    }

    fn add_queue(&mut self, now: Instant, cfg: QueueConfig) -> u32 {
        let reqs = self.requirements(&cfg);
        let day = day_bounds(&self.anchor, &cfg.time_zone, now);
        let kpi = KpiState::new(now, self.epoch, self.settings.recent_window, day);
        let index = u32::try_from(self.queues.len()).unwrap_or(u32::MAX);
        self.queue_index.insert(cfg.id.clone(), index);
        self.queue_names.push(cfg.id.clone());
        self.queues.push(Some(Queue::new(cfg, reqs, kpi)));
        index
    }

    pub(crate) fn update_next_day_roll(&mut self) {
        let queues = self.queues.iter().flatten().map(|q| q.kpi.today_end);
        self.next_day_roll = queues.fold(self.overall.today_end, Instant::min);
    }

    /// Starts a new "today" in every scope whose day ended.
    fn roll_days(&mut self, now: Instant) {
        if now < self.next_day_roll {
            return;
        }
        for queue in self.queues.iter_mut().flatten() {
            if now >= queue.kpi.today_end {
                queue.kpi.accrue(now);
                queue
                    .kpi
                    .new_day(day_bounds(&self.anchor, &queue.cfg.time_zone, now));
            }
        }
        if now >= self.overall.today_end {
            self.overall.accrue(now);
            self.overall
                .new_day(day_bounds(&self.anchor, &self.settings.time_zone, now));
        }
        self.update_next_day_roll();
        self.kpi_dirty = true;
    }

    fn clock_sync(&mut self, now: Instant, utc: jiff::Timestamp) {
        self.anchor = WallAnchor { at: now, utc };
        for queue in self.queues.iter_mut().flatten() {
            let day = day_bounds(&self.anchor, &queue.cfg.time_zone, now);
            queue.kpi.set_day_bounds(day);
        }
        let day = day_bounds(&self.anchor, &self.settings.time_zone, now);
        self.overall.set_day_bounds(day);
        self.update_next_day_roll();
    }

    fn reload(&mut self, now: Instant, config: DispatchConfig) -> Result<(), DispatchError> {
        validate(&config)?;
        // 1. Calls of removed queues end Closed.
        let removed: Vec<u32> = self
            .queue_index
            .iter()
            .filter(|(id, _)| !config.queues.iter().any(|q| q.id == **id))
            .map(|(_, &q)| q)
            .collect();
        for &q in &removed {
            self.close_queue_calls(now, q);
        }
        // 2. Every logged-in agent leaves its queues.
        let logged_in: Vec<u32> = (0..self.agents.len())
            .filter(|&a| self.agents[a].state != AState::LoggedOut)
            .filter_map(|a| u32::try_from(a).ok())
            .collect();
        for &a in &logged_in {
            self.leave_queues(now, a);
        }
        // 3. Queues removed, changed, added.
        for &q in &removed {
            if let Some(queue) = self.queue_mut(q) {
                queue.kpi.accrue(now);
                let (wake, pos) = (queue.wake, queue.pos.timer);
                if let Some(at) = wake {
                    self.timers.remove(at, Timer::Eligibility(q));
                }
                if let Some(at) = pos {
                    self.timers.remove(at, Timer::Positions(q));
                }
            }
            self.queues[q as usize] = None;
            self.queue_index.retain(|_, v| *v != q);
        }
        let zone_changed = self.settings.time_zone != config.time_zone;
        self.settings = DispatchConfig {
            queues: Vec::new(),
            ..config.clone()
        };
        for cfg in config.queues {
            match self.queue_index.get(&cfg.id).copied() {
                Some(q) => {
                    let reqs = self.requirements(&cfg);
                    let day = day_bounds(&self.anchor, &cfg.time_zone, now);
                    let window = self.settings.recent_window;
                    if let Some(queue) = self.queue_mut(q) {
                        queue.kpi.accrue(now);
                        queue.kpi.set_window(window);
                        if cfg.time_zone != queue.cfg.time_zone {
                            queue.kpi.set_day_bounds(day);
                        }
                        queue.avail = crate::strategy::AvailSet::new(cfg.strategy);
                        queue.reqs = reqs;
                        queue.counts = [0; 6];
                        queue.cfg = cfg;
                    }
                }
                None => {
                    self.add_queue(now, cfg);
                }
            }
        }
        self.overall.set_window(self.settings.recent_window);
        if zone_changed {
            let day = day_bounds(&self.anchor, &self.settings.time_zone, now);
            self.overall.set_day_bounds(day);
        }
        // 4. Agents join the new queues; available ones look for calls again.
        for &a in &logged_in {
            self.join_queues(now, a);
        }
        self.update_next_day_roll();
        for q in 0..self.queues.len() {
            if self.queues[q].is_some() {
                self.pending_queues
                    .push(u32::try_from(q).unwrap_or(u32::MAX));
            }
        }
        self.kpi_dirty = true;
        Ok(())
    }
}
