//! KPI counters and windows (recent sliding window, today) and the public KPI views' types.

use std::time::{Duration, Instant};

use relais_proto::QueueId;

/// Raw counters of one window. Counts are of events; durations are sums.
///
/// Per queue, `offered` counts entries into the queue (enqueue, overflow in, re-queue after an
/// interrupted call); overall it excludes overflow moves. Each entry leaves the waiting set
/// exactly once: answered, abandoned (short or not), overflowed (out), timed out, closed, or
/// called back (`callback_requested`). Callback tasks are counted apart (`callbacks`,
/// `callbacks_answered`), not as entries or answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Entries into the queue (see above).
    pub offered: u64,
    /// Answers (accepted offers).
    pub answered: u64,
    /// Answers whose wait (from the original enqueue) was ≤ the queue's SL threshold.
    pub answered_within_threshold: u64,
    /// Abandons after at least `short_abandon` of wait.
    pub abandoned: u64,
    /// Of those, abandons with a wait ≤ the SL threshold.
    pub abandoned_within_threshold: u64,
    /// Abandons before `short_abandon` (counted apart, excluded from the rates).
    pub short_abandoned: u64,
    /// Calls that left the queue by max-wait overflow (moved, or ended `Overflowed`).
    pub overflowed: u64,
    /// Calls that ended `TimedOut`.
    pub timed_out: u64,
    /// Calls that ended `Closed` (closed at enqueue, or queue removed).
    pub closed: u64,
    /// Calls that ended `QueueFull` at their enqueue.
    pub queue_full: u64,
    /// Connected calls that lost their agent (re-queued or ended `Interrupted`).
    pub interrupted: u64,
    /// Calls whose caller asked to be called back while waiting (not abandons: excluded from
    /// the abandonment rate).
    pub callback_requested: u64,
    /// Callback tasks that took their place in the queue.
    pub callbacks: u64,
    /// Callback tasks an agent took.
    pub callbacks_answered: u64,
    /// Answered calls an agent handed on to another queue (a blind transfer); the other
    /// queue counts them as offered, and answered if it answers them.
    pub transferred_out: u64,
    /// Handled calls: answered calls and callback tasks whose wrap-up finished.
    pub handled: u64,
    /// Sum of waits of answered calls.
    pub answered_wait: Duration,
    /// Sum of talk + wrap-up of handled calls.
    pub handle_time: Duration,
    /// Sum of talk of handled calls.
    pub talk_time: Duration,
    /// Agent time on call or in wrap-up (per queue: of agents serving it).
    pub busy_time: Duration,
    /// Agent time logged in and not NotReady.
    pub staffed_time: Duration,
}

impl Counters {
    /// An entry into a queue: a call (`offered`) or a callback task (`callbacks`).
    pub(crate) fn count_entry(&mut self, callback: bool) {
        if callback {
            self.callbacks += 1;
        } else {
            self.offered += 1;
        }
    }

    fn add(&mut self, other: &Counters) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.answered_within_threshold += other.answered_within_threshold;
        self.abandoned += other.abandoned;
        self.abandoned_within_threshold += other.abandoned_within_threshold;
        self.short_abandoned += other.short_abandoned;
        self.overflowed += other.overflowed;
        self.timed_out += other.timed_out;
        self.closed += other.closed;
        self.queue_full += other.queue_full;
        self.interrupted += other.interrupted;
        self.callback_requested += other.callback_requested;
        self.callbacks += other.callbacks;
        self.callbacks_answered += other.callbacks_answered;
        self.transferred_out += other.transferred_out;
        self.handled += other.handled;
        self.answered_wait = self.answered_wait.saturating_add(other.answered_wait);
        self.handle_time = self.handle_time.saturating_add(other.handle_time);
        self.talk_time = self.talk_time.saturating_add(other.talk_time);
        self.busy_time = self.busy_time.saturating_add(other.busy_time);
        self.staffed_time = self.staffed_time.saturating_add(other.staffed_time);
    }

    fn add_load(&mut self, span: Duration, busy: u32, staffed: u32) {
        self.busy_time = self.busy_time.saturating_add(span.saturating_mul(busy));
        self.staffed_time = self
            .staffed_time
            .saturating_add(span.saturating_mul(staffed));
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn mean(total: Duration, count: u64) -> Option<Duration> {
    (count > 0).then(|| {
        Duration::from_nanos(
            u64::try_from(total.as_nanos() / u128::from(count)).unwrap_or(u64::MAX),
        )
    })
}

/// Counters of one window and the rates derived from them (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpiWindow {
    /// The raw counters.
    pub counters: Counters,
    /// answered within T ÷ answered.
    pub service_level: Option<f64>,
    /// (answered within T + abandoned within T) ÷ (answered + abandoned); short abandons
    /// excluded.
    pub service_level_with_abandons: Option<f64>,
    /// Average speed of answer: mean wait of answered calls.
    pub asa: Option<Duration>,
    /// Average handle time: mean talk + wrap-up of handled calls.
    pub aht: Option<Duration>,
    /// abandoned ÷ (offered − short abandoned − callback requested).
    pub abandonment_rate: Option<f64>,
    /// busy time ÷ staffed time.
    pub occupancy: Option<f64>,
}

impl KpiWindow {
    pub(crate) fn from_counters(c: Counters) -> Self {
        Self {
            counters: c,
            service_level: ratio(c.answered_within_threshold, c.answered),
            service_level_with_abandons: ratio(
                c.answered_within_threshold + c.abandoned_within_threshold,
                c.answered + c.abandoned,
            ),
            asa: mean(c.answered_wait, c.answered),
            aht: mean(c.handle_time, c.handled),
            abandonment_rate: ratio(
                c.abandoned,
                c.offered
                    .saturating_sub(c.short_abandoned)
                    .saturating_sub(c.callback_requested),
            ),
            occupancy: (!c.staffed_time.is_zero())
                .then(|| c.busy_time.as_secs_f64() / c.staffed_time.as_secs_f64()),
        }
    }
}

/// Agents by state (per queue: agents serving it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounts {
    /// Logged in (all states but LoggedOut).
    pub logged_in: u32,
    /// Available.
    pub available: u32,
    /// Reserved (ringing).
    pub reserved: u32,
    /// On a call.
    pub on_call: u32,
    /// In wrap-up.
    pub wrap_up: u32,
    /// Not ready.
    pub not_ready: u32,
}

impl AgentCounts {
    pub(crate) fn from_kinds(counts: &[u32; 6]) -> Self {
        let [_, available, reserved, on_call, wrap_up, not_ready] = *counts;
        Self {
            logged_in: available + reserved + on_call + wrap_up + not_ready,
            available,
            reserved,
            on_call,
            wrap_up,
            not_ready,
        }
    }

    /// Agents working: available, reserved, on call or in wrap-up.
    pub fn staffed(&self) -> u32 {
        self.available + self.reserved + self.on_call + self.wrap_up
    }
}

/// KPIs of one queue (`queue: Some`) or of the whole centre (`queue: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    /// The queue, or `None` for the overall view.
    pub queue: Option<QueueId>,
    /// Live: calls not yet answered (queued or on offer).
    pub waiting: usize,
    /// Live: of those, calls currently on offer.
    pub on_offer: usize,
    /// Live: now − oldest original enqueue time among waiting calls.
    pub longest_wait: Option<Duration>,
    /// Live: agents by state.
    pub agents: AgentCounts,
    /// Live: estimated wait for a new caller (per queue only).
    pub estimated_wait: Option<Duration>,
    /// The recent window (default the last 15 minutes).
    pub recent: KpiWindow,
    /// Since local midnight (queue's time zone; overall: the dispatcher's).
    pub today: KpiWindow,
}

/// Number of slots of the recent window.
const SLOTS: usize = 30;
const EMPTY_SLOT: u64 = u64::MAX;

/// Counters of one scope (a queue or overall): today, the recent ring, and the live load
/// (agents busy / staffed) integrated over time for occupancy.
#[derive(Debug)]
pub(crate) struct KpiState {
    today: Counters,
    today_start: Instant,
    pub(crate) today_end: Instant,
    slots: Vec<(u64, Counters)>,
    slot_width: Duration,
    epoch: Instant,
    last_accrue: Instant,
    busy: u32,
    staffed: u32,
    /// Cache of the slot containing the latest instant seen: (slot, start, end).
    current: (u64, Instant, Instant),
}

impl KpiState {
    pub(crate) fn new(
        now: Instant,
        epoch: Instant,
        window: Duration,
        day: (Instant, Instant),
    ) -> Self {
        Self {
            today: Counters::default(),
            today_start: day.0,
            today_end: day.1,
            slots: vec![(EMPTY_SLOT, Counters::default()); SLOTS],
            slot_width: (window / SLOTS as u32).max(Duration::from_millis(1)),
            epoch,
            last_accrue: now,
            busy: 0,
            staffed: 0,
            current: (EMPTY_SLOT, epoch, epoch),
        }
    }

    /// Changes the recent window length (drops the recent counters if it changed).
    pub(crate) fn set_window(&mut self, window: Duration) {
        let width = (window / SLOTS as u32).max(Duration::from_millis(1));
        if width != self.slot_width {
            self.slot_width = width;
            self.slots.fill((EMPTY_SLOT, Counters::default()));
            self.current = (EMPTY_SLOT, self.epoch, self.epoch);
        }
    }

    /// Starts a new day (counters of the previous one are dropped).
    pub(crate) fn new_day(&mut self, day: (Instant, Instant)) {
        self.today = Counters::default();
        self.today_start = day.0;
        self.today_end = day.1;
    }

    /// Moves the day bounds without dropping counters (clock re-anchored).
    pub(crate) fn set_day_bounds(&mut self, day: (Instant, Instant)) {
        self.today_start = day.0;
        self.today_end = day.1;
    }

    fn slot_no(&self, t: Instant) -> u64 {
        let (slot, start, end) = self.current;
        if t >= start && t < end {
            return slot;
        }
        self.compute_slot(t)
    }

    fn compute_slot(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(since / self.slot_width.as_nanos().max(1)).unwrap_or(EMPTY_SLOT - 1)
    }

    fn slot_mut(&mut self, slot: u64) -> &mut Counters {
        let index = usize::try_from(slot % SLOTS as u64).unwrap_or(0);
        let entry = &mut self.slots[index];
        if entry.0 != slot {
            *entry = (slot, Counters::default());
        }
        &mut entry.1
    }

    fn slot_bounds(&self, slot: u64) -> Option<(Instant, Instant)> {
        let start = self
            .epoch
            .checked_add(self.slot_width.checked_mul(u32::try_from(slot).ok()?)?)?;
        Some((start, start.checked_add(self.slot_width)?))
    }

    /// `slot_no` that also caches the slot of `t` for the next calls.
    fn slot_of(&mut self, t: Instant) -> u64 {
        let (slot, start, end) = self.current;
        if t >= start && t < end {
            return slot;
        }
        let slot = self.compute_slot(t);
        if let Some((start, end)) = self.slot_bounds(slot) {
            self.current = (slot, start, end);
        }
        slot
    }

    /// Applies a counter update at `at` to today and to the recent window.
    pub(crate) fn record(&mut self, at: Instant, update: impl Fn(&mut Counters)) {
        update(&mut self.today);
        let slot = self.slot_of(at);
        update(self.slot_mut(slot));
    }

    /// Integrates the current load up to `now`.
    pub(crate) fn accrue(&mut self, now: Instant) {
        let from = self.last_accrue;
        if now <= from {
            return;
        }
        self.last_accrue = now;
        if self.busy == 0 && self.staffed == 0 {
            return;
        }
        let (busy, staffed) = (self.busy, self.staffed);
        let today_from = from.max(self.today_start);
        if now > today_from {
            self.today.add_load(now - today_from, busy, staffed);
        }
        let window = self.slot_width.saturating_mul(SLOTS as u32);
        let mut t = now
            .checked_sub(window)
            .map_or(from, |start| start.max(from));
        while t < now {
            let slot = self.slot_of(t);
            let slot_end = if self.current.0 == slot {
                self.current.2.min(now)
            } else {
                self.slot_bounds(slot).map_or(now, |(_, end)| end.min(now))
            };
            let end = if slot_end > t { slot_end } else { now };
            self.slot_mut(slot).add_load(end - t, busy, staffed);
            t = end;
        }
    }

    /// Sets the load after a change (call [`KpiState::accrue`] first).
    pub(crate) fn set_load(&mut self, busy: u32, staffed: u32) {
        self.busy = busy;
        self.staffed = staffed;
    }

    fn pending_since(&self, start: Instant, now: Instant) -> Counters {
        let mut pending = Counters::default();
        let from = self.last_accrue.max(start);
        if now > from {
            pending.add_load(now - from, self.busy, self.staffed);
        }
        pending
    }

    fn recent_start(&self, now: Instant) -> (u64, Instant) {
        let current = self.slot_no(now);
        let first = current.saturating_sub(SLOTS as u64 - 1);
        let start = u32::try_from(first)
            .ok()
            .and_then(|k| self.slot_width.checked_mul(k))
            .and_then(|d| self.epoch.checked_add(d))
            .unwrap_or(self.epoch);
        (first, start)
    }

    /// Counters of the recent window at `now`.
    pub(crate) fn recent(&self, now: Instant) -> Counters {
        let current = self.slot_no(now);
        let (first, start) = self.recent_start(now);
        let mut sum = Counters::default();
        for (slot, counters) in &self.slots {
            if *slot != EMPTY_SLOT && *slot >= first && *slot <= current {
                sum.add(counters);
            }
        }
        sum.add(&self.pending_since(start, now));
        sum
    }

    /// (handled, handle time) of the recent window, for the wait estimate.
    pub(crate) fn recent_handling(&self, now: Instant) -> (u64, Duration) {
        let current = self.slot_no(now);
        let (first, _) = self.recent_start(now);
        let mut handled = 0;
        let mut time = Duration::ZERO;
        for (slot, counters) in &self.slots {
            if *slot != EMPTY_SLOT && *slot >= first && *slot <= current {
                handled += counters.handled;
                time = time.saturating_add(counters.handle_time);
            }
        }
        (handled, time)
    }

    /// Counters since the start of the day at `now`.
    pub(crate) fn today(&self, now: Instant) -> Counters {
        if now >= self.today_end {
            return Counters::default();
        }
        let mut sum = self.today;
        sum.add(&self.pending_since(self.today_start, now));
        sum
    }

    /// (handled, handle time) today.
    pub(crate) fn today_handling(&self, now: Instant) -> (u64, Duration) {
        if now >= self.today_end {
            return (0, Duration::ZERO);
        }
        (self.today.handled, self.today.handle_time)
    }
}
