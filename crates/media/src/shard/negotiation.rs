//! Negotiation: a participant's offer answered (its ICE credentials, receive slots and host
//! candidates), trickled candidates, the SSRCs of the shard's senders.

use super::*;

impl Shard {
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

        // Receive slots: one audio and one video sender each, negotiated now and bound to a
        // publisher by `subscribe`.
        let mut slots = Vec::with_capacity(spec.receive_slots);
        for index in 0..spec.receive_slots {
            let stream = format!("relais-slot-{index}");
            let audio = self.add_leg(&mut pc, &stream, index, MediaKind::Audio)?;
            let video = self.add_leg(&mut pc, &stream, index, MediaKind::Video)?;
            slots.push(ReceiveSlot {
                source: None,
                kinds: MediaKinds::BOTH,
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
            meter: None,
        };
        self.peers.insert(id, peer);
        self.by_ufrag.insert(ufrag, id);
        if let Some(room) = self.rooms.get_mut(&room) {
            room.members.push(id);
        }
        self.stats.peers = self.peers.len() as u64;
        self.stats.rooms = self.rooms.len() as u64;
        self.service(now, id);
        Ok((id, answer_sdp))
    }

    /// Gives a connected peer `more` receive slots by a new negotiation that the server
    /// offers: returns the SDP offer to send to the client, whose answer goes to
    /// [`Shard::accept_answer`]. The peer keeps its ICE and DTLS session and the slots it has;
    /// the new slots are free until subscribed.
    pub fn add_receive_slots(
        &mut self,
        now: Instant,
        peer: PeerId,
        more: usize,
    ) -> Result<String, MediaError> {
        let mut state = self
            .peers
            .remove(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        let result = self.offer_slots(now, &mut state, more);
        self.peers.insert(peer, state);
        let offer = result?;
        self.flush(now, peer);
        Ok(offer)
    }

    fn offer_slots(
        &mut self,
        now: Instant,
        peer: &mut Peer,
        more: usize,
    ) -> Result<String, MediaError> {
        let first = peer.slots.len();
        let mut slots = Vec::with_capacity(more);
        for index in first..first + more {
            let stream = format!("relais-slot-{index}");
            let audio = self.add_leg(&mut peer.pc, &stream, index, MediaKind::Audio)?;
            let video = self.add_leg(&mut peer.pc, &stream, index, MediaKind::Video)?;
            slots.push(ReceiveSlot {
                source: None,
                kinds: MediaKinds::BOTH,
                audio,
                video,
            });
        }
        let offer = peer
            .pc
            .create_offer(None)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        peer.pc
            .set_local_description(now, offer)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        let sdp = peer
            .pc
            .local_description()
            .map(|desc| desc.sdp.clone())
            .ok_or_else(|| MediaError::Sdp("the engine produced no offer".into()))?;
        peer.slots.extend(slots);
        Ok(sdp)
    }

    /// The client's SDP answer to an offer of [`Shard::add_receive_slots`].
    pub fn accept_answer(
        &mut self,
        now: Instant,
        peer: PeerId,
        answer_sdp: &str,
    ) -> Result<(), MediaError> {
        let state = self
            .peers
            .get_mut(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        let answer = RTCSessionDescription::answer(answer_sdp.to_owned())
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        state
            .pc
            .set_remote_description(now, answer)
            .map_err(|err| MediaError::Sdp(err.to_string()))?;
        self.service(now, peer);
        Ok(())
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

    /// ICE credentials of a new peer: a ufrag that names the peer (unique on the shard) and a
    /// password derived from the shard's secret seed (HMAC-SHA256), so it cannot be guessed.
    pub(super) fn credentials(&self, id: PeerId) -> (String, String) {
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

    pub(super) fn next_ssrc(&mut self) -> u32 {
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

    pub(super) fn add_leg(
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
}

pub(super) fn radix36(mut value: u64) -> String {
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
