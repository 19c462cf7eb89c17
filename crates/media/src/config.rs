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
    /// The DTLS certificate every peer of the shard presents (made once, outside the shard,
    /// so the shard itself draws no randomness).
    pub certificate: DtlsCertificate,
}

/// A shard's DTLS certificate.
#[derive(Debug, Clone)]
pub struct DtlsCertificate(pub(crate) rtc::peer_connection::certificate::RTCCertificate);

impl DtlsCertificate {
    /// A new ECDSA P-256 certificate: one key for every peer of a shard, so joining a call
    /// does not cost a key generation (browsers see the same fingerprint on every leg).
    pub fn generate() -> Result<Self, crate::MediaError> {
        crate::engine::shard_certificate().map(Self)
    }
}

impl ShardConfig {
    /// Defaults for a shard announcing `advertised`.
    pub fn new(
        advertised: Vec<SocketAddr>,
        credential_seed: [u8; 32],
        certificate: DtlsCertificate,
    ) -> Self {
        Self {
            advertised,
            consent_timeout: Duration::from_secs(30),
            setup_timeout: Duration::from_secs(30),
            keyframe_min_interval: Duration::from_millis(500),
            credential_seed,
            certificate,
        }
    }
}
