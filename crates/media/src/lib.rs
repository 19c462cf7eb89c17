//! Relais media core: a sans-IO SFU that serves every peer of a shard on one UDP socket
//! (ICE-lite, DTLS-SRTP over webrtc-rs `rtc`), groups peers into rooms and forwards RTP between
//! them with per-leg rewriting and feedback. The IO shell that owns the socket lives in the server.
//!
//! Drive a [`Shard`] with [`Shard::handle_datagram`] and [`Shard::handle_timeout`]; drain
//! [`Shard::poll_transmit`] to the socket and [`Shard::poll_event`] to the application; sleep
//! until [`Shard::poll_timeout`].

mod config;
mod engine;
mod error;
mod event;
mod hold;
mod ids;
mod keyframe;
mod meter;
mod offer;
mod peer;
mod rewrite;
mod room;
mod shard;
mod stats;
pub mod stun;
mod tap;

pub use config::{DtlsCertificate, ShardConfig};
pub use error::MediaError;
pub use event::{GoneReason, MediaEvent, MediaKind, Transmit};
pub use hold::{FRAME, FRAME_TICKS, OpusClip};
pub use ids::{PeerId, RoomId};
pub use meter::{InputReport, METER_WINDOW, vp8_keyframe_size};
pub use offer::{check_offer, receive_capacity};
pub use rewrite::SeqTsRewriter;
pub use room::{JoinSpec, MediaKinds};
pub use shard::Shard;
pub use stats::{PeerStats, ShardStats};

/// Re-exported so the IO shell and tests name the same bytes type as the engine.
pub use bytes::BytesMut;
