//! Settings of one media shard.

use std::net::SocketAddr;
use std::time::Duration;

/// How a shard presents itself and how patient it is.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// Addresses announced as ICE host candidates (the socket's address, or public addresses
    /// of a 1:1 NAT with the socket's port). Datagrams are stamped with the one whose family
    /// matches the sender. Must not be empty.
    pub advertised: Vec<SocketAddr>,
    /// A peer whose last authenticated packet (SRTP, SRTCP, DTLS or STUN) is older than this is
    /// gone (RFC 7675 consent expiry is 30 s).
    pub consent_timeout: Duration,
    /// A peer that has not completed ICE and DTLS this long after joining is gone.
    pub setup_timeout: Duration,
    /// At most one keyframe request per publisher stream this often.
    pub keyframe_min_interval: Duration,
    /// Seed of the shard's ICE credentials: 32 bytes from the OS's random source in the server.
    pub credential_seed: [u8; 32],
}

impl ShardConfig {
    /// Defaults for a shard announcing `advertised`.
    pub fn new(advertised: Vec<SocketAddr>, credential_seed: [u8; 32]) -> Self {
        Self {
            advertised,
            consent_timeout: Duration::from_secs(30),
            setup_timeout: Duration::from_secs(30),
            keyframe_min_interval: Duration::from_millis(500),
            credential_seed,
        }
    }
}
