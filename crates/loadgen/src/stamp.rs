//! The synthetic payload: a header that lets the receiver measure one-way delay and loss
//! exactly (sender and receiver share the process clock), padded to the configured size.

use std::time::Instant;

const MAGIC: [u8; 2] = *b"RL";
/// Header bytes at the start of every synthetic payload.
pub const HEADER: usize = 2 + 1 + 4 + 8;

/// What a payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// 0 audio, 1 video.
    pub stream: u8,
    pub seq: u32,
    /// Nanoseconds since the run's epoch when it was sent.
    pub sent_ns: u64,
}

/// A payload of `size` bytes (at least the header) carrying `stamp`.
pub fn encode(stamp: Stamp, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size.max(HEADER));
    out.extend_from_slice(&MAGIC);
    out.push(stamp.stream);
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    out.extend_from_slice(&stamp.sent_ns.to_be_bytes());
    out.resize(size.max(HEADER), 0x5A);
    out
}

/// The stamp of a payload, if it carries one.
pub fn decode(payload: &[u8]) -> Option<Stamp> {
    if payload.len() < HEADER || payload[..2] != MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes([payload[3], payload[4], payload[5], payload[6]]);
    let mut sent = [0u8; 8];
    sent.copy_from_slice(&payload[7..15]);
    Some(Stamp {
        stream: payload[2],
        seq,
        sent_ns: u64::from_be_bytes(sent),
    })
}

/// Nanoseconds from `epoch` to now.
pub fn since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Interarrival jitter as RFC 3550 §6.4.1 defines it, with the payload's send time in place
/// of the RTP timestamp: a running estimate of how much the transit time varies from one
/// packet to the next (gain 1/16).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Jitter {
    last_transit_ns: Option<i128>,
    estimate_ns: f64,
}

impl Jitter {
    /// Takes one packet sent at `sent_ns` and received at `received_ns`.
    pub fn update(&mut self, sent_ns: u64, received_ns: u64) {
        let transit = i128::from(received_ns) - i128::from(sent_ns);
        if let Some(last) = self.last_transit_ns {
            let difference = (transit - last).unsigned_abs() as f64;
            self.estimate_ns += (difference - self.estimate_ns) / 16.0;
        }
        self.last_transit_ns = Some(transit);
    }

    /// The current estimate in milliseconds.
    pub fn ms(&self) -> f64 {
        self.estimate_ns / 1e6
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn jitter_follows_the_variation_of_transit_time() {
        let mut steady = super::Jitter::default();
        for i in 0..100u64 {
            steady.update(i * 20_000_000, i * 20_000_000 + 3_000_000);
        }
        assert_eq!(steady.ms(), 0.0);
        // Transit alternating 1 ms and 3 ms: every difference is 2 ms, and the estimate
        // converges to it.
        let mut alternating = super::Jitter::default();
        for i in 0..400u64 {
            let transit = if i % 2 == 0 { 1_000_000 } else { 3_000_000 };
            alternating.update(i * 20_000_000, i * 20_000_000 + transit);
        }
        assert!(
            (alternating.ms() - 2.0).abs() < 1e-6,
            "{}",
            alternating.ms()
        );
    }

    use super::*;

    #[test]
    fn a_stamp_round_trips_and_pads() {
        let stamp = Stamp {
            stream: 1,
            seq: 77,
            sent_ns: 123_456_789,
        };
        let payload = encode(stamp, 1200);
        assert_eq!(payload.len(), 1200);
        assert_eq!(decode(&payload), Some(stamp));
        assert_eq!(decode(&payload[..10]), None);
        assert_eq!(decode(b"not a stamp at all"), None);
    }
}
