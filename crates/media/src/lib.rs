//! Relais media core: a sans-IO SFU that serves every peer of a shard on one UDP socket
//! (ICE-lite, DTLS-SRTP over webrtc-rs `rtc`), groups peers into rooms and forwards RTP between
//! them with per-leg rewriting and feedback. The IO shell that owns the socket lives in the server.
