//! Virtual time for the media core: in-memory `rtc` client peers wired to a shard by a
//! `progress` loop that moves datagrams both ways and fires both sides' timers, so a
//! connection, a silence of 30 s or a keyframe throttle takes microseconds and no socket.
#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)] // virtual time starts at a real instant

pub mod forge;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use relais_media::{
    BytesMut, DtlsCertificate, JoinSpec, MediaEvent, PeerId, RoomId, Shard, ShardConfig,
};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

pub const SERVER: &str = "10.0.0.1:40000";

/// A shard announcing [`SERVER`], with one room.
pub fn shard(room: RoomId) -> Shard {
    let mut shard = Shard::new(ShardConfig::new(
        vec![SERVER.parse().unwrap()],
        [11; 32],
        DtlsCertificate::generate().unwrap(),
    ))
    .unwrap();
    shard.create_room(room).unwrap();
    shard
}

/// A browser-like peer in memory: sends and receives audio and video.
pub struct TestClient {
    pub pc: RTCPeerConnection,
    pub addr: SocketAddr,
    pub state: RTCPeerConnectionState,
    /// Whether its datagrams reach the shard (false: a network cut).
    pub online: bool,
    pub audio: RTCRtpSenderId,
    pub video: RTCRtpSenderId,
    pub audio_ssrc: u32,
    pub video_ssrc: u32,
    /// RTP received: (kind, ssrc, sequence number).
    pub received: Vec<(RtpCodecKind, u32, u16)>,
    seq: u16,
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
    }
}

impl TestClient {
    /// A client at `addr` with its offer (host candidate included).
    pub fn new(now: Instant, addr: SocketAddr, seed: u32) -> (Self, String) {
        let mut media = MediaEngine::default();
        media.register_default_codecs().unwrap();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_media_engine(media)
            .build(now)
            .unwrap();
        let mut track = |kind: RtpCodecKind, ssrc: u32, name: &str| {
            let track = MediaStreamTrack::new(
                format!("client-{seed}"),
                format!("client-{seed}-{name}"),
                name.to_owned(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: codec(kind),
                    ..Default::default()
                }],
            );
            pc.add_track(track).unwrap()
        };
        let (audio_ssrc, video_ssrc) = (seed * 10 + 1, seed * 10 + 2);
        let audio = track(RtpCodecKind::Audio, audio_ssrc, "audio");
        let video = track(RtpCodecKind::Video, video_ssrc, "video");
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
        .unwrap();
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(now, offer).unwrap();
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().unwrap())
            .unwrap();
        let sdp = pc.local_description().unwrap().sdp.clone();
        (
            Self {
                pc,
                addr,
                state: RTCPeerConnectionState::New,
                online: true,
                audio,
                video,
                audio_ssrc,
                video_ssrc,
                received: Vec::new(),
                seq: 0,
            },
            sdp,
        )
    }

    pub fn accept(&mut self, now: Instant, answer: &str) {
        let answer = RTCSessionDescription::answer(answer.to_owned()).unwrap();
        self.pc.set_remote_description(now, answer).unwrap();
    }

    /// Answers an offer the server made (a renegotiation).
    pub fn answer_offer(&mut self, now: Instant, offer: &str) -> String {
        let offer = RTCSessionDescription::offer(offer.to_owned()).unwrap();
        self.pc.set_remote_description(now, offer).unwrap();
        let answer = self.pc.create_answer(None).unwrap();
        self.pc.set_local_description(now, answer).unwrap();
        self.pc.local_description().unwrap().sdp.clone()
    }

    /// One RTP packet on each of its tracks.
    pub fn send(&mut self, now: Instant) {
        self.seq = self.seq.wrapping_add(1);
        for (sender, ssrc, pt, step) in [
            (self.audio, self.audio_ssrc, 111u8, 960u32),
            (self.video, self.video_ssrc, 96, 3000),
        ] {
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: self.seq,
                    timestamp: u32::from(self.seq) * step,
                    ssrc,
                    ..Default::default()
                },
                payload: bytes::Bytes::from_static(&[0x90, 0x80, 0x00, 0x00, 0x9d, 0x01, 0x2a]),
            };
            if let Some(mut sender) = self.pc.rtp_sender(sender) {
                let _ = sender.write_rtp(now, packet);
            }
        }
    }

    /// Asks for a keyframe of the video stream `ssrc` it receives.
    pub fn request_keyframe(&mut self, now: Instant, ssrc: u32) {
        let receivers: Vec<_> = self.pc.get_receivers().collect();
        for id in receivers {
            if let Some(mut receiver) = self.pc.rtp_receiver(id) {
                let pli = PictureLossIndication {
                    sender_ssrc: self.video_ssrc,
                    media_ssrc: ssrc,
                };
                if receiver.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
                    return;
                }
            }
        }
    }

    pub fn connected(&self) -> bool {
        self.state == RTCPeerConnectionState::Connected
    }

    /// The distinct SSRCs it received RTP on, of `kind`.
    pub fn sources(&self, kind: RtpCodecKind) -> Vec<u32> {
        let mut ssrcs: Vec<u32> = self
            .received
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, ssrc, _)| *ssrc)
            .collect();
        ssrcs.sort_unstable();
        ssrcs.dedup();
        ssrcs
    }

    fn drain(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.state = state;
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message {
                // The default codecs of the client's engine: Opus is 111, VP8 96.
                let kind = if packet.header.payload_type == 111 {
                    RtpCodecKind::Audio
                } else {
                    RtpCodecKind::Video
                };
                self.received
                    .push((kind, packet.header.ssrc, packet.header.sequence_number));
            }
        }
    }
}

/// The shard and its clients in one virtual clock.
pub struct World {
    pub shard: Shard,
    pub clients: Vec<TestClient>,
    pub now: Instant,
    pub events: Vec<MediaEvent>,
    pub room: RoomId,
}

impl World {
    pub fn new() -> Self {
        let room = RoomId(1);
        Self {
            shard: shard(room),
            clients: Vec::new(),
            now: Instant::now(),
            events: Vec::new(),
            room,
        }
    }

    /// A client joins the room as `spec`: its index and peer id.
    pub fn join(&mut self, spec: &JoinSpec) -> (usize, PeerId) {
        let index = self.clients.len();
        let addr: SocketAddr = format!("10.0.1.{}:5000", index + 2).parse().unwrap();
        let (mut client, offer) = TestClient::new(self.now, addr, index as u32 + 1);
        let (peer, answer) = self.shard.join(self.now, self.room, spec, &offer).unwrap();
        client.accept(self.now, &answer);
        self.clients.push(client);
        self.progress();
        (index, peer)
    }

    /// Moves every datagram until both sides are quiet.
    pub fn progress(&mut self) {
        let server: SocketAddr = SERVER.parse().unwrap();
        for _ in 0..10_000 {
            let mut moved = false;
            for client in &mut self.clients {
                client.drain();
                while let Some(out) = client.pc.poll_write() {
                    moved = true;
                    if client.online {
                        self.shard.handle_datagram(
                            self.now,
                            client.addr,
                            BytesMut::from(&out.message[..]),
                        );
                    }
                }
            }
            while let Some(transmit) = self.shard.poll_transmit() {
                moved = true;
                if let Some(client) = self
                    .clients
                    .iter_mut()
                    .find(|c| c.addr == transmit.to && c.online)
                {
                    let _ = client.pc.handle_read(TaggedBytesMut {
                        now: self.now,
                        transport: TransportContext {
                            local_addr: client.addr,
                            peer_addr: server,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: transmit.payload,
                    });
                }
            }
            while let Some(event) = self.shard.poll_event() {
                self.events.push(event);
            }
            if !moved {
                for client in &mut self.clients {
                    client.drain();
                }
                return;
            }
        }
        panic!("the shard and its clients never went quiet");
    }

    /// Moves time on to `now + by`, firing every timer on the way at its instant.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = self
                .clients
                .iter_mut()
                .filter_map(|c| c.pc.poll_timeout())
                .chain(self.shard.poll_timeout())
                .min();
            let at = match next {
                Some(at) if at <= target => at.max(self.now),
                _ => break,
            };
            // Timers never move time backwards, and always move it forward a little.
            self.now = at.max(self.now + Duration::from_micros(100)).min(target);
            for client in &mut self.clients {
                let _ = client.pc.handle_timeout(self.now);
            }
            self.shard.handle_timeout(self.now);
            self.progress();
            if self.now >= target {
                break;
            }
        }
        self.now = target;
        for client in &mut self.clients {
            let _ = client.pc.handle_timeout(self.now);
        }
        self.shard.handle_timeout(self.now);
        self.progress();
    }

    /// Advances in `step`s until every client is connected (at most `limit`).
    pub fn connect_all(&mut self, limit: Duration) {
        let deadline = self.now + limit;
        while !self.clients.iter().all(TestClient::connected) {
            assert!(
                self.now < deadline,
                "clients never connected: {:?}",
                self.clients.iter().map(|c| c.state).collect::<Vec<_>>()
            );
            self.advance(Duration::from_millis(20));
        }
    }

    /// Every client sends one packet per track, every 20 ms, `count` times.
    pub fn exchange(&mut self, senders: &[usize], count: usize) {
        for _ in 0..count {
            for &index in senders {
                let now = self.now;
                self.clients[index].send(now);
            }
            self.advance(Duration::from_millis(20));
        }
    }

    pub fn gone(&self, peer: PeerId) -> Option<relais_media::GoneReason> {
        self.events.iter().find_map(|event| match event {
            MediaEvent::PeerGone {
                peer: p, reason, ..
            } if *p == peer => Some(*reason),
            _ => None,
        })
    }
}
