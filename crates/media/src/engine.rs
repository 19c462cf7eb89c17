//! Building one peer connection of the `rtc` engine the way the shard needs it: ICE-lite with
//! credentials we chose, our codecs and header extensions, the stock NACK / report / TWCC
//! interceptors, and the shard's tap.

use std::time::{Duration, Instant};

use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Registry, Slot};
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::certificate::RTCCertificate;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};

use crate::MediaError;
use crate::tap::{Liveness, TAP_SLOT, Tap};

/// The engine's own ICE timers are pushed out of the way: liveness is judged by the shard from
/// authenticated media (the engine only counts STUN, and an ICE-lite agent then goes
/// "disconnected" whenever consent checks are more than 5 s apart).
const ENGINE_ICE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Outgoing packets kept per video stream to answer NACKs: 512 is 4.6 s of video at 110
/// packets/s, far longer than any retransmission is still useful. The engine's default of 1,024
/// held about 1.3 MiB per outgoing video stream, most of a call's memory.
const NACK_HISTORY: u16 = 512;

/// The audio codec every leg uses.
pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// The video codec every leg uses. One codec for every browser means kiosk and agent always
/// agree; VP8 is decoded everywhere in software and hardware.
pub fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn media_engine() -> Result<MediaEngine, MediaError> {
    let mut engine = MediaEngine::default();
    engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8(),
            payload_type: 96,
        },
        RtpCodecKind::Video,
    )?;
    engine.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".to_owned(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    engine.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: "urn:3gpp:video-orientation".to_owned(),
        },
        RtpCodecKind::Video,
        None,
    )?;
    Ok(engine)
}

/// The engine's stock interceptors, as its defaults set them up but with our NACK history:
/// NACK generator and responder (video: `nack` and `nack pli` feedback), the simulcast header
/// extensions, the TWCC receiver (feedback for the browsers' bandwidth estimation) and RTCP
/// sender and receiver reports.
fn interceptors(registry: Registry, media: &mut MediaEngine) -> Result<Registry, MediaError> {
    for parameter in ["", "pli"] {
        media.register_feedback(
            RTCPFeedback {
                typ: "nack".to_owned(),
                parameter: parameter.to_owned(),
            },
            RtpCodecKind::Video,
        );
    }
    let registry = registry
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(NACK_HISTORY).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(media)?;
    let registry = configure_twcc_receiver_only(registry, media)?;
    Ok(configure_rtcp_reports(registry))
}

/// A new ECDSA P-256 certificate for a shard's DTLS.
pub fn shard_certificate() -> Result<RTCCertificate, MediaError> {
    let provider =
        rtc::crypto::default_provider().map_err(|err| MediaError::Engine(err.to_string()))?;
    let params =
        rtc::peer_connection::certificate::CertificateParams::new(vec!["relais".to_owned()])
            .map_err(|err| MediaError::Engine(err.to_string()))?;
    Ok(RTCCertificate::generate(
        provider.crypto(),
        rtc::crypto::SignatureScheme::EcdsaP256Sha256,
        params,
    )?)
}

/// A new answering peer connection with ICE credentials `ufrag`/`pwd`.
pub fn new_peer_connection(
    now: Instant,
    ufrag: &str,
    pwd: &str,
    certificate: &RTCCertificate,
    liveness: Liveness,
) -> Result<RTCPeerConnection, MediaError> {
    let mut media = media_engine()?;
    let registry = Registry::new().with(Slot::from(TAP_SLOT), Tap::new(liveness));
    let registry = interceptors(registry, &mut media)?;
    let settings = SettingEngineBuilder::new()
        .with_lite(true)
        .with_ice_credentials(ufrag.to_owned(), pwd.to_owned())
        .with_ice_timeouts(Some(ENGINE_ICE_TIMEOUT), Some(ENGINE_ICE_TIMEOUT), None)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    let config = RTCConfigurationBuilder::new()
        .with_certificates(vec![certificate.clone()])
        .build();
    let pc = RTCPeerConnectionBuilder::new()
        .with_configuration(config)
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)?;
    Ok(pc)
}
