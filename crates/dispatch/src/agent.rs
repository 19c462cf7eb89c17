//! Agents at run time: state, skills, queue memberships, and every agent state transition
//! (with its bookkeeping: available sets, per-queue counts, occupancy, commands).

use std::time::{Duration, Instant};

use relais_proto::{AgentId, CallId, QueueId};

use crate::config::Strategy;
use crate::dispatcher::Dispatcher;
use crate::model::{AgentState, Command};
use crate::queue::Queue;
use crate::strategy::AvailKey;

/// State kinds, the index of per-queue counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    LoggedOut = 0,
    Available = 1,
    Reserved = 2,
    OnCall = 3,
    WrapUp = 4,
    NotReady = 5,
}

/// Internal agent state: like [`AgentState`] with call slots instead of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AState {
    LoggedOut,
    Available,
    /// `call` is the call's slot, `id` its id (kept here: reading it needs no call slot).
    Reserved {
        call: u32,
        id: CallId,
        until: Instant,
    },
    OnCall {
        call: u32,
        id: CallId,
    },
    WrapUp {
        until: Instant,
    },
    NotReady {
        reason: String,
    },
}

impl AState {
    pub(crate) fn kind(&self) -> StateKind {
        match self {
            Self::LoggedOut => StateKind::LoggedOut,
            Self::Available => StateKind::Available,
            Self::Reserved { .. } => StateKind::Reserved,
            Self::OnCall { .. } => StateKind::OnCall,
            Self::WrapUp { .. } => StateKind::WrapUp,
            Self::NotReady { .. } => StateKind::NotReady,
        }
    }

    /// Words for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged out",
            Self::Available => "available",
            Self::Reserved { .. } => "reserved for a call",
            Self::OnCall { .. } => "on a call",
            Self::WrapUp { .. } => "in wrap-up",
            Self::NotReady { .. } => "not ready",
        }
    }
}

/// The agent serves a queue: where it sits in that queue's available set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Membership {
    pub queue: u32,
    pub bucket: u32,
    /// Slot in the bucket (random strategy).
    pub slot: u32,
    /// Linear-order rank in this queue.
    pub rank: u64,
}

/// The call being wrapped up.
#[derive(Debug, Clone)]
pub(crate) struct WrapInfo {
    pub call: CallId,
    pub queue: u32,
    pub talk: Duration,
    pub started: Instant,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub id: AgentId,
    pub state: AState,
    pub since: Instant,
    /// (skill, proficiency), sorted by skill.
    pub skills: Vec<(u16, u8)>,
    pub queue_filter: Option<Vec<QueueId>>,
    pub memberships: Vec<Membership>,
    pub idle_since: Instant,
    pub calls_answered: u64,
    pub talk_total: Duration,
    pub missed: u32,
    pub wrap: Option<WrapInfo>,
    /// In the available sets of its queues (an available agent enters them only after it
    /// looked for a call and found none).
    pub in_avail: bool,
}

impl Agent {
    pub(crate) fn new(id: AgentId, now: Instant) -> Self {
        Self {
            id,
            state: AState::LoggedOut,
            since: now,
            skills: Vec::new(),
            queue_filter: None,
            memberships: Vec::new(),
            idle_since: now,
            calls_answered: 0,
            talk_total: Duration::ZERO,
            missed: 0,
            wrap: None,
            in_avail: false,
        }
    }

    pub(crate) fn proficiency(&self, skill: u16) -> u8 {
        self.skills
            .binary_search_by_key(&skill, |&(s, _)| s)
            .map_or(0, |i| self.skills[i].1)
    }
}

fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

impl Dispatcher {
    /// The public view of an internal state.
    pub(crate) fn public_state(&self, state: &AState) -> AgentState {
        match state {
            AState::LoggedOut => AgentState::LoggedOut,
            AState::Available => AgentState::Available,
            AState::Reserved { id, until, .. } => AgentState::Reserved {
                call: *id,
                until: *until,
            },
            AState::OnCall { id, .. } => AgentState::OnCall { call: *id },
            AState::WrapUp { until } => AgentState::WrapUp { until: *until },
            AState::NotReady { reason } => AgentState::NotReady {
                reason: reason.clone(),
            },
        }
    }

    /// Strategy order key of agent `a` in a queue with `strategy`.
    pub(crate) fn avail_key(&self, a: u32, strategy: Strategy, rank: u64) -> AvailKey {
        let agent = &self.agents[a as usize];
        let idle = nanos_since(self.epoch, agent.idle_since);
        match strategy {
            Strategy::LongestIdle | Strategy::RingProgressive { .. } | Strategy::Random => {
                (idle, u64::from(a), a)
            }
            Strategy::RoundRobin => (u64::from(a), 0, a),
            Strategy::FewestCalls => (agent.calls_answered, idle, a),
            Strategy::LeastTalkTime => (
                u64::try_from(agent.talk_total.as_nanos()).unwrap_or(u64::MAX),
                idle,
                a,
            ),
            Strategy::Linear => (rank, u64::from(a), a),
        }
    }

    /// The queue of agent `a`'s membership `m`, and the agent's key in its available index.
    fn membership_index(&mut self, a: u32, m: Membership) -> Option<(&mut Queue, AvailKey)> {
        let strategy = self.queues.get(m.queue as usize)?.as_ref()?.avail.strategy;
        let key = self.avail_key(a, strategy, m.rank);
        let queue = self.queues.get_mut(m.queue as usize)?.as_mut()?;
        Some((queue, key))
    }

    pub(crate) fn add_to_available(&mut self, a: u32) {
        if self.agents[a as usize].in_avail {
            return;
        }
        self.agents[a as usize].in_avail = true;
        for i in 0..self.agents[a as usize].memberships.len() {
            let m = self.agents[a as usize].memberships[i];
            let Some((queue, key)) = self.membership_index(a, m) else {
                continue;
            };
            let slot = queue.avail.insert(m.bucket, key);
            self.agents[a as usize].memberships[i].slot = slot;
        }
    }

    fn remove_from_available(&mut self, a: u32) {
        if !self.agents[a as usize].in_avail {
            return;
        }
        self.agents[a as usize].in_avail = false;
        for i in 0..self.agents[a as usize].memberships.len() {
            let m = self.agents[a as usize].memberships[i];
            let Some((queue, key)) = self.membership_index(a, m) else {
                continue;
            };
            if let Some(moved) = queue.avail.remove(m.bucket, key, m.slot) {
                // Random strategy: `moved` now sits in our old slot.
                if let Some(other) = self.agents[moved as usize]
                    .memberships
                    .iter_mut()
                    .find(|om| om.queue == m.queue)
                {
                    other.slot = m.slot;
                }
            }
        }
    }

    /// Integrates occupancy up to `now` then moves one agent between state kinds in every
    /// scope it counts in.
    fn count_in_queues(
        &mut self,
        now: Instant,
        from: StateKind,
        to: StateKind,
        memberships: &[Membership],
    ) {
        for m in memberships {
            if let Some(Some(queue)) = self.queues.get_mut(m.queue as usize) {
                adjust_counts(&mut queue.counts, &mut queue.kpi, now, from, to);
            }
        }
    }

    /// The one place agent states change.
    pub(crate) fn set_state(&mut self, now: Instant, a: u32, state: AState) {
        let old_kind = self.agents[a as usize].state.kind();
        let new_kind = state.kind();
        if old_kind == StateKind::Available {
            self.remove_from_available(a);
        }
        if old_kind != new_kind {
            let memberships = std::mem::take(&mut self.agents[a as usize].memberships);
            self.count_in_queues(now, old_kind, new_kind, &memberships);
            self.agents[a as usize].memberships = memberships;
            adjust_counts(
                &mut self.overall_counts,
                &mut self.overall,
                now,
                old_kind,
                new_kind,
            );
        }
        let agent = &mut self.agents[a as usize];
        agent.state = state;
        agent.since = now;
        if new_kind == StateKind::Available {
            agent.idle_since = now;
            self.pending_agents.push(a);
        }
        let agent = &self.agents[a as usize];
        let public = self.public_state(&agent.state);
        self.commands.push_back(Command::AgentStateChanged {
            agent: agent.id.clone(),
            state: public,
            since: now,
        });
        self.kpi_dirty = true;
    }

    /// Computes and installs agent `a`'s memberships (queues it serves); counts it there in
    /// its current state kind.
    pub(crate) fn join_queues(&mut self, now: Instant, a: u32) {
        let mut memberships = Vec::new();
        for (qi, slot) in self.queues.iter_mut().enumerate() {
            let Some(queue) = slot else { continue };
            let agent = &self.agents[a as usize];
            if let Some(filter) = &agent.queue_filter
                && !filter.contains(&queue.id)
            {
                continue;
            }
            let profs: Vec<u8> = queue
                .reqs
                .iter()
                .map(|r| agent.proficiency(r.skill))
                .collect();
            if queue
                .reqs
                .iter()
                .zip(&profs)
                .any(|(r, &p)| p < r.loosest() || p == 0)
            {
                continue;
            }
            let rank = queue
                .cfg
                .agent_order
                .iter()
                .position(|id| *id == agent.id)
                .map_or(u64::from(u32::MAX) + u64::from(a), |p| p as u64);
            let bucket = queue.avail.bucket_for(profs);
            memberships.push(Membership {
                queue: u32::try_from(qi).unwrap_or(u32::MAX),
                bucket,
                slot: 0,
                rank,
            });
        }
        let kind = self.agents[a as usize].state.kind();
        self.count_in_queues(now, StateKind::LoggedOut, kind, &memberships);
        self.agents[a as usize].memberships = memberships;
        if kind == StateKind::Available {
            self.pending_agents.push(a);
        }
    }

    /// Removes agent `a` from every queue it serves (inverse of [`Dispatcher::join_queues`]).
    pub(crate) fn leave_queues(&mut self, now: Instant, a: u32) {
        let kind = self.agents[a as usize].state.kind();
        self.remove_from_available(a);
        let memberships = std::mem::take(&mut self.agents[a as usize].memberships);
        self.count_in_queues(now, kind, StateKind::LoggedOut, &memberships);
    }
}

/// (busy, staffed) agents of `counts`: what occupancy integrates.
fn load(counts: &[u32; 6]) -> (u32, u32) {
    let busy = counts[StateKind::OnCall as usize] + counts[StateKind::WrapUp as usize];
    let staffed =
        busy + counts[StateKind::Available as usize] + counts[StateKind::Reserved as usize];
    (busy, staffed)
}

/// Moves one unit between kinds in `counts`. When that changes the load (busy or staffed
/// agents), occupancy is integrated up to `now` first; a change within the same load (an
/// offer, an answer's wrap-up) leaves the integral to the next change, which comes to the
/// same sums.
pub(crate) fn adjust_counts(
    counts: &mut [u32; 6],
    kpi: &mut crate::kpi::KpiState,
    now: Instant,
    from: StateKind,
    to: StateKind,
) {
    if from == to {
        return;
    }
    let before = load(counts);
    if from != StateKind::LoggedOut {
        counts[from as usize] = counts[from as usize].saturating_sub(1);
    }
    if to != StateKind::LoggedOut {
        counts[to as usize] += 1;
    }
    let (busy, staffed) = load(counts);
    if (busy, staffed) != before {
        kpi.accrue(now);
        kpi.set_load(busy, staffed);
    }
}
