//! Rooms: who is in a call, and which participant's media reaches whom. A participant may
//! publish (its audio and video go to the others) and has receive slots (each slot is one
//! audio + video pair negotiated up front and bound to a publisher as publishers come and go),
//! so a 1:1 call and a listen-only supervisor are configuration, not special cases.

use crate::PeerId;

/// How a participant takes part in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    /// A name for logs and for the media stream ids the other participants see.
    pub label: String,
    /// Whether the participant's audio and video are forwarded to the others.
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
