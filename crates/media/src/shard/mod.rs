//! The shard: every peer of one UDP socket, the demultiplexing of datagrams to them (ICE
//! username fragment first, then source address), rooms, forwarding and feedback, timers and
//! liveness. Sans-IO: the caller owns the socket and the clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;

use crate::engine;
use crate::keyframe::KeyframeGate;
use crate::peer::{Inbound, Leg, Peer, ReceiveSlot, negotiated_from};
use crate::rewrite::{FORWARDED_EXTENSIONS, SeqTsRewriter, name_key, translate_header};
use crate::room::{JoinSpec, MediaKinds, Room};
use crate::stats::{PeerStats, ShardStats};
use crate::stun;
use crate::tap::Liveness;
use crate::{GoneReason, MediaError, MediaEvent, MediaKind, PeerId, RoomId, ShardConfig, Transmit};

mod demux;
mod feedback;
mod forwarding;
mod hold;
mod negotiation;
mod service;

/// Shortest re-arm of a peer's timer, so an engine that keeps asking for "now" cannot spin.
const MIN_TIMER_STEP: Duration = Duration::from_millis(1);

/// Addresses learnt per peer at most; a new authenticated one replaces the oldest.
const MAX_ADDRS_PER_PEER: usize = 8;

/// All peers and rooms of one UDP socket.
pub struct Shard {
    config: ShardConfig,
    certificate: rtc::peer_connection::certificate::RTCCertificate,
    forwarded_extensions: Vec<u64>,
    next_peer: u64,
    ssrc_counter: u64,
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<RoomId, Room>,
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    timers: BTreeSet<(Instant, PeerId)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    stats: ShardStats,
    /// Peers hearing the server's hold audio.
    holds: std::collections::BTreeMap<PeerId, crate::hold::HoldPlayer>,
    /// The peers whose input is metered (their meter lives on the peer, for the hot path).
    metered: std::collections::BTreeSet<PeerId>,
    /// When the next hold packet or meter report is due (see `refresh_media_due`).
    media_due: Option<Instant>,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("peers", &self.peers.len())
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl Shard {
    /// A shard announcing `config.advertised`.
    pub fn new(config: ShardConfig) -> Result<Self, MediaError> {
        if config.advertised.is_empty() {
            return Err(MediaError::Engine(
                "a shard needs at least one advertised address".into(),
            ));
        }
        Ok(Self {
            certificate: config.certificate.0.clone(),
            forwarded_extensions: FORWARDED_EXTENSIONS
                .iter()
                .map(|uri| name_key(uri))
                .collect(),
            config,
            next_peer: 1,
            ssrc_counter: 0,
            peers: HashMap::new(),
            rooms: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ShardStats::default(),
            holds: std::collections::BTreeMap::new(),
            metered: std::collections::BTreeSet::new(),
            media_due: None,
        })
    }

    /// Opens a room.
    pub fn create_room(&mut self, room: RoomId) -> Result<(), MediaError> {
        if self.rooms.contains_key(&room) {
            return Err(MediaError::RoomExists(room));
        }
        self.rooms.insert(room, Room::default());
        self.stats.rooms = self.rooms.len() as u64;
        Ok(())
    }

    /// Closes a room and removes its peers.
    pub fn close_room(&mut self, now: Instant, room: RoomId) -> Result<(), MediaError> {
        let members = self
            .rooms
            .get(&room)
            .ok_or(MediaError::UnknownRoom(room))?
            .members
            .clone();
        for peer in members {
            self.remove(now, peer, GoneReason::Removed);
        }
        self.rooms.remove(&room);
        self.stats.rooms = self.rooms.len() as u64;
        Ok(())
    }

    /// Removes a participant (it hung up or left).
    /// `subscriber` receives `kinds` of `publisher`'s media, in the receive slot already bound
    /// to it or in a free one; a keyframe is asked of the publisher once the subscriber is
    /// connected. Both must be in the same room.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriber: PeerId,
        publisher: PeerId,
        kinds: MediaKinds,
    ) -> Result<(), MediaError> {
        let publisher_peer = self
            .peers
            .get(&publisher)
            .ok_or(MediaError::UnknownPeer(publisher))?;
        if !publisher_peer.publish {
            return Err(MediaError::NotPublishing(publisher));
        }
        let room = publisher_peer.room;
        let peer = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        if peer.room != room || subscriber == publisher {
            return Err(MediaError::NotInSameRoom(subscriber, publisher));
        }
        let slots = peer.slots.len();
        let index = peer
            .slots
            .iter()
            .position(|slot| slot.source == Some(publisher))
            .or_else(|| peer.slots.iter().position(|slot| slot.source.is_none()))
            .ok_or(MediaError::NoFreeSlot(subscriber, slots))?;
        let slot = &mut peer.slots[index];
        let fresh = slot.source != Some(publisher) || (kinds.video && !slot.kinds.video);
        slot.source = Some(publisher);
        slot.kinds = kinds;
        if fresh && kinds.video && peer.connected {
            let mut dirty = Vec::new();
            self.request_keyframe(now, publisher, &mut dirty);
            for id in dirty {
                self.flush(now, id);
            }
        }
        Ok(())
    }

    /// `subscriber` no longer receives `publisher`: its slot is free for another publisher.
    pub fn unsubscribe(&mut self, subscriber: PeerId, publisher: PeerId) -> Result<(), MediaError> {
        let peer = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        for slot in peer
            .slots
            .iter_mut()
            .filter(|slot| slot.source == Some(publisher))
        {
            slot.source = None;
        }
        Ok(())
    }

    pub fn remove_peer(&mut self, now: Instant, peer: PeerId) -> Result<(), MediaError> {
        if !self.peers.contains_key(&peer) {
            return Err(MediaError::UnknownPeer(peer));
        }
        self.remove(now, peer, GoneReason::Removed);
        Ok(())
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.transmits.pop_front()?;
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += transmit.payload.len() as u64;
        Some(transmit)
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`Shard::handle_timeout`] should next run.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.timers.first().map(|(at, _)| *at);
        peers.into_iter().chain(self.media_due).min()
    }

    /// Counters of the shard.
    pub fn stats(&self) -> ShardStats {
        self.stats.clone()
    }

    /// Counters of one peer, completed with the engine's loss, NACK and round-trip figures
    /// and the bit rates since the previous query.
    pub fn peer_stats(&mut self, now: Instant, peer: PeerId) -> Option<PeerStats> {
        let entry = self.peers.get_mut(&peer)?;
        let mut stats = entry.stats.clone();
        let report = entry.pc.get_stats(now, StatsSelector::None);
        let (mut lost, mut nacks_sent, mut nacks_received) = (0i64, 0u64, 0u64);
        let mut rtt: Option<f64> = None;
        for item in report.iter() {
            match item {
                RTCStatsReportEntry::InboundRtp(inbound) => {
                    lost += inbound.received_rtp_stream_stats.packets_lost;
                    nacks_sent += u64::from(inbound.nack_count);
                }
                RTCStatsReportEntry::OutboundRtp(outbound) => {
                    nacks_received += u64::from(outbound.nack_count);
                }
                RTCStatsReportEntry::RemoteInboundRtp(remote)
                    if remote.round_trip_time_measurements > 0 =>
                {
                    rtt =
                        Some(rtt.map_or(remote.round_trip_time, |r| r.max(remote.round_trip_time)));
                }
                RTCStatsReportEntry::IceCandidatePair(pair)
                    if rtt.is_none() && pair.current_round_trip_time > 0.0 =>
                {
                    rtt = Some(pair.current_round_trip_time);
                }
                _ => {}
            }
        }
        stats.packets_lost = lost;
        stats.nacks_sent = nacks_sent;
        stats.nacks_received = nacks_received;
        stats.round_trip_time_ms = rtt.map(|seconds| (seconds * 1000.0).round() as u64);
        if let Some((at, bytes_in, bytes_out)) = entry.rate_sample {
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            if elapsed > 0.0 {
                stats.bitrate_in_bps =
                    ((stats.rtp_bytes_in - bytes_in) as f64 * 8.0 / elapsed) as u64;
                stats.bitrate_out_bps =
                    ((stats.rtp_bytes_out - bytes_out) as f64 * 8.0 / elapsed) as u64;
            }
        }
        entry.rate_sample = Some((now, stats.rtp_bytes_in, stats.rtp_bytes_out));
        Some(stats)
    }

    /// The peers of a room, in joining order.
    pub fn room_members(&self, room: RoomId) -> Option<Vec<PeerId>> {
        self.rooms.get(&room).map(|r| r.members.clone())
    }

    /// Source addresses learnt for one peer (ICE candidates it checks from).
    pub fn peer_addresses(&self, peer: PeerId) -> Option<usize> {
        self.peers.get(&peer).map(|entry| entry.addrs.len())
    }

    // ---- internals -------------------------------------------------------------------

    fn remove(&mut self, now: Instant, id: PeerId, reason: GoneReason) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        if self.holds.remove(&id).is_some() | self.metered.remove(&id) {
            self.refresh_media_due();
        }
        let _ = peer.pc.close();
        let _ = now;
        while let Some(out) = peer.pc.poll_write() {
            self.transmits.push_back(Transmit {
                to: out.transport.peer_addr,
                payload: out.message,
            });
        }
        if let Some(deadline) = peer.deadline {
            self.timers.remove(&(deadline, id));
        }
        self.by_ufrag.remove(&peer.ufrag);
        for addr in &peer.addrs {
            if self.by_addr.get(addr) == Some(&id) {
                self.by_addr.remove(addr);
            }
        }
        if let Some(room) = self.rooms.get_mut(&peer.room) {
            room.members.retain(|member| *member != id);
            for member in room.members.clone() {
                if let Some(other) = self.peers.get_mut(&member) {
                    for slot in other
                        .slots
                        .iter_mut()
                        .filter(|slot| slot.source == Some(id))
                    {
                        slot.source = None;
                    }
                }
            }
        }
        self.stats.peers = self.peers.len() as u64;
        self.events.push_back(MediaEvent::PeerGone {
            peer: id,
            room: peer.room,
            reason,
        });
    }
}
