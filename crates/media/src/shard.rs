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
use crate::room::{JoinSpec, Room};
use crate::stats::{PeerStats, ShardStats};
use crate::stun;
use crate::tap::Liveness;
use crate::{GoneReason, MediaError, MediaEvent, MediaKind, PeerId, RoomId, ShardConfig, Transmit};

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

    /// Adds a participant to `room` from its SDP offer; returns its id and the SDP answer.
    pub fn join(
        &mut self,
        now: Instant,
        room: RoomId,
        spec: &JoinSpec,
        offer_sdp: &str,
    ) -> Result<(PeerId, String), MediaError> {
        if !self.rooms.contains_key(&room) {
            return Err(MediaError::UnknownRoom(room));
        }
        let id = PeerId(self.next_peer);
        let (ufrag, pwd) = self.credentials(id);
        let liveness = Liveness::default();
        let mut pc =
            engine::new_peer_connection(now, &ufrag, &pwd, &self.certificate, liveness.clone())?;

        // Receive slots: one audio and one video sender each, negotiated now. Slots are bound
        // to publishers already in the room, in joining order.
        let publishers: Vec<(PeerId, String)> = self.rooms[&room]
            .members
            .iter()
            .filter_map(|member| self.peers.get(member))
            .filter(|member| member.publish)
            .map(|member| (member.id, member.label.clone()))
            .collect();
        let mut slots = Vec::with_capacity(spec.receive_slots);
        for index in 0..spec.receive_slots {
            let source = publishers.get(index).map(|(id, _)| *id);
            let stream = match publishers.get(index) {
                Some((_, label)) => label.clone(),
                None => format!("relais-slot-{index}"),
            };
            let audio = self.add_leg(&mut pc, &stream, index, MediaKind::Audio)?;
            let video = self.add_leg(&mut pc, &stream, index, MediaKind::Video)?;
            slots.push(ReceiveSlot {
                source,
                audio,
                video,
            });
        }

        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        pc.set_remote_description(now, offer)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        for addr in &self.config.advertised {
            let candidate = CandidateHostConfig {
                base_config: CandidateConfig {
                    network: "udp".to_owned(),
                    address: addr.ip().to_string(),
                    port: addr.port(),
                    component: 1,
                    ..Default::default()
                },
                ..Default::default()
            }
            .new_candidate_host()
            .map_err(|err| MediaError::Engine(err.to_string()))?;
            let init = RTCIceCandidate::from(&candidate)
                .to_json()
                .map_err(|err| MediaError::Engine(err.to_string()))?;
            pc.add_local_candidate(init)?;
        }
        let answer = pc
            .create_answer(None)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        pc.set_local_description(now, answer)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        let answer_sdp = pc
            .local_description()
            .map(|desc| desc.sdp.clone())
            .ok_or_else(|| MediaError::Sdp("the engine produced no answer".into()))?;

        self.next_peer += 1;
        let peer = Peer {
            id,
            room,
            label: spec.label.clone(),
            pc,
            ufrag: ufrag.clone(),
            pwd: pwd.clone(),
            liveness,
            seen: 0,
            created_at: now,
            last_alive: now,
            connected: false,
            publish: spec.publish,
            addrs: Vec::new(),
            slots,
            inbound: std::collections::BTreeMap::new(),
            receivers: HashMap::new(),
            stats: PeerStats::default(),
            deadline: None,
            keyframes_asked: false,
            rate_sample: None,
        };
        self.peers.insert(id, peer);
        self.by_ufrag.insert(ufrag, id);
        let members = self.rooms.get_mut(&room).map(|room| {
            room.members.push(id);
            room.members.clone()
        });
        // A new publisher takes a free slot of everyone already there.
        if spec.publish {
            for member in members.into_iter().flatten().filter(|m| *m != id) {
                if let Some(subscriber) = self.peers.get_mut(&member)
                    && let Some(slot) = subscriber
                        .slots
                        .iter_mut()
                        .find(|slot| slot.source.is_none())
                {
                    slot.source = Some(id);
                }
            }
        }
        self.stats.peers = self.peers.len() as u64;
        self.stats.rooms = self.rooms.len() as u64;
        self.service(now, id);
        Ok((id, answer_sdp))
    }

    /// Adds a trickled ICE candidate of the remote side (optional with an ICE-lite server:
    /// peer-reflexive candidates are learnt from the checks themselves).
    pub fn add_remote_candidate(
        &mut self,
        peer: PeerId,
        candidate: &str,
    ) -> Result<(), MediaError> {
        let entry = self
            .peers
            .get_mut(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        entry.pc.add_remote_candidate(RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            ..Default::default()
        })?;
        Ok(())
    }

    /// Removes a participant (it hung up or left).
    pub fn remove_peer(&mut self, now: Instant, peer: PeerId) -> Result<(), MediaError> {
        if !self.peers.contains_key(&peer) {
            return Err(MediaError::UnknownPeer(peer));
        }
        self.remove(now, peer, GoneReason::Removed);
        Ok(())
    }

    /// One datagram from the socket. Never fails: what cannot be routed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: BytesMut) {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        let mut is_check = false;
        let id = match self.by_addr.get(&from) {
            Some(id) => *id,
            None => {
                let routed = stun::binding_request_local_ufrag(&data)
                    .and_then(|ufrag| self.by_ufrag.get(ufrag).copied());
                match routed {
                    Some(id) => {
                        // Learn the address only from a check that proves it knows the peer's
                        // password; a forged check leaves nothing behind.
                        let Some(peer) = self.peers.get_mut(&id) else {
                            self.stats.dropped_unknown += 1;
                            return;
                        };
                        if !stun::has_valid_integrity(&data, &peer.pwd) {
                            self.stats.dropped_unknown += 1;
                            tracing::trace!(%from, "binding request failed integrity: dropped");
                            return;
                        }
                        is_check = true;
                        if peer.addrs.len() >= MAX_ADDRS_PER_PEER {
                            // The oldest address gives way (a client that changed network).
                            let oldest = peer.addrs.remove(0);
                            if self.by_addr.get(&oldest) == Some(&id) {
                                self.by_addr.remove(&oldest);
                            }
                        }
                        peer.addrs.push(from);
                        self.by_addr.insert(from, id);
                        id
                    }
                    None => {
                        self.stats.dropped_unknown += 1;
                        tracing::trace!(%from, "datagram from an unknown source dropped");
                        return;
                    }
                }
            }
        };
        let local = self.stamp_for(from);
        let Some(peer) = self.peers.get_mut(&id) else {
            self.stats.dropped_unknown += 1;
            return;
        };
        // Only an authenticated check counts as a sign of life.
        is_check =
            is_check || (stun::is_stun(&data) && stun::has_valid_integrity(&data, &peer.pwd));
        let message = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: data,
        };
        // The engine logs and swallows what it cannot authenticate or parse.
        let _ = peer.pc.handle_read(message);
        let count = peer.liveness.count();
        if count > peer.seen || is_check {
            peer.stats.authenticated_packets += count - peer.seen;
            peer.seen = count;
            peer.last_alive = now;
        }
        self.service(now, id);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(due, id)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, id));
            let consent_timeout = self.config.consent_timeout;
            let setup_timeout = self.config.setup_timeout;
            let keyframe_interval = self.config.keyframe_min_interval;
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            peer.deadline = None;
            if peer.connected && now.saturating_duration_since(peer.last_alive) >= consent_timeout {
                self.stats.consent_expired += 1;
                self.remove(now, id, GoneReason::ConsentExpired);
                continue;
            }
            if !peer.connected && now.saturating_duration_since(peer.created_at) >= setup_timeout {
                self.remove(now, id, GoneReason::SetupTimeout);
                continue;
            }
            let _ = peer.pc.handle_timeout(now);
            let due_keyframes: Vec<u32> = peer
                .inbound
                .iter_mut()
                .filter_map(|(ssrc, inbound)| {
                    inbound
                        .keyframe
                        .poll(now, keyframe_interval)
                        .then_some(*ssrc)
                })
                .collect();
            for ssrc in due_keyframes {
                send_pli(now, peer, ssrc);
            }
            self.service(now, id);
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.transmits.pop_front()?;
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += transmit.payload.len() as u64;
        Some(transmit)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`Shard::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
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

    /// ICE credentials of a new peer: a ufrag that names the peer (unique on the shard) and a
    /// password derived from the shard's secret seed (HMAC-SHA256), so it cannot be guessed.
    fn credentials(&self, id: PeerId) -> (String, String) {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.config.credential_seed);
        let tag = ring::hmac::sign(&key, &id.0.to_be_bytes());
        let bytes = tag.as_ref();
        let mut pwd = String::with_capacity(32);
        for byte in &bytes[..16] {
            pwd.push_str(&format!("{byte:02x}"));
        }
        let ufrag = format!("r{}{:02x}{:02x}", radix36(id.0), bytes[16], bytes[17]);
        (ufrag, pwd)
    }

    fn next_ssrc(&mut self) -> u32 {
        loop {
            self.ssrc_counter += 1;
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.config.credential_seed);
            let tag = ring::hmac::sign(
                &key,
                &[b"ssrc".as_slice(), &self.ssrc_counter.to_be_bytes()].concat(),
            );
            let bytes = tag.as_ref();
            let ssrc = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if ssrc != 0 {
                return ssrc;
            }
        }
    }

    fn add_leg(
        &mut self,
        pc: &mut rtc::peer_connection::RTCPeerConnection,
        stream: &str,
        index: usize,
        kind: MediaKind,
    ) -> Result<Leg, MediaError> {
        let ssrc = self.next_ssrc();
        let (engine_kind, codec, name, clock) = match kind {
            MediaKind::Audio => (RtpCodecKind::Audio, engine::opus(), "audio", 48_000),
            MediaKind::Video => (RtpCodecKind::Video, engine::vp8(), "video", 90_000),
        };
        let track = MediaStreamTrack::new(
            stream.to_owned(),
            format!("relais-{index}-{name}"),
            format!("{stream} {name}"),
            engine_kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track)?;
        Ok(Leg {
            sender,
            ssrc,
            negotiated: None,
            rewriter: SeqTsRewriter::new(clock),
        })
    }

    /// The local address the engine expects on datagrams from `from`: the advertised address
    /// of the same family.
    fn stamp_for(&self, from: SocketAddr) -> SocketAddr {
        self.config
            .advertised
            .iter()
            .find(|addr| addr.is_ipv4() == from.is_ipv4())
            .or_else(|| self.config.advertised.first())
            .copied()
            .unwrap_or(from)
    }

    /// Drains a peer's engine after input: events, media to forward, datagrams to send; then
    /// re-arms its timer.
    fn service(&mut self, now: Instant, id: PeerId) {
        let mut dirty: Vec<PeerId> = vec![id];
        let mut gone: Option<GoneReason> = None;
        loop {
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let mut progressed = false;
            while let Some(event) = peer.pc.poll_event() {
                progressed = true;
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                        RTCPeerConnectionState::Connected if !peer.connected => {
                            peer.connected = true;
                            peer.stats.connected = true;
                            peer.last_alive = now;
                            self.events.push_back(MediaEvent::PeerConnected {
                                peer: id,
                                room: peer.room,
                            });
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            gone = Some(GoneReason::Failed);
                        }
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        peer.receivers.insert(init.track_id, init.receiver_id);
                    }
                    _ => {}
                }
            }
            if peer.connected && !peer.slots.is_empty() && !peer.keyframes_asked {
                peer.keyframes_asked = true;
                let sources: Vec<PeerId> =
                    peer.slots.iter().filter_map(|slot| slot.source).collect();
                for source in sources {
                    self.request_keyframe(now, source, &mut dirty);
                }
            }
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let mut messages = Vec::new();
            while let Some(TaggedRTCMessage { message, .. }) = peer.pc.poll_read() {
                messages.push(message);
            }
            progressed |= !messages.is_empty();
            for message in messages {
                match message {
                    RTCMessage::RtpPacket(track_id, packet) => {
                        self.forward(now, id, &track_id, packet, &mut dirty)
                    }
                    RTCMessage::RtcpPacket(_, packets) => {
                        self.relay_keyframe_requests(now, id, &packets, &mut dirty)
                    }
                    _ => {}
                }
            }
            if !progressed {
                break;
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        for peer_id in dirty {
            self.flush(now, peer_id);
        }
        if let Some(reason) = gone {
            self.remove(now, id, reason);
        }
    }

    /// Moves a peer's outgoing datagrams to the transmit queue and re-arms its timer.
    fn flush(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        while let Some(out) = peer.pc.poll_write() {
            self.transmits.push_back(Transmit {
                to: out.transport.peer_addr,
                payload: out.message,
            });
        }
        let liveness_due = if peer.connected {
            peer.last_alive + self.config.consent_timeout
        } else {
            peer.created_at + self.config.setup_timeout
        };
        let mut due = liveness_due;
        if let Some(engine_due) = peer.pc.poll_timeout() {
            due = due.min(engine_due);
        }
        for inbound in peer.inbound.values() {
            if let Some(keyframe_due) = inbound.keyframe.deadline(self.config.keyframe_min_interval)
            {
                due = due.min(keyframe_due);
            }
        }
        let due = due.max(now + MIN_TIMER_STEP);
        if peer.deadline != Some(due) {
            if let Some(old) = peer.deadline.take() {
                self.timers.remove(&(old, id));
            }
            peer.deadline = Some(due);
            self.timers.insert((due, id));
        }
    }

    /// Forwards one RTP packet published by `from` to every subscriber bound to it.
    fn forward(
        &mut self,
        now: Instant,
        from: PeerId,
        track_id: &str,
        packet: rtc::rtp::Packet,
        dirty: &mut Vec<PeerId>,
    ) {
        let ssrc = packet.header.ssrc;
        let size = (packet.payload.len() + 12) as u64;
        let Some(publisher) = self.peers.get_mut(&from) else {
            return;
        };
        if !publisher.publish {
            return;
        }
        publisher.stats.rtp_in += 1;
        publisher.stats.rtp_bytes_in += size;
        if !publisher.inbound.contains_key(&ssrc) {
            let Some(receiver_id) = publisher.receivers.get(track_id).copied() else {
                return;
            };
            let Some(mut receiver) = publisher.pc.rtp_receiver(receiver_id) else {
                return;
            };
            let kind = match receiver.track().kind() {
                RtpCodecKind::Video => MediaKind::Video,
                _ => MediaKind::Audio,
            };
            let negotiated = Arc::new(negotiated_from(&receiver.get_parameters().rtp_parameters));
            publisher.inbound.insert(
                ssrc,
                Inbound {
                    kind,
                    receiver: receiver_id,
                    negotiated,
                    keyframe: KeyframeGate::default(),
                },
            );
            self.events.push_back(MediaEvent::TrackPublished {
                peer: from,
                room: publisher.room,
                kind,
            });
        }
        let Some(inbound) = publisher.inbound.get(&ssrc) else {
            return;
        };
        let kind = inbound.kind;
        let from_negotiated = Arc::clone(&inbound.negotiated);
        let room = publisher.room;
        // Borrow the room's member list in place: no copy per packet.
        let Some(members) = self.rooms.get(&room).map(|r| &r.members) else {
            return;
        };
        for &member in members {
            if member == from {
                continue;
            }
            let Some(subscriber) = self.peers.get_mut(&member) else {
                continue;
            };
            if !subscriber.connected {
                continue;
            }
            let Some(slot) = subscriber
                .slots
                .iter_mut()
                .find(|slot| slot.source == Some(from))
            else {
                continue;
            };
            let leg = slot.leg_mut(kind);
            if leg.negotiated.is_none() {
                let Some(mut sender) = subscriber.pc.rtp_sender(leg.sender) else {
                    continue;
                };
                leg.negotiated = Some(negotiated_from(&sender.get_parameters().rtp_parameters));
            }
            let Some(to_negotiated) = leg.negotiated.as_ref() else {
                continue;
            };
            let mut out = packet.clone();
            if !translate_header(
                &mut out.header,
                &from_negotiated,
                to_negotiated,
                leg.ssrc,
                &self.forwarded_extensions,
            ) {
                subscriber.stats.forward_failures += 1;
                continue;
            }
            let (seq, ts) =
                leg.rewriter
                    .rewrite(now, ssrc, out.header.sequence_number, out.header.timestamp);
            out.header.sequence_number = seq;
            out.header.timestamp = ts;
            let sender_id = leg.sender;
            let written = subscriber
                .pc
                .rtp_sender(sender_id)
                .map(|mut sender| sender.write_rtp(now, out).is_ok())
                .unwrap_or(false);
            if written {
                subscriber.stats.rtp_out += 1;
                subscriber.stats.rtp_bytes_out += size;
                self.stats.rtp_forwarded += 1;
                dirty.push(member);
            } else {
                subscriber.stats.forward_failures += 1;
            }
        }
    }

    /// A subscriber asked for a keyframe (PLI or FIR): pass it on to the publisher behind the
    /// stream, throttled.
    fn relay_keyframe_requests(
        &mut self,
        now: Instant,
        subscriber: PeerId,
        packets: &[Box<dyn rtc::rtcp::packet::Packet>],
        dirty: &mut Vec<PeerId>,
    ) {
        let mut media_ssrcs: Vec<u32> = Vec::new();
        for packet in packets {
            let any = packet.as_any();
            if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                media_ssrcs.push(pli.media_ssrc);
            } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                media_ssrcs.extend(fir.fir.iter().map(|entry| entry.ssrc));
                media_ssrcs.push(fir.media_ssrc);
            }
        }
        let Some(peer) = self.peers.get_mut(&subscriber) else {
            return;
        };
        let mut sources = Vec::new();
        for ssrc in media_ssrcs {
            if let Some(slot) = peer.slots.iter().find(|slot| slot.video.ssrc == ssrc)
                && let Some(source) = slot.source
            {
                peer.stats.keyframe_requests_received += 1;
                sources.push(source);
            }
        }
        sources.sort_unstable();
        sources.dedup();
        for source in sources {
            self.request_keyframe(now, source, dirty);
        }
    }

    /// Asks `publisher` for a keyframe on each of its video streams (throttled per stream).
    fn request_keyframe(&mut self, now: Instant, publisher: PeerId, dirty: &mut Vec<PeerId>) {
        let interval = self.config.keyframe_min_interval;
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let due: Vec<u32> = peer
            .inbound
            .iter_mut()
            .filter(|(_, inbound)| inbound.kind == MediaKind::Video)
            .filter_map(|(ssrc, inbound)| inbound.keyframe.request(now, interval).then_some(*ssrc))
            .collect();
        for ssrc in due {
            send_pli(now, peer, ssrc);
        }
        dirty.push(publisher);
    }

    fn remove(&mut self, now: Instant, id: PeerId, reason: GoneReason) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
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

fn send_pli(now: Instant, peer: &mut Peer, media_ssrc: u32) {
    let Some(inbound) = peer.inbound.get(&media_ssrc) else {
        return;
    };
    let receiver_id = inbound.receiver;
    if let Some(mut receiver) = peer.pc.rtp_receiver(receiver_id) {
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        if receiver.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
            peer.stats.keyframe_requests_sent += 1;
        }
    }
}

fn radix36(mut value: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}
