//! Routing decisions: an agent that becomes available takes the best call it may take; calls
//! that enter a queue go to the agent its strategy picks; eligibility re-check deadlines.
//!
//! Invariant after every routing pass: no available agent is eligible for a waiting call
//! (except when excluded by the re-offer back-off); a deadline is set for the next instant at
//! which that can change (relaxation step, ring widening, back-off end).

use std::ops::Bound;
use std::time::Instant;

use crate::agent::AState;
use crate::dispatcher::Dispatcher;
use crate::queue::WaitKey;
use crate::strategy::pick;
use crate::timers::Timer;

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Dispatcher {
    /// Runs routing until nothing more can be matched.
    pub(crate) fn route(&mut self, now: Instant) {
        loop {
            if !self.pending_agents.is_empty() {
                let agents = std::mem::take(&mut self.pending_agents);
                for a in agents {
                    self.route_agent(now, a);
                }
                continue;
            }
            if self.pending_queues.is_empty() {
                break;
            }
            let mut queues = std::mem::take(&mut self.pending_queues);
            queues.sort_unstable();
            queues.dedup();
            for q in queues {
                self.route_queue(now, q);
            }
        }
    }

    /// The best call agent `a` may take now across its queues: highest queue priority +
    /// effective call priority, then oldest, then lowest call id.
    pub(crate) fn best_call_for(&self, now: Instant, a: u32) -> Option<u32> {
        let agent = &self.agents[a as usize];
        let mut best: Option<(i64, WaitKey)> = None;
        for m in &agent.memberships {
            let Some(queue) = self.queue(m.queue) else {
                continue;
            };
            if queue.queued == 0 {
                continue;
            }
            let Some(bucket) = queue.avail.buckets.get(m.bucket as usize) else {
                continue;
            };
            for level in &queue.levels {
                for key in &level.calls {
                    let wait = now.saturating_duration_since(key.at);
                    // Younger calls of a level are never less demanding: stop at the first
                    // one this agent does not qualify for.
                    if !queue.eligible(&bucket.profs, bucket.tier, wait) {
                        break;
                    }
                    let score = i64::from(queue.cfg.priority)
                        .saturating_add(queue.effective(level.prio, wait));
                    let better = match best {
                        None => true,
                        Some((s, k)) => {
                            score > s || (score == s && (key.at, key.id) < (k.at, k.id))
                        }
                    };
                    // A younger call of the level scores no higher and comes later: none
                    // can beat the best either (and the call itself need not be read).
                    if !better {
                        break;
                    }
                    let Some(call) = self.call(key.idx) else {
                        continue;
                    };
                    if call.excludes(a, now) {
                        continue;
                    }
                    best = Some((score, *key));
                    break;
                }
            }
        }
        best.map(|(_, key)| key.idx)
    }

    /// Agent `a` became available: offer it the best call, or index it as available.
    fn route_agent(&mut self, now: Instant, a: u32) {
        if self.agents[a as usize].state != AState::Available {
            return;
        }
        match self.best_call_for(now, a) {
            Some(idx) => self.offer(now, idx, a),
            None => {
                self.add_to_available(a);
                for i in 0..self.agents[a as usize].memberships.len() {
                    let q = self.agents[a as usize].memberships[i].queue;
                    if self.queue(q).is_some_and(|queue| queue.queued > 0) {
                        // Only to set its eligibility deadline.
                        self.pending_queues.push(q);
                    }
                }
            }
        }
    }

    /// Offers the waiting calls of queue `q`, in service order, to its available agents.
    fn route_queue(&mut self, now: Instant, q: u32) {
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let old_wake = queue.wake.take();
        if let Some(at) = old_wake {
            self.timers.remove(at, Timer::Eligibility(q));
        }
        let mut wake: Option<Instant> = None;
        // Per level: (priority, last key visited, finished).
        let mut cursors: Vec<(i64, Option<WaitKey>, bool)> = match self.queue(q) {
            Some(queue) if queue.queued > 0 && queue.avail.len > 0 => queue
                .levels
                .iter()
                .map(|level| (level.prio, None, false))
                .collect(),
            _ => return,
        };
        loop {
            let Some(queue) = self.queues.get(q as usize).and_then(Option::as_ref) else {
                return;
            };
            if queue.avail.len == 0 {
                break;
            }
            // Next call in service order among unfinished levels.
            let mut next: Option<(usize, i64, WaitKey)> = None;
            for (i, cursor) in cursors.iter_mut().enumerate() {
                if cursor.2 {
                    continue;
                }
                let Some(level) = queue.levels.iter().find(|level| level.prio == cursor.0) else {
                    cursor.2 = true;
                    continue;
                };
                let candidate = match cursor.1 {
                    None => level.calls.first().copied(),
                    Some(last) => level
                        .calls
                        .range((Bound::Excluded(last), Bound::Unbounded))
                        .next()
                        .copied(),
                };
                let Some(key) = candidate else {
                    cursor.2 = true;
                    continue;
                };
                let eff = queue.effective(cursor.0, now.saturating_duration_since(key.at));
                let better = match next {
                    None => true,
                    Some((_, e, k)) => eff > e || (eff == e && key < k),
                };
                if better {
                    next = Some((i, eff, key));
                }
            }
            let Some((i, _, key)) = next else { break };
            cursors[i].1 = Some(key);
            enum Decision {
                Offer(u32),
                LevelDone(Option<Instant>),
                Skip(Option<Instant>),
            }
            let decision = {
                let Some(call) = self.calls.get(key.idx as usize).and_then(Option::as_ref) else {
                    continue;
                };
                let wait = now.saturating_duration_since(call.enqueued_at);
                let any_eligible = queue
                    .avail
                    .buckets
                    .iter()
                    .any(|b| b.len() > 0 && queue.eligible(&b.profs, b.tier, wait));
                if !any_eligible {
                    // Younger calls of this level are not eligible either.
                    Decision::LevelDone(queue.next_change(call.enqueued_at, now))
                } else {
                    match pick(
                        queue,
                        wait,
                        |agent| call.excludes(agent, now),
                        &mut self.rng,
                    ) {
                        Some(agent) => Decision::Offer(agent),
                        None => Decision::Skip(earliest(
                            call.exclusions_expire(now),
                            queue.next_change(call.enqueued_at, now),
                        )),
                    }
                }
            };
            match decision {
                Decision::Offer(agent) => self.offer(now, key.idx, agent),
                Decision::LevelDone(at) => {
                    wake = earliest(wake, at);
                    cursors[i].2 = true;
                }
                Decision::Skip(at) => wake = earliest(wake, at),
            }
        }
        if let Some(at) = wake
            && let Some(queue) = self.queue_mut(q)
        {
            queue.wake = Some(at);
            self.timers.insert(at, Timer::Eligibility(q));
        }
    }
}
