//! Wall-clock mapping (monotonic `Instant` ⇄ UTC) and opening hours / "today" in a time zone.

use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::config::OpeningHours;

/// Maps monotonic instants to UTC: `utc(now) = utc + (now − at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallAnchor {
    /// A monotonic instant…
    pub at: Instant,
    /// …and the UTC time it corresponds to.
    pub utc: Timestamp,
}

impl WallAnchor {
    /// The UTC time of `now` (saturating at the anchor if out of range).
    pub fn utc_of(&self, now: Instant) -> Timestamp {
        let shifted = if now >= self.at {
            SignedDuration::try_from(now.duration_since(self.at))
                .ok()
                .and_then(|d| self.utc.checked_add(d).ok())
        } else {
            SignedDuration::try_from(self.at.duration_since(now))
                .ok()
                .and_then(|d| self.utc.checked_sub(d).ok())
        };
        shifted.unwrap_or(self.utc)
    }

    /// The monotonic instant of a UTC time, if representable.
    pub fn instant_of(&self, utc: Timestamp) -> Option<Instant> {
        let delta = utc.duration_since(self.utc);
        let magnitude: Duration = delta.unsigned_abs();
        if delta.is_negative() {
            self.at.checked_sub(magnitude)
        } else {
            self.at.checked_add(magnitude)
        }
    }
}

/// Whether a queue with these hours is open at `utc`.
pub(crate) fn is_open(hours: Option<&OpeningHours>, tz: &TimeZone, utc: Timestamp) -> bool {
    let Some(hours) = hours else {
        return true;
    };
    let local = tz.to_datetime(utc);
    if hours.holidays.contains(&local.date()) {
        return false;
    }
    let day = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    hours
        .weekly
        .get(day)
        .is_some_and(|ranges| ranges.iter().any(|range| range.contains(local.time())))
}

/// `[start, end)` of the local day containing `now`, as instants. Falls back to a 24 h day
/// starting at `now` if the time zone arithmetic fails.
pub(crate) fn day_bounds(anchor: &WallAnchor, tz: &TimeZone, now: Instant) -> (Instant, Instant) {
    let fallback = (
        now,
        now.checked_add(Duration::from_secs(86_400)).unwrap_or(now),
    );
    let zoned = anchor.utc_of(now).to_zoned(tz.clone());
    let Ok(start) = zoned.start_of_day() else {
        return fallback;
    };
    let Ok(next) = zoned.tomorrow().and_then(|z| z.start_of_day()) else {
        return fallback;
    };
    match (
        anchor.instant_of(start.timestamp()),
        anchor.instant_of(next.timestamp()),
    ) {
        (Some(s), Some(e)) if e > now => (s.min(now), e),
        (None, Some(e)) if e > now => (now, e),
        _ => fallback,
    }
}
