//! Available agents of one queue, bucketed by proficiency and ordered for its strategy, and
//! the choice of the agent for a call.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::Strategy;
use crate::queue::{MAX_TIER, Queue};
use crate::rng::Rng;

/// Strategy order key `(primary, secondary, agent index)`: smaller is preferred.
pub(crate) type AvailKey = (u64, u64, u32);

/// Available agents with the same proficiencies on the queue's required skills: they are
/// eligible for exactly the same calls.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Proficiency on each of the queue's requirements, in order.
    pub profs: Vec<u8>,
    /// Ring tier (5 − lowest proficiency; 0 when the queue requires no skill).
    pub tier: u8,
    /// Ordered strategies: agents by key.
    pub ordered: BTreeSet<AvailKey>,
    /// Random strategy: agents, unordered (swap-remove).
    pub random: Vec<u32>,
}

impl Bucket {
    pub(crate) fn len(&self) -> usize {
        self.ordered.len() + self.random.len()
    }
}

#[derive(Debug)]
pub(crate) struct AvailSet {
    pub strategy: Strategy,
    pub buckets: Vec<Bucket>,
    pub len: usize,
}

impl AvailSet {
    pub(crate) fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            buckets: Vec::new(),
            len: 0,
        }
    }

    /// The bucket of agents with these proficiencies (created if needed).
    pub(crate) fn bucket_for(&mut self, profs: Vec<u8>) -> u32 {
        if let Some(i) = self.buckets.iter().position(|b| b.profs == profs) {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        let lowest = profs.iter().copied().min().unwrap_or(5).clamp(1, 5);
        let tier = (5 - lowest).min(MAX_TIER);
        self.buckets.push(Bucket {
            profs,
            tier,
            ordered: BTreeSet::new(),
            random: Vec::new(),
        });
        u32::try_from(self.buckets.len() - 1).unwrap_or(u32::MAX)
    }

    /// Adds an agent; returns its slot for the random strategy.
    pub(crate) fn insert(&mut self, bucket: u32, key: AvailKey) -> u32 {
        let Some(b) = self.buckets.get_mut(bucket as usize) else {
            return 0;
        };
        self.len += 1;
        if self.strategy == Strategy::Random {
            b.random.push(key.2);
            u32::try_from(b.random.len() - 1).unwrap_or(u32::MAX)
        } else {
            b.ordered.insert(key);
            0
        }
    }

    /// Removes an agent; for the random strategy returns the agent moved into `slot`.
    pub(crate) fn remove(&mut self, bucket: u32, key: AvailKey, slot: u32) -> Option<u32> {
        let b = self.buckets.get_mut(bucket as usize)?;
        if self.strategy == Strategy::Random {
            let slot = slot as usize;
            if b.random.get(slot) != Some(&key.2) {
                return None;
            }
            b.random.swap_remove(slot);
            self.len -= 1;
            b.random.get(slot).copied()
        } else {
            if b.ordered.remove(&key) {
                self.len -= 1;
            }
            None
        }
    }
}

/// The agent the queue's strategy picks for a call that waited `wait`, among available agents
/// eligible for it and not `excluded`.
pub(crate) fn pick(
    queue: &Queue,
    wait: Duration,
    excluded: impl Fn(u32) -> bool,
    rng: &mut Rng,
) -> Option<u32> {
    let avail = &queue.avail;
    let eligible = |b: &&Bucket| b.len() > 0 && queue.eligible(&b.profs, b.tier, wait);
    match avail.strategy {
        Strategy::Random => {
            let total: usize = avail.buckets.iter().filter(eligible).map(Bucket::len).sum();
            if total == 0 {
                return None;
            }
            let start = rng.below(total);
            for offset in 0..total {
                let mut index = (start + offset) % total;
                for bucket in avail.buckets.iter().filter(eligible) {
                    if index < bucket.random.len() {
                        let agent = bucket.random[index];
                        if !excluded(agent) {
                            return Some(agent);
                        }
                        break;
                    }
                    index -= bucket.random.len();
                }
            }
            None
        }
        Strategy::RoundRobin => {
            let after = queue.rr_last.map_or(0, |last| last.saturating_add(1));
            let mut best: Option<(bool, AvailKey)> = None;
            for bucket in avail.buckets.iter().filter(eligible) {
                let candidate = bucket
                    .ordered
                    .range((u64::from(after), 0, 0)..)
                    .find(|k| !excluded(k.2))
                    .map(|k| (false, *k))
                    .or_else(|| {
                        bucket
                            .ordered
                            .iter()
                            .find(|k| !excluded(k.2))
                            .map(|k| (true, *k))
                    });
                if let Some(c) = candidate
                    && best.is_none_or(|b| c < b)
                {
                    best = Some(c);
                }
            }
            best.map(|(_, key)| key.2)
        }
        _ => {
            let mut best: Option<AvailKey> = None;
            for bucket in avail.buckets.iter().filter(eligible) {
                if let Some(key) = bucket.ordered.iter().find(|k| !excluded(k.2))
                    && best.is_none_or(|b| *key < b)
                {
                    best = Some(*key);
                }
            }
            best.map(|key| key.2)
        }
    }
}
