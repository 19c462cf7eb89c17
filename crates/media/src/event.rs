//! What the shard hands back: datagrams to send and events for the application.

use std::net::SocketAddr;

use bytes::BytesMut;

use crate::{PeerId, RoomId};

/// A datagram to send from the shard's socket.
#[derive(Debug)]
pub struct Transmit {
    pub to: SocketAddr,
    pub payload: BytesMut,
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// Why a peer left the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// Removed by the application.
    Removed,
    /// No authenticated packet for the consent timeout.
    ConsentExpired,
    /// ICE and DTLS did not complete within the setup timeout.
    SetupTimeout,
    /// The engine reported the connection failed or closed (e.g. DTLS close_notify).
    Failed,
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS completed: media can flow.
    PeerConnected { peer: PeerId, room: RoomId },
    /// The peer is gone and its resources are freed.
    PeerGone {
        peer: PeerId,
        room: RoomId,
        reason: GoneReason,
    },
    /// A metered peer's input over the last second (see [`crate::Shard::meter`]).
    InputReport {
        peer: PeerId,
        room: RoomId,
        report: crate::InputReport,
    },
    /// The first packet of one of the peer's published tracks arrived.
    TrackPublished {
        peer: PeerId,
        room: RoomId,
        kind: MediaKind,
    },
}
