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
    /// Per stream: interarrival jitter.
    pub jitter: HashMap<u8, stamp::Jitter>,
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
                received
                    .jitter
                    .entry(stamp.stream)
                    .or_default()
                    .update(stamp.sent_ns, now_ns);
            }
        });
    }
}

/// Rates and sizes of the synthetic media, per direction.
#[derive(Debug, Clone, Copy)]
pub struct MediaProfile {
    /// Average video packets per second (keyframes included).
    pub video_pps: u32,
    pub video_bytes: usize,
    /// Video frames per second: each frame's packets leave together, as from an encoder.
    pub video_fps: u32,
    /// A keyframe every this many frames (0: none), `keyframe_scale` times a delta frame.
    pub keyframe_every_frames: u32,
    pub keyframe_scale: u32,
    pub audio_pps: u32,
    pub audio_bytes: usize,
}

/// How many packets each video frame carries so that the average is `pps`: frame `k` is a
/// keyframe when `k % every == 0` and then `scale` times larger than a delta frame; the
/// fractions carry over from frame to frame.
#[derive(Debug, Clone)]
pub struct FrameSchedule {
    delta: f64,
    scale: f64,
    every: u32,
    frame: u32,
    carry: f64,
}

impl FrameSchedule {
    pub fn new(pps: u32, fps: u32, every: u32, scale: u32) -> Self {
        let fps = f64::from(fps.max(1));
        let (every_f, scale_f) = if every == 0 {
            (1.0, 1.0)
        } else {
            (f64::from(every), f64::from(scale.max(1)))
        };
        // Per period of `every` frames: (every − 1) delta frames and one keyframe.
        let delta = f64::from(pps) * every_f / (fps * (every_f - 1.0 + scale_f));
        Self {
            delta,
            scale: scale_f,
            every,
            frame: 0,
            carry: 0.0,
        }
    }

    /// The next frame: whether it is a keyframe, and its packet count.
    pub fn next_frame(&mut self) -> (bool, u32) {
        let key = self.every != 0 && self.frame.is_multiple_of(self.every);
        self.frame = self.frame.wrapping_add(1);
        self.carry += if key {
            self.delta * self.scale
        } else {
            self.delta
        };
        let packets = self.carry.floor();
        self.carry -= packets;
        (key, packets as u32)
    }
}

impl Default for MediaProfile {
    /// About 1.2 Mbit/s of video in 110 packets/s at 30 frames/s with a keyframe (5 times a
    /// delta frame) every 3 s, and Opus-like audio at 50 packets/s.
    fn default() -> Self {
        Self {
            video_pps: 110,
            video_bytes: 1200,
            video_fps: 30,
            keyframe_every_frames: 90,
            keyframe_scale: 5,
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

    /// How many packets arrived so far (without copying what [`Peer::received`] returns).
    pub fn packets_received(&self) -> u64 {
        self.shared
            .lock()
            .map(|s| s.received.streams.values().map(|(count, _, _)| count).sum())
            .unwrap_or(0)
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
        let video = Stream {
            track: &self.video,
            stream: 1,
            ssrc: self.video_ssrc,
            payload_type: 96,
            clock_rate: 90_000,
            bytes: profile.video_bytes,
            epoch: self.epoch,
        };
        let audio = Stream {
            track: &self.audio,
            stream: 0,
            ssrc: self.audio_ssrc,
            payload_type: 111,
            clock_rate: 48_000,
            bytes: profile.audio_bytes,
            epoch: self.epoch,
        };
        let frames = FrameSchedule::new(
            profile.video_pps,
            profile.video_fps,
            profile.keyframe_every_frames,
            profile.keyframe_scale,
        );
        // Audio: one packet per frame of 1/pps seconds.
        let packets = FrameSchedule::new(profile.audio_pps, profile.audio_pps, 0, 1);
        let (video_sent, audio_sent) = tokio::join!(
            video.send_until(frames, profile.video_fps, until),
            audio.send_until(packets, profile.audio_pps, until)
        );
        (audio_sent, video_sent)
    }

    /// Closes the peer connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// One outgoing stream of stamped packets.
struct Stream<'a> {
    track: &'a TrackLocalStaticRTP,
    /// 0 audio, 1 video (in the stamp).
    stream: u8,
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    bytes: usize,
    epoch: Instant,
}

impl Stream<'_> {
    /// Sends `fps` frames a second until `until`, each with the packets `frames` gives it (same
    /// RTP timestamp, marker on the last); returns the packets sent.
    async fn send_until(&self, mut frames: FrameSchedule, fps: u32, until: Instant) -> u64 {
        let period = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
        // Each stream starts at its own phase of the frame period, as independent encoders
        // do: every stream of the run ticking at the same instant would make bursts no real
        // set of kiosks and agents makes.
        let phase = period.mul_f64(phase_of(self.ssrc));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut seq: u32 = 0;
        let started = Instant::now();
        'frames: while Instant::now() < until {
            ticker.tick().await;
            let (_, count) = frames.next_frame();
            let ticks = (started.elapsed().as_secs_f64() * f64::from(self.clock_rate)) as u32;
            for index in 0..count {
                let payload = stamp::encode(
                    Stamp {
                        stream: self.stream,
                        seq,
                        sent_ns: stamp::since(self.epoch),
                    },
                    self.bytes,
                );
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::header::Header {
                        version: 2,
                        payload_type: self.payload_type,
                        sequence_number: seq as u16,
                        timestamp: ticks,
                        ssrc: self.ssrc,
                        marker: index + 1 == count,
                        ..Default::default()
                    },
                    payload: Bytes::from(payload),
                };
                if self.track.write_rtp(packet).await.is_err() {
                    break 'frames;
                }
                seq += 1;
            }
        }
        u64::from(seq)
    }
}

/// A fraction in [0, 1) spread evenly over SSRCs (Fibonacci hashing).
fn phase_of(ssrc: u32) -> f64 {
    f64::from(ssrc.wrapping_mul(0x9E37_79B9)) / 4_294_967_296.0
}

#[cfg(test)]
mod tests {
    use super::{FrameSchedule, phase_of};

    #[test]
    fn consecutive_streams_start_at_spread_phases() {
        let mut phases: Vec<f64> = (200_000u32..200_064).map(phase_of).collect();
        assert!(phases.iter().all(|p| (0.0..1.0).contains(p)));
        phases.sort_by(f64::total_cmp);
        let widest_gap = phases.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        assert!(widest_gap < 0.05, "{widest_gap}");
    }

    #[test]
    fn frames_average_the_packet_rate_with_larger_keyframes() {
        let mut frames = FrameSchedule::new(110, 30, 90, 5);
        let sizes: Vec<(bool, u32)> = (0..900).map(|_| frames.next_frame()).collect();
        let total: u32 = sizes.iter().map(|(_, n)| n).sum();
        // 30 s of frames at 110 packets/s on average.
        assert!((3295..=3300).contains(&total), "{total}");
        let keyframes: Vec<u32> = sizes.iter().filter(|(k, _)| *k).map(|(_, n)| *n).collect();
        assert_eq!(keyframes.len(), 10);
        let delta_max = sizes
            .iter()
            .filter(|(k, _)| !*k)
            .map(|(_, n)| *n)
            .max()
            .unwrap();
        assert!(
            keyframes.iter().all(|n| *n >= 4 * delta_max - 1),
            "{keyframes:?} vs {delta_max}"
        );
        assert!(sizes[0].0 && !sizes[1].0 && sizes[90].0);
    }

    #[test]
    fn one_packet_per_frame_without_keyframes() {
        let mut packets = FrameSchedule::new(50, 50, 0, 1);
        assert!((0..500).all(|_| packets.next_frame() == (false, 1)));
    }
}
