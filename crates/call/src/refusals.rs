//! Refused calls per kiosk identity and service in a one-minute window, so a kiosk that keeps
//! calling a closed or full service is told to wait instead of writing a record each time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// The windows of every (kiosk identity, service) with a recent refusal.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    windows: BTreeMap<(String, String), Window>,
}

impl Refusals {
    /// `Err((count, seconds left))` when `per_minute` refusals were already counted.
    pub(crate) fn check(
        &self,
        now: Instant,
        kiosk: &str,
        service: &str,
        per_minute: u32,
    ) -> Result<(), (u32, u64)> {
        let Some(window) = self.windows.get(&(kiosk.to_owned(), service.to_owned())) else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(window.started);
        if elapsed >= WINDOW || window.count < per_minute {
            Ok(())
        } else {
            Err((window.count, (WINDOW - elapsed).as_secs().max(1)))
        }
    }

    /// Counts a refusal at `now`; windows that ended are dropped on the way.
    pub(crate) fn refused(&mut self, now: Instant, kiosk: &str, service: &str) {
        self.windows
            .retain(|_, window| now.saturating_duration_since(window.started) < WINDOW);
        let window = self
            .windows
            .entry((kiosk.to_owned(), service.to_owned()))
            .or_insert(Window {
                started: now,
                count: 0,
            });
        window.count += 1;
    }

    /// A call of this kiosk to this service was queued: its window is forgotten.
    pub(crate) fn admitted(&mut self, kiosk: &str, service: &str) {
        self.windows.remove(&(kiosk.to_owned(), service.to_owned()));
    }

    /// Windows kept now.
    pub(crate) fn len(&self) -> usize {
        self.windows.len()
    }
}
