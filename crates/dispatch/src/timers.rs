//! The deadline set: every transient state's deadline, ordered by (instant, kind, id).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::model::TimeoutReason;

/// What a deadline is for. Each kind is validated against the entity's state when it fires,
/// so a stale entry is harmless; entries are still removed eagerly to keep the set small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Agent (index) offer deadline.
    Offer(u32),
    /// Agent (index) wrap-up end.
    WrapUp(u32),
    /// Call (slot index, call id) max wait in its queue.
    MaxWait(u32, u64),
    /// Queue (index) eligibility re-check.
    Eligibility(u32),
    /// Queue (index) position refresh.
    Positions(u32),
}

impl Timer {
    pub(crate) fn reason(self) -> TimeoutReason {
        match self {
            Self::Offer(_) => TimeoutReason::OfferExpiry,
            Self::WrapUp(_) => TimeoutReason::WrapUpEnd,
            Self::MaxWait(..) => TimeoutReason::MaxWait,
            Self::Eligibility(_) => TimeoutReason::Eligibility,
            Self::Positions(_) => TimeoutReason::PositionRefresh,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    set: BTreeSet<(Instant, Timer)>,
}

impl Timers {
    pub(crate) fn insert(&mut self, at: Instant, timer: Timer) {
        self.set.insert((at, timer));
    }

    pub(crate) fn remove(&mut self, at: Instant, timer: Timer) {
        self.set.remove(&(at, timer));
    }

    pub(crate) fn first(&self) -> Option<(Instant, Timer)> {
        self.set.first().copied()
    }

    /// Removes and returns the earliest deadline at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer)> {
        match self.set.first() {
            Some(&(at, _)) if at <= now => self.set.pop_first(),
            _ => None,
        }
    }
}
