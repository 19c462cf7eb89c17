//! One participant's state on a shard: its engine peer connection, its published streams and
//! its receive slots with their per-leg rewriting, and what the shard knows of its liveness.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::rtp_sender::RTCRtpParameters;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};

use crate::keyframe::KeyframeGate;
use crate::rewrite::{Negotiated, SeqTsRewriter, name_key};
use crate::stats::PeerStats;
use crate::tap::Liveness;
use crate::{MediaKind, PeerId, RoomId};

/// A participant's peer connection and everything the shard tracks about it.
pub struct Peer {
    pub id: PeerId,
    pub room: RoomId,
    pub label: String,
    pub pc: RTCPeerConnection,
    pub ufrag: String,
    /// Its ICE password: the key of its checks' MESSAGE-INTEGRITY.
    pub pwd: String,
    pub liveness: Liveness,
    /// Liveness count at the last look.
    pub seen: u64,
    pub created_at: Instant,
    pub last_alive: Instant,
    pub connected: bool,
    pub publish: bool,
    /// Addresses routed to this peer.
    pub addrs: Vec<SocketAddr>,
    pub slots: Vec<ReceiveSlot>,
    /// Published streams by incoming SSRC.
    pub inbound: BTreeMap<u32, Inbound>,
    /// Engine receivers by track id, from the engine's track events.
    pub receivers: HashMap<String, RTCRtpReceiverId>,
    pub stats: PeerStats,
    /// The deadline under which the peer is indexed in the shard's timer set.
    pub deadline: Option<Instant>,
    /// Whether keyframes were requested for this subscriber since it connected.
    pub keyframes_asked: bool,
    /// Time and byte counters at the previous statistics query, for bit rates.
    pub rate_sample: Option<(Instant, u64, u64)>,
    /// The check of its camera and microphone, while asked for.
    pub meter: Option<crate::meter::InputMeter>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("label", &self.label)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

/// One audio + video pair this peer receives, bound to one publisher at a time.
#[derive(Debug)]
pub struct ReceiveSlot {
    pub source: Option<PeerId>,
    /// What of the source's media is forwarded into the slot.
    pub kinds: crate::room::MediaKinds,
    pub audio: Leg,
    pub video: Leg,
}

impl ReceiveSlot {
    pub fn leg_mut(&mut self, kind: MediaKind) -> &mut Leg {
        match kind {
            MediaKind::Audio => &mut self.audio,
            MediaKind::Video => &mut self.video,
        }
    }
}

/// One outgoing stream to this peer.
#[derive(Debug)]
pub struct Leg {
    pub sender: RTCRtpSenderId,
    pub ssrc: u32,
    /// What this leg negotiated, read from the engine at the first packet after connecting.
    pub negotiated: Option<Negotiated>,
    pub rewriter: SeqTsRewriter,
}

impl Leg {
    /// Reads what this leg negotiated from `pc`'s sender, once (it stays `None` while the
    /// engine has no sender for it).
    pub fn read_negotiated(&mut self, pc: &mut RTCPeerConnection) {
        if self.negotiated.is_none()
            && let Some(mut sender) = pc.rtp_sender(self.sender)
        {
            self.negotiated = Some(negotiated_from(&sender.get_parameters().rtp_parameters));
        }
    }
}

/// One stream this peer publishes.
#[derive(Debug)]
pub struct Inbound {
    pub kind: MediaKind,
    pub receiver: RTCRtpReceiverId,
    pub negotiated: Arc<Negotiated>,
    pub keyframe: KeyframeGate,
}

/// Reads payload types and extension ids out of the engine's negotiated parameters.
pub fn negotiated_from(parameters: &RTCRtpParameters) -> Negotiated {
    Negotiated {
        codecs: parameters
            .codecs
            .iter()
            .map(|codec| {
                (
                    codec.payload_type,
                    name_key(&codec.rtp_codec.mime_type),
                    codec.rtp_codec.clock_rate,
                )
            })
            .collect(),
        extensions: parameters
            .header_extensions
            .iter()
            .filter_map(|ext| u8::try_from(ext.id).ok().map(|id| (id, name_key(&ext.uri))))
            .collect(),
    }
}
