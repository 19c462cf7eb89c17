//! One service queue at run time: waiting calls by priority level in (enqueue time, call id)
//! order, calls on offer, skill requirements, and the service order with ageing.

use std::collections::BTreeSet;
use std::iter::Peekable;
use std::time::{Duration, Instant};

use relais_proto::QueueId;

use crate::config::{QueueConfig, Strategy};
use crate::kpi::KpiState;
use crate::position::PositionState;
use crate::strategy::AvailSet;

/// Priority level of calls re-queued at the head after losing their agent: above any call.
pub(crate) const HEAD_LEVEL: i64 = i64::MAX / 4;

/// Order of waiting calls inside one priority level: original enqueue time, then call id.
/// `idx` is the call's slot (determined by the id while the call is active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub at: Instant,
    pub id: u64,
    pub idx: u32,
}

#[derive(Debug)]
pub(crate) struct Level {
    pub prio: i64,
    pub calls: BTreeSet<WaitKey>,
}

/// A required skill with its relaxation steps, skill interned.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub skill: u16,
    pub min: u8,
    /// `(wait, min)` sorted by wait.
    pub steps: Vec<(Duration, u8)>,
}

impl Req {
    pub(crate) fn required(&self, wait: Duration) -> u8 {
        let mut required = self.min;
        for &(after, value) in &self.steps {
            if wait >= after {
                required = value;
            } else {
                break;
            }
        }
        required
    }

    /// The lowest proficiency this requirement ever accepts.
    pub(crate) fn loosest(&self) -> u8 {
        self.steps.iter().map(|&(_, v)| v).fold(self.min, u8::min)
    }

    fn next_step(&self, wait: Duration) -> Option<Duration> {
        self.steps
            .iter()
            .map(|&(after, _)| after)
            .find(|&after| after > wait)
    }
}

/// Highest ring tier (an agent with proficiency 1 on some required skill).
pub(crate) const MAX_TIER: u8 = 4;

#[derive(Debug)]
pub(crate) struct Queue {
    pub id: QueueId,
    pub cfg: QueueConfig,
    pub reqs: Vec<Req>,
    /// Priority levels, highest first; empty levels are removed.
    pub levels: Vec<Level>,
    /// Calls in `levels`.
    pub queued: usize,
    /// Calls of this queue currently on offer.
    pub on_offer: BTreeSet<WaitKey>,
    /// Available members, indexed for the strategy.
    pub avail: AvailSet,
    /// Round-robin memory: the agent (index) offered last.
    pub rr_last: Option<u32>,
    /// Members by state kind (see `agent::StateKind`).
    pub counts: [u32; 6],
    /// Scheduled eligibility re-check.
    pub wake: Option<Instant>,
    pub pos: PositionState,
    pub kpi: KpiState,
}

impl Queue {
    pub(crate) fn new(cfg: QueueConfig, reqs: Vec<Req>, kpi: KpiState) -> Self {
        Self {
            id: cfg.id.clone(),
            avail: AvailSet::new(cfg.strategy),
            cfg,
            reqs,
            levels: Vec::new(),
            queued: 0,
            on_offer: BTreeSet::new(),
            rr_last: None,
            counts: [0; 6],
            wake: None,
            pos: PositionState::default(),
            kpi,
        }
    }

    pub(crate) fn ring_step(&self) -> Option<Duration> {
        match self.cfg.strategy {
            Strategy::RingProgressive { step } => Some(step),
            _ => None,
        }
    }

    /// Effective priority of a call of level `prio` that waited `wait`.
    pub(crate) fn effective(&self, prio: i64, wait: Duration) -> i64 {
        if prio >= HEAD_LEVEL {
            return prio;
        }
        let ageing = match self.cfg.ageing_step {
            Some(step) if !step.is_zero() => {
                i64::try_from(wait.as_nanos() / step.as_nanos()).unwrap_or(i64::MAX)
            }
            _ => 0,
        };
        prio.saturating_add(ageing)
    }

    /// Whether agents with these proficiencies (on `reqs`, in order) and ring tier may take a
    /// call that waited `wait`.
    pub(crate) fn eligible(&self, profs: &[u8], tier: u8, wait: Duration) -> bool {
        let skills_ok = self
            .reqs
            .iter()
            .zip(profs)
            .all(|(req, &p)| p >= req.required(wait));
        skills_ok
            && self
                .ring_step()
                .is_none_or(|step| u128::from(tier) <= wait.as_nanos() / step.as_nanos().max(1))
    }

    /// Next instant at which the requirement for a call enqueued at `enqueued_at` loosens.
    pub(crate) fn next_change(&self, enqueued_at: Instant, now: Instant) -> Option<Instant> {
        let wait = now.saturating_duration_since(enqueued_at);
        let mut next: Option<Duration> = None;
        for req in &self.reqs {
            if let Some(step) = req.next_step(wait) {
                next = Some(next.map_or(step, |n| n.min(step)));
            }
        }
        if let Some(step) = self.ring_step() {
            let ring = wait.as_nanos() / step.as_nanos().max(1);
            if ring < u128::from(MAX_TIER) {
                let k = u32::try_from(ring + 1).unwrap_or(u32::MAX);
                if let Some(at) = step.checked_mul(k) {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        next.and_then(|d| enqueued_at.checked_add(d))
    }

    pub(crate) fn insert_waiting(&mut self, prio: i64, key: WaitKey) {
        let position = self.levels.iter().position(|level| level.prio <= prio);
        let inserted = match position {
            Some(i) if self.levels[i].prio == prio => self.levels[i].calls.insert(key),
            Some(i) => {
                let mut calls = BTreeSet::new();
                calls.insert(key);
                self.levels.insert(i, Level { prio, calls });
                true
            }
            None => {
                let mut calls = BTreeSet::new();
                calls.insert(key);
                self.levels.push(Level { prio, calls });
                true
            }
        };
        if inserted {
            self.queued += 1;
            // A call joining at the very back (last of the lowest level) moves nobody.
            let at_back = self
                .levels
                .last()
                .is_some_and(|level| level.prio == prio && level.calls.last() == Some(&key));
            if !at_back {
                self.pos.touch();
            }
        }
    }

    pub(crate) fn remove_waiting(&mut self, prio: i64, key: &WaitKey) -> bool {
        let Some(i) = self.levels.iter().position(|level| level.prio == prio) else {
            return false;
        };
        let removed = self.levels[i].calls.remove(key);
        if removed {
            self.queued -= 1;
            self.pos.touch();
            if self.levels[i].calls.is_empty() {
                self.levels.remove(i);
            }
        }
        removed
    }

    /// The oldest original enqueue time among calls waiting or on offer.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        let waiting = self
            .levels
            .iter()
            .filter_map(|level| level.calls.first())
            .map(|k| k.at);
        waiting.chain(self.on_offer.first().map(|k| k.at)).min()
    }

    /// Waiting calls in service order: highest effective priority first, then FIFO.
    pub(crate) fn service_order(&self, now: Instant) -> ServiceOrder<'_> {
        ServiceOrder {
            queue: self,
            now,
            iters: self
                .levels
                .iter()
                .map(|level| (level.prio, level.calls.iter().peekable()))
                .collect(),
        }
    }

    /// 1-based position of the waiting call `key` of level `prio`. Cost: the number of calls
    /// ahead of it in lower levels (its own level is O(1) when it is last).
    pub(crate) fn position_of(&self, prio: i64, key: &WaitKey, now: Instant) -> usize {
        let own_eff = self.effective(prio, now.saturating_duration_since(key.at));
        let mut ahead = 0usize;
        for level in &self.levels {
            if level.prio == prio {
                ahead += if level.calls.last() == Some(key) {
                    level.calls.len().saturating_sub(1)
                } else {
                    level.calls.range(..*key).count()
                };
                continue;
            }
            if prio >= HEAD_LEVEL || level.prio >= HEAD_LEVEL {
                if level.prio > prio {
                    ahead += level.calls.len();
                }
                continue;
            }
            if level.prio > own_eff {
                ahead += level.calls.len();
                continue;
            }
            // Calls of this level ahead of `key` form a prefix (older = higher effective
            // priority): those strictly above `own_eff`, and those equal to it and older.
            let Some(step) = self.cfg.ageing_step.filter(|s| !s.is_zero()) else {
                // No ageing: level.prio <= own_eff == prio; only level.prio == prio ties, and
                // that is the own level, handled above.
                continue;
            };
            let tie_age = own_eff - level.prio; // >= 0
            let bound = |age: i64| -> Option<Instant> {
                let k = u32::try_from(age).ok()?;
                now.checked_sub(step.checked_mul(k)?)
            };
            let strict = bound(tie_age.saturating_add(1)).map_or(0, |t| {
                let end = WaitKey {
                    at: t,
                    id: u64::MAX,
                    idx: u32::MAX,
                };
                level.calls.range(..=end).count()
            });
            let tie = bound(tie_age).map_or(0, |t| {
                let end = WaitKey {
                    at: t,
                    id: u64::MAX,
                    idx: u32::MAX,
                };
                let limit = if end < *key { end } else { *key };
                level.calls.range(..limit).count()
            });
            ahead += strict.max(tie);
        }
        ahead + 1
    }
}

/// Merge of the priority levels in service order.
pub(crate) struct ServiceOrder<'a> {
    queue: &'a Queue,
    now: Instant,
    iters: Vec<(
        i64,
        Peekable<std::collections::btree_set::Iter<'a, WaitKey>>,
    )>,
}

impl ServiceOrder<'_> {
    /// The next call and its level.
    pub(crate) fn next_with_level(&mut self) -> Option<(i64, WaitKey)> {
        if self.iters.len() == 1 {
            let (prio, iter) = &mut self.iters[0];
            return iter.next().map(|k| (*prio, *k));
        }
        let mut best: Option<(usize, i64, WaitKey)> = None;
        for (i, (prio, iter)) in self.iters.iter_mut().enumerate() {
            let Some(&&key) = iter.peek() else { continue };
            let eff = self
                .queue
                .effective(*prio, self.now.saturating_duration_since(key.at));
            let better = match best {
                None => true,
                Some((_, best_eff, best_key)) => {
                    eff > best_eff || (eff == best_eff && key < best_key)
                }
            };
            if better {
                best = Some((i, eff, key));
            }
        }
        let (i, _, key) = best?;
        let (prio, iter) = &mut self.iters[i];
        iter.next();
        Some((*prio, key))
    }
}

impl Iterator for ServiceOrder<'_> {
    type Item = WaitKey;

    fn next(&mut self) -> Option<WaitKey> {
        self.next_with_level().map(|(_, key)| key)
    }
}
