//! Test clients built with the `webrtc` crate (an independent async WebRTC stack): they offer
//! audio and video, send numbered RTP, record what they receive and the keyframe requests they
//! get, and can pass through a lossy UDP relay.

#![allow(dead_code, clippy::unwrap_used)]

pub mod calls;
pub mod client;
pub mod relay;
pub mod server;
pub mod signal;
