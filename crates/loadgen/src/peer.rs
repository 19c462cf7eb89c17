//! A synthetic browser: a `webrtc`-crate peer connection that publishes an audio and a video
//! track of stamped payloads at fixed rates and measures what it receives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState,
};

use crate::stamp::{self, Stamp};

/// What a peer received, per stream (0 audio, 1 video).
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// One-way delays in microseconds.
    pub delays_us: Vec<u32>,
    /// Per stream: packets received, lowest and highest sequence number seen.
    pub streams: HashMap<u8, (u64, u32, u32)>,
    /// When the first packet arrived.
    pub first_at: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    received: Received,
    state: Option<RTCPeerConnectionState>,
    gathered: bool,
}

#[derive(Clone)]
struct Handler {
    shared: Arc<Mutex<Shared>>,
    epoch: Instant,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete
            && let Ok(mut shared) = self.shared.lock()
        {
            shared.gathered = true;
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.state = Some(state);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = Arc::clone(&self.shared);
        let epoch = self.epoch;
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else {
                    continue;
                };
                let Some(stamp) = stamp::decode(&packet.payload) else {
                    continue;
                };
                let now_ns = stamp::since(epoch);
                let Ok(mut shared) = shared.lock() else {
                    break;
                };
                let received = &mut shared.received;
                received.first_at.get_or_insert_with(Instant::now);
                let delay_us = now_ns.saturating_sub(stamp.sent_ns) / 1000;
                received
                    .delays_us
                    .push(u32::try_from(delay_us).unwrap_or(u32::MAX));
                let entry = received
                    .streams
                    .entry(stamp.stream)
                    .or_insert((0, stamp.seq, stamp.seq));
                entry.0 += 1;
                entry.1 = entry.1.min(stamp.seq);
                entry.2 = entry.2.max(stamp.seq);
            }
        });
    }
}

/// Rates and sizes of the synthetic media, per direction.
#[derive(Debug, Clone, Copy)]
pub struct MediaProfile {
    pub video_pps: u32,
    pub video_bytes: usize,
    pub audio_pps: u32,
    pub audio_bytes: usize,
}

impl Default for MediaProfile {
    /// About 1.2 Mbit/s of video in 110 packets/s and Opus-like audio at 50 packets/s.
    fn default() -> Self {
        Self {
            video_pps: 110,
            video_bytes: 1200,
            audio_pps: 50,
            audio_bytes: 120,
        }
    }
}

/// One synthetic browser.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Mutex<Shared>>,
    audio: Arc<TrackLocalStaticRTP>,
    video: Arc<TrackLocalStaticRTP>,
    audio_ssrc: u32,
    video_ssrc: u32,
    epoch: Instant,
}

fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

impl Peer {
    /// A peer bound to `bind_ip` that publishes audio and video; returns it with its offer.
    pub async fn new(
        bind_ip: &str,
        ssrc_base: u32,
        epoch: Instant,
    ) -> anyhow::Result<(Self, String)> {
        Self::build(bind_ip, ssrc_base, epoch, None).await
    }

    /// A peer bound to `bind_ip` that answers someone else's `offer` (the callee side of a
    /// server that relays the caller's offer, as Janus's `videocall` plugin does) and publishes
    /// the same audio and video; returns it with its answer, candidates included.
    pub async fn answer_offer(
        bind_ip: &str,
        ssrc_base: u32,
        epoch: Instant,
        offer: String,
    ) -> anyhow::Result<(Self, String)> {
        Self::build(bind_ip, ssrc_base, epoch, Some(offer)).await
    }

    /// Builds the peer connection, adds the two tracks and makes the local description: an
    /// offer, or the answer to `remote_offer`. Waits for ICE gathering so the description
    /// carries the candidates.
    async fn build(
        bind_ip: &str,
        ssrc_base: u32,
        epoch: Instant,
        remote_offer: Option<String>,
    ) -> anyhow::Result<(Self, String)> {
        let opus = codec(MIME_TYPE_OPUS, 48_000, 2, "minptime=10;useinbandfec=1");
        let vp8 = codec(MIME_TYPE_VP8, 90_000, 0, "");
        let mut media = MediaEngine::default();
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus.clone(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )?;
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: vp8.clone(),
                payload_type: 96,
            },
            RtpCodecKind::Video,
        )?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        let settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(true)
            .build();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Arc::new(Handler {
            shared: Arc::clone(&shared),
            epoch,
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![format!("{bind_ip}:0")])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        if let Some(offer) = &remote_offer {
            // The offer first: the tracks added next take over the transceivers it created.
            pc.set_remote_description(RTCSessionDescription::offer(offer.clone())?)
                .await?;
        }
        let track = |kind: RtpCodecKind, ssrc: u32, codec: RTCRtpCodec| {
            Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                format!("load-{ssrc_base}"),
                format!("load-{ssrc_base}-{kind}"),
                format!("load {kind}"),
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
        let audio_ssrc = ssrc_base.wrapping_mul(2).wrapping_add(1);
        let video_ssrc = ssrc_base.wrapping_mul(2).wrapping_add(2);
        let audio = track(RtpCodecKind::Audio, audio_ssrc, opus);
        let video = track(RtpCodecKind::Video, video_ssrc, vp8);
        pc.add_track(Arc::clone(&audio) as Arc<dyn TrackLocal>)
            .await?;
        pc.add_track(Arc::clone(&video) as Arc<dyn TrackLocal>)
            .await?;
        let local = match remote_offer {
            Some(_) => pc.create_answer(None).await?,
            None => pc.create_offer(None).await?,
        };
        pc.set_local_description(local).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if shared.lock().map(|s| s.gathered).unwrap_or(false) {
                break;
            }
            if Instant::now() > deadline {
                bail!("ICE gathering did not complete");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sdp = pc
            .local_description()
            .await
            .context("no local description")?
            .sdp;
        Ok((
            Self {
                pc,
                shared,
                audio,
                video,
                audio_ssrc,
                video_ssrc,
                epoch,
            },
            sdp,
        ))
    }

    /// Applies the server's answer.
    pub async fn answer(&self, sdp: String) -> anyhow::Result<()> {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp)?)
            .await?;
        Ok(())
    }

    /// Whether the peer connection is connected.
    pub fn connected(&self) -> bool {
        self.shared
            .lock()
            .map(|s| s.state == Some(RTCPeerConnectionState::Connected))
            .unwrap_or(false)
    }

    /// What arrived so far.
    pub fn received(&self) -> Received {
        self.shared
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// Sends media at the profile's rates until `until`; returns packets sent per stream.
    pub async fn send_until(&self, profile: MediaProfile, until: Instant) -> (u64, u64) {
        let video = send_stream(
            &self.video,
            1,
            self.video_ssrc,
            96,
            90_000,
            profile.video_pps,
            profile.video_bytes,
            until,
            self.epoch,
        );
        let audio = send_stream(
            &self.audio,
            0,
            self.audio_ssrc,
            111,
            48_000,
            profile.audio_pps,
            profile.audio_bytes,
            until,
            self.epoch,
        );
        let (video_sent, audio_sent) = tokio::join!(video, audio);
        (audio_sent, video_sent)
    }

    /// Closes the peer connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_stream(
    track: &TrackLocalStaticRTP,
    stream: u8,
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    pps: u32,
    bytes: usize,
    until: Instant,
    epoch: Instant,
) -> u64 {
    let period = Duration::from_secs_f64(1.0 / f64::from(pps.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq: u32 = 0;
    let started = Instant::now();
    while Instant::now() < until {
        ticker.tick().await;
        let payload = stamp::encode(
            Stamp {
                stream,
                seq,
                sent_ns: stamp::since(epoch),
            },
            bytes,
        );
        let ticks = (started.elapsed().as_secs_f64() * f64::from(clock_rate)) as u32;
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type,
                sequence_number: seq as u16,
                timestamp: ticks,
                ssrc,
                marker: true,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        if track.write_rtp(packet).await.is_err() {
            break;
        }
        seq += 1;
    }
    u64::from(seq)
}
