//! The media core's error type.

/// What a media command could not do. Network input never produces one: bad datagrams are
/// dropped and counted instead.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no room {0}")]
    UnknownRoom(crate::RoomId),
    #[error("room {0} already exists")]
    RoomExists(crate::RoomId),
    #[error("no peer {0}")]
    UnknownPeer(crate::PeerId),
    #[error("peers {0} and {1} are not in the same room")]
    NotInSameRoom(crate::PeerId, crate::PeerId),
    #[error("peer {0} has no free receive slot (it negotiated {1})")]
    NoFreeSlot(crate::PeerId, usize),
    #[error("peer {0} does not publish")]
    NotPublishing(crate::PeerId),
    #[error("the session description was refused: {0}")]
    Sdp(String),
    #[error("WebRTC engine error: {0}")]
    Engine(String),
}

impl From<rtc::shared::error::Error> for MediaError {
    fn from(err: rtc::shared::error::Error) -> Self {
        MediaError::Engine(err.to_string())
    }
}
