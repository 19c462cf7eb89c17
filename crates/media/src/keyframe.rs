//! Keyframe-request throttling: at most one request per publisher stream per interval, and a
//! request that arrives inside the interval is sent when it ends rather than lost.

use std::time::{Duration, Instant};

/// The throttle of one publisher stream.
#[derive(Debug, Clone, Default)]
pub struct KeyframeGate {
    last_sent: Option<Instant>,
    pending: bool,
}

impl KeyframeGate {
    /// A keyframe is wanted. True: send a request now. False: it is deferred.
    pub fn request(&mut self, now: Instant, min_interval: Duration) -> bool {
        match self.last_sent {
            Some(last) if now.saturating_duration_since(last) < min_interval => {
                self.pending = true;
                false
            }
            _ => {
                self.last_sent = Some(now);
                self.pending = false;
                true
            }
        }
    }

    /// When a deferred request falls due.
    pub fn deadline(&self, min_interval: Duration) -> Option<Instant> {
        match (self.pending, self.last_sent) {
            (true, Some(last)) => Some(last + min_interval),
            _ => None,
        }
    }

    /// True when a deferred request is due now (and marks it sent).
    pub fn poll(&mut self, now: Instant, min_interval: Duration) -> bool {
        match self.deadline(min_interval) {
            Some(due) if due <= now => {
                self.pending = false;
                self.last_sent = Some(now);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // virtual time starts at a real instant
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(500);

    #[test]
    fn first_request_goes_out_at_once() {
        let mut gate = KeyframeGate::default();
        assert!(gate.request(Instant::now(), GAP));
    }

    #[test]
    fn requests_inside_the_interval_collapse_into_one_deferred_request() {
        let mut gate = KeyframeGate::default();
        let t0 = Instant::now();
        assert!(gate.request(t0, GAP));
        assert!(!gate.request(t0 + Duration::from_millis(100), GAP));
        assert!(!gate.request(t0 + Duration::from_millis(200), GAP));
        assert_eq!(gate.deadline(GAP), Some(t0 + GAP));
        assert!(!gate.poll(t0 + Duration::from_millis(499), GAP));
        assert!(gate.poll(t0 + GAP, GAP));
        // Sent once: nothing more is pending.
        assert!(!gate.poll(t0 + GAP * 3, GAP));
        assert_eq!(gate.deadline(GAP), None);
    }

    #[test]
    fn a_request_after_the_interval_goes_out_at_once() {
        let mut gate = KeyframeGate::default();
        let t0 = Instant::now();
        assert!(gate.request(t0, GAP));
        assert!(gate.request(t0 + GAP, GAP));
    }
}
