//! Statistics of the media core as plain data; the server turns them into metrics.

/// Counters of one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Whether ICE and DTLS completed.
    pub connected: bool,
    /// RTP packets received from this peer's published tracks.
    pub rtp_in: u64,
    /// Their payload and header bytes.
    pub rtp_bytes_in: u64,
    /// RTP packets forwarded to this peer.
    pub rtp_out: u64,
    /// Their payload and header bytes.
    pub rtp_bytes_out: u64,
    /// Keyframe requests (PLI) sent to this peer as a publisher.
    pub keyframe_requests_sent: u64,
    /// Keyframe requests (PLI/FIR) received from this peer as a subscriber.
    pub keyframe_requests_received: u64,
    /// Packets that could not be forwarded to this peer (codec not negotiated, engine refusal).
    pub forward_failures: u64,
    /// Authenticated packets (SRTP/SRTCP) seen from this peer.
    pub authenticated_packets: u64,
    /// Packets of this peer's published streams that never arrived (from the engine's
    /// receive statistics; retransmissions recovered by NACK are not counted).
    pub packets_lost: i64,
    /// NACKs the shard sent to this peer (asking its streams for lost packets).
    pub nacks_sent: u64,
    /// NACKs this peer sent to the shard (answered from the send buffer).
    pub nacks_received: u64,
    /// Round-trip time to the peer, from RTCP reports or ICE checks.
    pub round_trip_time_ms: Option<u64>,
    /// Received and sent RTP bit rates since the previous statistics query.
    pub bitrate_in_bps: u64,
    pub bitrate_out_bps: u64,
}

/// Counters of a whole shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Datagrams handed out to send.
    pub datagrams_out: u64,
    /// Bytes handed out to send.
    pub bytes_out: u64,
    /// Datagrams from an unknown address that were not a binding request for one of our peers.
    pub dropped_unknown: u64,
    /// RTP packets forwarded (one per subscriber leg).
    pub rtp_forwarded: u64,
    /// Peers now on the shard.
    pub peers: u64,
    /// Rooms now on the shard.
    pub rooms: u64,
    /// Peers that left because their consent expired.
    pub consent_expired: u64,
    /// Packets of the server's own hold audio sent.
    pub hold_packets: u64,
}
