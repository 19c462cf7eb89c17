//! Read-only views for the server and supervisors: KPIs, agents, waiting calls, one call's
//! position and estimated wait.

use std::time::{Duration, Instant};

use relais_proto::{AgentId, CallId, KioskId, QueueId, SiteId};

use crate::calls::CState;
use crate::dispatcher::Dispatcher;
use crate::kpi::{AgentCounts, KpiWindow, Kpis};
use crate::model::AgentState;

/// One agent as seen by supervisors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView<'a> {
    /// The agent.
    pub agent: &'a AgentId,
    /// Its state.
    pub state: AgentState,
    /// Since when.
    pub since: Instant,
    /// Calls it answered since it signed in.
    pub calls_answered: u64,
    /// Talk time of those calls that ended (the call in progress is not counted yet).
    pub talk: Duration,
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStatus {
    /// Waiting in its queue.
    Queued,
    /// On offer to an agent.
    Offered(AgentId),
    /// Connected to an agent.
    Connected(AgentId),
}

/// One active call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// The call.
    pub call: CallId,
    /// Its current queue.
    pub queue: QueueId,
    /// The kiosk.
    pub kiosk: KioskId,
    /// The site.
    pub site: SiteId,
    /// Its priority.
    pub priority: i32,
    /// Original enqueue time.
    pub enqueued_at: Instant,
    /// Where it is.
    pub status: CallStatus,
    /// Offers made so far.
    pub attempts: u32,
    /// The caller asked for a callback.
    pub callback: bool,
    /// Position in its queue (1 = next) when queued.
    pub position: Option<usize>,
}

impl Dispatcher {
    /// KPIs of one queue, `None` if it is not configured.
    pub fn queue_kpis(&self, queue: &QueueId, now: Instant) -> Option<Kpis> {
        let q = *self.queue_index.get(queue)?;
        let state = self.queue(q)?;
        let waiting = state.queued + state.on_offer.len();
        Some(Kpis {
            queue: Some(queue.clone()),
            waiting,
            on_offer: state.on_offer.len(),
            longest_wait: state.oldest().map(|t| now.saturating_duration_since(t)),
            agents: AgentCounts::from_kinds(&state.counts),
            estimated_wait: self.eta_basis(q, now).and_then(|b| b.eta(state.queued + 1)),
            recent: KpiWindow::from_counters(state.kpi.recent(now)),
            today: KpiWindow::from_counters(state.kpi.today(now)),
        })
    }

    /// Whether a queue takes calls at `now` (opening hours and holidays in its time zone);
    /// `None` if it is not configured.
    pub fn is_open(&self, queue: &QueueId, now: Instant) -> Option<bool> {
        let q = *self.queue_index.get(queue)?;
        let state = self.queue(q)?;
        Some(crate::hours::is_open(
            state.cfg.hours.as_ref(),
            &state.cfg.time_zone,
            self.anchor.utc_of(now),
        ))
    }

    /// KPIs of the whole centre.
    pub fn overall_kpis(&self, now: Instant) -> Kpis {
        let queues = self.queues.iter().flatten();
        let waiting = queues.clone().map(|q| q.queued + q.on_offer.len()).sum();
        let on_offer = queues.clone().map(|q| q.on_offer.len()).sum();
        let oldest = queues.filter_map(|q| q.oldest()).min();
        Kpis {
            queue: None,
            waiting,
            on_offer,
            longest_wait: oldest.map(|t| now.saturating_duration_since(t)),
            agents: AgentCounts::from_kinds(&self.overall_counts),
            estimated_wait: None,
            recent: KpiWindow::from_counters(self.overall.recent(now)),
            today: KpiWindow::from_counters(self.overall.today(now)),
        }
    }

    /// Estimated wait for a new caller of `queue`.
    pub fn estimated_wait(&self, queue: &QueueId, now: Instant) -> Option<Duration> {
        let q = *self.queue_index.get(queue)?;
        let state = self.queue(q)?;
        self.eta_basis(q, now)?.eta(state.queued + 1)
    }

    /// Every agent that ever logged in (logged-out ones included), in first-login order.
    pub fn agents(&self) -> impl Iterator<Item = AgentView<'_>> + '_ {
        self.agents.iter().map(|agent| AgentView {
            agent: &agent.id,
            state: self.public_state(&agent.state),
            since: agent.since,
            calls_answered: agent.calls_answered,
            talk: agent.talk_total,
        })
    }

    /// One agent's state and since when.
    pub fn agent_state(&self, agent: &AgentId) -> Option<(AgentState, Instant)> {
        let a = self.agent_index.get(agent)?;
        let agent = self.agents.get(*a as usize)?;
        Some((self.public_state(&agent.state), agent.since))
    }

    /// Position (1 = next) and estimated wait of a queued call; `None` if the call is not
    /// queued (unknown, on offer, connected). Cost: the number of calls ahead of it.
    pub fn position(&self, call: CallId, now: Instant) -> Option<(usize, Option<Duration>)> {
        let idx = *self.call_index.get(&call)?;
        let c = self.call(idx)?;
        if c.state != CState::Queued {
            return None;
        }
        let position = self.queue(c.queue)?.position_of(c.level, &c.key(idx), now);
        Some((
            position,
            self.eta_basis(c.queue, now).and_then(|b| b.eta(position)),
        ))
    }

    /// One active call.
    pub fn call_view(&self, call: CallId, now: Instant) -> Option<CallView> {
        let idx = *self.call_index.get(&call)?;
        let position = self.position(call, now).map(|(p, _)| p);
        self.view_of(idx, position)
    }

    fn view_of(&self, idx: u32, position: Option<usize>) -> Option<CallView> {
        let c = self.call(idx)?;
        let name = |a: u32| self.agents[a as usize].id.clone();
        let status = match c.state {
            CState::Queued => CallStatus::Queued,
            CState::Offered { agent, .. } => CallStatus::Offered(name(agent)),
            CState::Connected { agent } => CallStatus::Connected(name(agent)),
        };
        Some(CallView {
            call: c.id,
            queue: self.queue_names.get(c.queue as usize).cloned()?,
            kiosk: c.kiosk.clone(),
            site: c.site.clone(),
            priority: c.priority,
            enqueued_at: c.enqueued_at,
            status,
            attempts: c.attempts,
            callback: c.callback,
            position,
        })
    }

    /// Calls of `queue` not yet answered: those on offer first, then the queued ones in
    /// service order (position 1, 2, …). Cost: all of them.
    pub fn waiting_calls(&self, queue: &QueueId, now: Instant) -> Vec<CallView> {
        let Some(q) = self.queue_index.get(queue).and_then(|&q| self.queue(q)) else {
            return Vec::new();
        };
        let offered = q.on_offer.iter().filter_map(|k| self.view_of(k.idx, None));
        let queued = q
            .service_order(now)
            .enumerate()
            .filter_map(|(i, k)| self.view_of(k.idx, Some(i + 1)));
        offered.chain(queued).collect()
    }

    /// Every active call id (queued, on offer or connected), ascending; consultations are
    /// not calls of a queue and are left out.
    pub fn active_calls(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = self
            .calls
            .iter()
            .flatten()
            .filter(|c| c.consult_of.is_none())
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The configured queues, by id.
    pub fn queue_ids(&self) -> impl Iterator<Item = &QueueId> + '_ {
        self.queue_index.keys()
    }
}
