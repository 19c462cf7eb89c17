//! Queue position and estimated-wait notices, rate-limited and cheap at 100k waiting calls.
//!
//! * A call gets a first notice right after it enters a queue (after routing, so a call
//!   offered at once gets none).
//! * A queue whose order changed is refreshed at most once per `position_interval`: the first
//!   `position_window` calls in service order whose position changed get a notice, unless
//!   their last notice is younger than `position_interval` (then the queue retries later).
//! * Calls beyond the window are only visited by a full sweep, at most once per
//!   `position_far_interval` per queue, and then get a notice if their position changed.
//! * Callback calls get no notices.
//!
//! ETA for position p = p × AHT ÷ N, where AHT is the queue's mean handle time over the recent
//! window (else today, else `assumed_handle_time`) and N the agents serving the queue that are
//! available, reserved, on call or in wrap-up; `None` when N = 0.

use std::time::{Duration, Instant};

use crate::agent::StateKind;
use crate::calls::CState;
use crate::dispatcher::Dispatcher;
use crate::model::Command;
use crate::timers::Timer;

#[derive(Debug, Default)]
pub(crate) struct PositionState {
    /// Order changed since the last refresh of the window.
    pub dirty: bool,
    /// Order changed since the last full sweep.
    pub dirty_far: bool,
    pub last_refresh: Option<Instant>,
    pub last_far: Option<Instant>,
    /// Earliest instant a rate-limited call may be told its new position.
    pub retry: Option<Instant>,
    /// Scheduled refresh.
    pub timer: Option<Instant>,
}

impl PositionState {
    pub(crate) fn touch(&mut self) {
        self.dirty = true;
        self.dirty_far = true;
    }
}

/// What the wait estimate needs: handle time and serving agents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EtaBasis {
    aht: Duration,
    serving: u32,
    /// Agents free now: the first positions are answered without waiting for a call to end.
    free: u32,
}

impl EtaBasis {
    pub(crate) fn eta(&self, position: usize) -> Option<Duration> {
        if self.serving == 0 {
            return None;
        }
        let behind = (position as u128).saturating_sub(u128::from(self.free));
        let nanos = self.aht.as_nanos() * behind / u128::from(self.serving);
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }
}

impl Dispatcher {
    pub(crate) fn eta_basis(&self, q: u32, now: Instant) -> Option<EtaBasis> {
        let queue = self.queue(q)?;
        let free = queue.counts[StateKind::Available as usize];
        let serving = queue.counts[StateKind::Available as usize]
            + queue.counts[StateKind::Reserved as usize]
            + queue.counts[StateKind::OnCall as usize]
            + queue.counts[StateKind::WrapUp as usize];
        let (handled, time) = queue.kpi.recent_handling(now);
        let (handled, time) = if handled > 0 {
            (handled, time)
        } else {
            queue.kpi.today_handling(now)
        };
        let aht = if handled > 0 {
            Duration::from_nanos(
                u64::try_from(time.as_nanos() / u128::from(handled)).unwrap_or(u64::MAX),
            )
        } else {
            queue.cfg.assumed_handle_time
        };
        Some(EtaBasis { aht, serving, free })
    }

    /// First notices of calls that entered a queue during this step and are still waiting.
    pub(crate) fn flush_fresh_positions(&mut self, now: Instant) {
        if self.fresh_calls.is_empty() {
            return;
        }
        let fresh = std::mem::take(&mut self.fresh_calls);
        for (idx, id) in fresh {
            let Some(call) = self.call(idx) else { continue };
            if call.id != id
                || call.state != CState::Queued
                || call.callback
                || call.last_notice.is_some()
            {
                continue;
            }
            let (q, level, key) = (call.queue, call.level, call.key(idx));
            let Some(queue) = self.queue(q) else { continue };
            let position = queue.position_of(level, &key, now);
            let eta = self.eta_basis(q, now).and_then(|b| b.eta(position));
            if let Some(call) = self.call_mut(idx) {
                call.last_pos = position;
                call.last_notice = Some(now);
            }
            self.commands.push_back(Command::QueuePosition {
                call: id,
                position,
                eta,
            });
        }
    }

    /// Refreshes due queues now, or schedules their refresh.
    pub(crate) fn schedule_positions(&mut self, now: Instant) {
        if self.pos_touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.pos_touched);
        touched.sort_unstable();
        touched.dedup();
        for &q in &touched {
            self.schedule_queue_positions(now, q);
        }
        // Keep the allocation.
        touched.clear();
        if self.pos_touched.is_empty() {
            self.pos_touched = touched;
        }
    }

    /// Refreshes queue `q` now if due, and leaves a deadline for what remains.
    fn schedule_queue_positions(&mut self, now: Instant, q: u32) {
        let interval = self.settings.position_interval;
        let far = self.settings.position_far_interval;
        let window = self.settings.position_window;
        // A refresh moves `last_refresh`/`last_far` to `now`, so the second round always
        // schedules into the future.
        for _ in 0..2 {
            let Some(queue) = self.queue_mut(q) else {
                return;
            };
            if queue.queued <= window {
                queue.pos.dirty_far = false;
            }
            if queue.pos.timer.is_some() || !(queue.pos.dirty || queue.pos.dirty_far) {
                return;
            }
            let mut next: Option<Instant> = None;
            if queue.pos.dirty {
                let after_refresh = queue.pos.last_refresh.and_then(|t| t.checked_add(interval));
                next = [Some(now), after_refresh, queue.pos.retry]
                    .into_iter()
                    .flatten()
                    .max();
            }
            if queue.pos.dirty_far {
                let at = queue
                    .pos
                    .last_far
                    .and_then(|t| t.checked_add(far))
                    .map_or(now, |t| t.max(now));
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            let Some(at) = next else { return };
            if at <= now {
                self.refresh_positions(now, q);
            } else {
                queue.pos.timer = Some(at);
                self.timers.insert(at, Timer::Positions(q));
                return;
            }
        }
    }

    /// Sends the notices of queue `q` that are due (see the module doc).
    pub(crate) fn refresh_positions(&mut self, now: Instant, q: u32) {
        let interval = self.settings.position_interval;
        let far = self.settings.position_far_interval;
        let window = self.settings.position_window;
        let basis = self.eta_basis(q, now);
        let Some(queue) = self.queues.get(q as usize).and_then(Option::as_ref) else {
            return;
        };
        let far_due = queue.queued > window
            && queue.pos.dirty_far
            && queue
                .pos
                .last_far
                .is_none_or(|t| t.checked_add(far).is_none_or(|due| now >= due));
        let near_due = queue.pos.dirty
            && queue
                .pos
                .last_refresh
                .is_none_or(|t| t.checked_add(interval).is_none_or(|due| now >= due))
            && queue.pos.retry.is_none_or(|t| now >= t);
        if !far_due && !near_due {
            return;
        }
        let limit = if far_due { usize::MAX } else { window };
        let mut retry: Option<Instant> = None;
        let mut far_suppressed = false;
        for (i, key) in queue.service_order(now).take(limit).enumerate() {
            let position = i + 1;
            let Some(call) = self
                .calls
                .get_mut(key.idx as usize)
                .and_then(Option::as_mut)
            else {
                continue;
            };
            if call.callback || call.last_pos == position {
                continue;
            }
            let spacing = if position <= window { interval } else { far };
            if let Some(due) = call.last_notice.and_then(|t| t.checked_add(spacing))
                && now < due
            {
                if position <= window {
                    retry = Some(retry.map_or(due, |r| r.min(due)));
                } else {
                    far_suppressed = true;
                }
                continue;
            }
            call.last_pos = position;
            call.last_notice = Some(now);
            let eta = basis.and_then(|b| b.eta(position));
            self.commands.push_back(Command::QueuePosition {
                call: call.id,
                position,
                eta,
            });
        }
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        queue.pos.last_refresh = Some(now);
        queue.pos.dirty = retry.is_some();
        queue.pos.retry = retry;
        if far_due {
            queue.pos.last_far = Some(now);
            queue.pos.dirty_far = far_suppressed;
        }
    }
}
