//! Rooms: who is in a call, and which participant's media reaches whom. A participant may
//! publish and has receive slots (each slot is one audio + video pair negotiated up front);
//! the caller binds a slot to a publisher with `Shard::subscribe` (audio, video or both) and
//! frees it with `Shard::unsubscribe`: who receives whom is the caller's policy, not the
//! shard's.

use crate::PeerId;

/// Which of a publisher's media a subscriber receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaKinds {
    pub audio: bool,
    pub video: bool,
}

impl MediaKinds {
    /// Audio and video.
    pub const BOTH: MediaKinds = MediaKinds {
        audio: true,
        video: true,
    };

    /// Whether `kind` is among them.
    pub fn has(self, kind: crate::MediaKind) -> bool {
        match kind {
            crate::MediaKind::Audio => self.audio,
            crate::MediaKind::Video => self.video,
        }
    }
}

/// How a participant takes part in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    /// A name for logs and for the media stream ids the other participants see.
    pub label: String,
    /// Whether the participant publishes audio and video (others may subscribe to it).
    pub publish: bool,
    /// How many other publishers it can receive at once (1 in a 1:1 call, 2 for a supervisor
    /// listening to both sides). Negotiated when it joins.
    pub receive_slots: usize,
}

impl JoinSpec {
    /// A participant of a 1:1 call: publishes and receives the other side.
    pub fn one_to_one(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            publish: true,
            receive_slots: 1,
        }
    }

    /// A listen-only participant receiving `slots` publishers and sending nothing.
    pub fn listen_only(label: &str, slots: usize) -> Self {
        Self {
            label: label.to_owned(),
            publish: false,
            receive_slots: slots,
        }
    }
}

/// The participants of a room, in joining order.
#[derive(Debug, Default)]
pub struct Room {
    pub members: Vec<PeerId>,
}
