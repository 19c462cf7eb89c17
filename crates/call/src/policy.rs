//! Media policy as data: each leg lists whose audio and video it receives. The usual shapes of
//! a conference are functions over that list, not special cases: a conversation (everyone
//! receives every other full participant), monitoring (a leg receives everyone and nobody
//! receives it), a whisper (a leg's audio reaches one other leg only).

use crate::call::{Call, LegId};

/// Audio and/or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kinds {
    pub audio: bool,
    pub video: bool,
}

impl Kinds {
    /// Audio and video.
    pub const BOTH: Kinds = Kinds {
        audio: true,
        video: true,
    };
    /// Audio only.
    pub const AUDIO: Kinds = Kinds {
        audio: true,
        video: false,
    };
    /// Whether nothing is received.
    pub fn is_empty(self) -> bool {
        !self.audio && !self.video
    }
}

/// The part a leg takes, as a shape of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Participation {
    /// Sees and hears every full participant, and they see and hear it.
    Full,
    /// Sees and hears every full participant; nobody receives it.
    Monitor,
    /// Monitors, and its audio reaches this leg only.
    Whisper { to: LegId },
}

/// One subscription: the leg receives `kinds` of `from`'s media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Receive {
    pub from: LegId,
    pub kinds: Kinds,
}

impl Call {
    /// Sets what `leg` receives from `from` (nothing removes the subscription).
    pub fn subscribe(&mut self, leg: LegId, from: LegId, kinds: Kinds) {
        if leg == from {
            return;
        }
        let Some(leg) = self.leg_mut(leg) else {
            return;
        };
        leg.receives.retain(|r| r.from != from);
        if !kinds.is_empty() {
            leg.receives.push(Receive { from, kinds });
            leg.receives.sort();
        }
    }

    /// `leg` becomes a full participant: it and every other full participant receive each
    /// other's audio and video (a 1:1 call, a barge, an interpreter).
    pub fn converse(&mut self, leg: LegId) {
        for other in self.full_participants_but(leg) {
            self.subscribe(leg, other, Kinds::BOTH);
            self.subscribe(other, leg, Kinds::BOTH);
        }
        // Those who monitor (or coach) see and hear every full participant, this one too.
        let monitors: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.id != leg && !l.full && l.role == relais_proto::LegRole::Supervisor)
            .map(|l| l.id)
            .collect();
        for monitor in monitors {
            self.subscribe(monitor, leg, Kinds::BOTH);
        }
        if let Some(leg) = self.leg_mut(leg) {
            leg.full = true;
        }
    }

    /// `leg` receives every full participant and nobody receives it (a supervisor listening).
    pub fn monitor(&mut self, leg: LegId) {
        self.leave_conversation(leg);
        for other in self.full_participants_but(leg) {
            self.subscribe(leg, other, Kinds::BOTH);
        }
    }

    /// `leg` monitors, and its audio reaches `to` only (a supervisor coaching the agent).
    pub fn whisper(&mut self, leg: LegId, to: LegId) {
        self.monitor(leg);
        self.subscribe(to, leg, Kinds::AUDIO);
    }

    fn full_participants_but(&self, leg: LegId) -> Vec<LegId> {
        self.legs
            .iter()
            .filter(|other| other.id != leg && other.full)
            .map(|other| other.id)
            .collect()
    }

    /// Nobody receives `leg` any more and it is no longer a full participant.
    fn leave_conversation(&mut self, leg: LegId) {
        for other in &mut self.legs {
            other.receives.retain(|r| r.from != leg);
        }
        if let Some(leg) = self.leg_mut(leg) {
            leg.full = false;
        }
    }

    /// Gives `leg` the part `participation` (a change of mode is a change of data).
    pub fn participate(&mut self, leg: LegId, participation: Participation) {
        match participation {
            Participation::Full => self.converse(leg),
            Participation::Monitor => self.monitor(leg),
            Participation::Whisper { to } => self.whisper(leg, to),
        }
    }

    /// `leg` is on hold: it receives nothing and only those who supervise still receive it;
    /// [`Call::converse`] takes it back into the conversation.
    pub fn hold(&mut self, leg: LegId) {
        for other in &mut self.legs {
            if other.role != relais_proto::LegRole::Supervisor {
                other.receives.retain(|r| r.from != leg);
            }
        }
        if let Some(leg) = self.leg_mut(leg) {
            leg.receives.clear();
            leg.full = false;
        }
    }

    /// Removes every subscription to and from `leg`.
    pub fn unsubscribe_all(&mut self, leg: LegId) {
        self.leave_conversation(leg);
        if let Some(leg) = self.leg_mut(leg) {
            leg.receives.clear();
        }
    }

    /// Whether any other leg receives `leg`'s media.
    pub fn is_published(&self, leg: LegId) -> bool {
        self.legs
            .iter()
            .any(|other| other.receives.iter().any(|r| r.from == leg))
    }
}
