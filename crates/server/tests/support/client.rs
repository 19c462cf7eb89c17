//! A WebRTC test client (the `webrtc` crate): publishes numbered RTP on an audio and a video
//! track, records every RTP packet it receives, counts keyframe requests, and reports its
//! connection state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState,
};

/// One RTP packet as a client received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub kind: RtpCodecKind,
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence: u16,
    pub payload: Bytes,
    pub at: Instant,
}

/// What a client observed, shared with its callbacks.
#[derive(Default)]
pub struct Observed {
    pub received: Vec<Received>,
    pub keyframe_requests: usize,
    pub state: Option<RTCPeerConnectionState>,
    pub gathered: bool,
}

#[derive(Clone)]
struct Handler {
    observed: Arc<StdMutex<Observed>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.observed.lock().unwrap().gathered = true;
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.observed.lock().unwrap().state = Some(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let observed = Arc::clone(&self.observed);
        tokio::spawn(async move {
            let kind = track.kind().await;
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    observed.lock().unwrap().received.push(Received {
                        kind,
                        ssrc: packet.header.ssrc,
                        payload_type: packet.header.payload_type,
                        sequence: packet.header.sequence_number,
                        payload: packet.payload.clone(),
                        at: Instant::now(),
                    });
                }
            }
        });
    }
}

/// Marks every inbound RTCP for the application, so local tracks see keyframe requests.
#[derive(Default)]
struct DeliverRtcp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// How a client offers.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Payload types the client registers for Opus and VP8 (browsers differ: 111/96 for
    /// Chrome, 109/120 for Firefox), so forwarding must translate them.
    pub opus_pt: u8,
    pub vp8_pt: u8,
    /// Publish an audio and a video track.
    pub publish: bool,
    /// Receive-only transceivers per kind (for a listen-only client).
    pub recvonly_pairs: usize,
    /// ICE keepalive interval of the client (consent checks).
    pub keepalive: Option<Duration>,
}

impl ClientSpec {
    pub fn publisher(opus_pt: u8, vp8_pt: u8) -> Self {
        Self {
            opus_pt,
            vp8_pt,
            publish: true,
            recvonly_pairs: 0,
            keepalive: None,
        }
    }
}

/// A running client.
pub struct Client {
    pub pc: Arc<dyn PeerConnection>,
    pub observed: Arc<StdMutex<Observed>>,
    pub audio: Option<Arc<TrackLocalStaticRTP>>,
    pub video: Option<Arc<TrackLocalStaticRTP>>,
    pub audio_ssrc: u32,
    pub video_ssrc: u32,
    spec: ClientSpec,
}

impl Client {
    /// Builds the client and its offer (complete with candidates).
    pub async fn new(spec: ClientSpec, seed: u32) -> (Self, String) {
        let mut media = MediaEngine::default();
        let opus = RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        };
        let vp8 = RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        };
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: opus.clone(),
                    payload_type: spec.opus_pt,
                },
                RtpCodecKind::Audio,
            )
            .unwrap();
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: vp8.clone(),
                    payload_type: spec.vp8_pt,
                },
                RtpCodecKind::Video,
            )
            .unwrap();
        let registry = Registry::new().with(Slot::from(14_000), DeliverRtcp::default());
        let registry = register_default_interceptors(registry, &mut media).unwrap();
        let mut settings = SettingEngineBuilder::new().with_include_loopback_candidate(true);
        if let Some(keepalive) = spec.keepalive {
            settings = settings.with_ice_timeouts(
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(60)),
                Some(keepalive),
            );
        }
        let observed = Arc::new(StdMutex::new(Observed::default()));
        let handler = Arc::new(Handler {
            observed: Arc::clone(&observed),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .unwrap();
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let audio_ssrc = 0x1000_0000 + seed;
        let video_ssrc = 0x2000_0000 + seed;
        let (mut audio, mut video) = (None, None);
        if spec.publish {
            let make = |kind: RtpCodecKind, ssrc: u32, codec: RTCRtpCodec| {
                Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                    format!("client-{seed}"),
                    format!("client-{seed}-{kind}"),
                    format!("client {seed} {kind}"),
                    kind,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec,
                        ..Default::default()
                    }],
                )))
            };
            let a = make(RtpCodecKind::Audio, audio_ssrc, opus);
            let v = make(RtpCodecKind::Video, video_ssrc, vp8);
            pc.add_track(Arc::clone(&a) as Arc<dyn TrackLocal>)
                .await
                .unwrap();
            pc.add_track(Arc::clone(&v) as Arc<dyn TrackLocal>)
                .await
                .unwrap();
            // Count keyframe requests arriving on the video track.
            let counted = Arc::clone(&observed);
            let watched = Arc::clone(&v);
            tokio::spawn(async move {
                while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = watched.poll().await {
                    let plis = packets
                        .iter()
                        .filter(|p| p.as_any().is::<PictureLossIndication>())
                        .count();
                    counted.lock().unwrap().keyframe_requests += plis;
                }
            });
            audio = Some(a);
            video = Some(v);
        }
        for _ in 0..spec.recvonly_pairs {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                pc.add_transceiver_from_kind(
                    kind,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        streams: vec![],
                        send_encodings: vec![],
                    }),
                )
                .await
                .unwrap();
            }
        }
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !observed.lock().unwrap().gathered {
            assert!(Instant::now() < deadline, "ICE gathering did not complete");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sdp = pc.local_description().await.unwrap().sdp;
        (
            Self {
                pc,
                observed,
                audio,
                video,
                audio_ssrc,
                video_ssrc,
                spec,
            },
            sdp,
        )
    }

    /// Applies the server's answer.
    pub async fn accept_answer(&self, sdp: String) {
        let answer = RTCSessionDescription::answer(sdp).unwrap();
        self.pc.set_remote_description(answer).await.unwrap();
    }

    /// Answers an offer the server made on the connected peer (a renegotiation).
    pub async fn answer_offer(&self, sdp: String) -> String {
        let offer = RTCSessionDescription::offer(sdp).unwrap();
        self.pc.set_remote_description(offer).await.unwrap();
        let answer = self.pc.create_answer(None).await.unwrap();
        self.pc.set_local_description(answer).await.unwrap();
        self.pc.local_description().await.unwrap().sdp
    }

    /// Waits until the client reports connected.
    pub async fn wait_connected(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.observed.lock().unwrap().state == Some(RTCPeerConnectionState::Connected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "client did not connect: {:?}",
                self.observed.lock().unwrap().state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends one numbered packet on each track. The payload names the client, the kind and
    /// the sequence number, so receivers can check it arrived intact.
    pub async fn send_numbered(&self, tag: &str, seq: u16) {
        if let Some(video) = &self.video {
            let packet = numbered(
                self.spec.vp8_pt,
                self.video_ssrc,
                seq,
                u32::from(seq) * 3000,
                &format!("{tag}-video-{seq}"),
                1000,
            );
            let _ = video.write_rtp(packet).await;
        }
        if let Some(audio) = &self.audio {
            let packet = numbered(
                self.spec.opus_pt,
                self.audio_ssrc,
                seq,
                u32::from(seq) * 960,
                &format!("{tag}-audio-{seq}"),
                120,
            );
            let _ = audio.write_rtp(packet).await;
        }
    }

    /// Packets received so far of `kind`.
    pub fn received(&self, kind: RtpCodecKind) -> Vec<Received> {
        self.observed
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect()
    }

    pub fn keyframe_requests(&self) -> usize {
        self.observed.lock().unwrap().keyframe_requests
    }
}

/// An RTP packet whose payload starts with `text` and is padded to `size` bytes.
pub fn numbered(pt: u8, ssrc: u32, seq: u16, ts: u32, text: &str, size: usize) -> rtc::rtp::Packet {
    let mut payload = text.as_bytes().to_vec();
    payload.push(0);
    payload.resize(size.max(payload.len()), 0xAB);
    rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            marker: true,
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}

/// The text a numbered payload starts with.
pub fn payload_text(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}
