//! The agent's media while its offer rings. A call whose kiosk waits with its media connected
//! is offered to an agent together with `media_ready` (`waiting: true`): the agent's console
//! negotiates its peer in the call's room while it decides, and that peer receives nothing and
//! is received by nobody. If the agent accepts, the peer becomes its leg's peer and the
//! subscriptions are made at once (the pictures flow without a handshake after the answer); if
//! the offer goes elsewhere, the peer is removed. The peer is not a leg until the answer: it
//! takes no part in the call's pushes, record or grace periods.

use relais_proto::{AgentId, CallId, LegRole, Role, ServerMessage};

use crate::call::{CallState, LegId, LegMedia, RoomState};
use crate::core::CallCore;
use crate::io::{MediaCommand, MediaLink, NegotiationPlan, Output, SessionId};

/// The peer of an agent a call is offered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ringing {
    pub(crate) agent: String,
    pub(crate) session: SessionId,
    /// The id its leg will have if it answers.
    pub(crate) leg: LegId,
    /// Its latest negotiation (0: none yet).
    pub(crate) attempt: u32,
    pub(crate) media: Option<MediaLink>,
    pub(crate) slots: usize,
    pub(crate) connected: bool,
}

impl CallCore {
    /// Whether `session` has media to negotiate: a leg in a call, or a ringing offer whose
    /// peer it may connect now.
    pub fn negotiates(&self, session: SessionId) -> bool {
        self.call_of_session(session).is_some()
            || self.ringing.values().any(|r| r.session == session)
    }

    /// Whether `session`'s next offer is the first of an offer that rings: made because the
    /// server offered a call, one per offer, so it does not count against the session's own
    /// rate of offers (an agent who refused a few calls in a row still answers the next).
    pub fn first_ringing_offer(&self, session: SessionId) -> bool {
        self.call_of_session(session).is_none()
            && self
                .ringing
                .values()
                .any(|r| r.session == session && r.attempt == 0)
    }

    /// `call` is offered to `agent`: it connects its media while it rings, if the call's kiosk
    /// waits with its own connected.
    pub(crate) fn ring_media(&mut self, call: CallId, agent: &AgentId) {
        self.drop_ringing(call);
        if !self.config.ring_media {
            return;
        }
        let Some(&session) = self.agent_sessions.get(agent.as_str()) else {
            return;
        };
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let kiosk_connected = live
            .leg_of_role(LegRole::Kiosk)
            .is_some_and(|k| k.media_state == LegMedia::Connected);
        if !matches!(live.room, RoomState::Open { .. })
            || !kiosk_connected
            || live.callback.is_some()
            || live.end_reason.is_some()
        {
            return;
        }
        let leg = live.reserve_leg();
        self.ringing.insert(
            call,
            Ringing {
                agent: agent.as_str().to_owned(),
                session,
                leg,
                attempt: 0,
                media: None,
                slots: 0,
                connected: false,
            },
        );
        self.push(
            session,
            ServerMessage::MediaReady {
                call,
                peer_role: Role::Kiosk,
                waiting: true,
            },
        );
    }

    /// The offer of `call` is over without an answer (or the call is): its ringing peer goes.
    pub(crate) fn drop_ringing(&mut self, call: CallId) {
        let Some(ringing) = self.ringing.remove(&call) else {
            return;
        };
        if let Some(link) = ringing.media {
            self.by_peer.remove(&link);
            self.outputs
                .push_back(Output::Media(MediaCommand::RemovePeer { link }));
        }
    }

    /// `agent` is no longer reserved for `keep` (or for anything): the peers it rang with go.
    pub(crate) fn agent_stopped_ringing(&mut self, agent: &str, keep: Option<CallId>) {
        let calls: Vec<CallId> = self
            .ringing
            .iter()
            .filter(|(call, r)| r.agent == agent && Some(**call) != keep)
            .map(|(call, _)| *call)
            .collect();
        for call in calls {
            self.drop_ringing(call);
        }
    }

    /// A ringing agent's `sdp_offer`: the plan of its peer, receiving one slot (the kiosk's).
    pub(crate) fn ringing_plan(&mut self, session: SessionId) -> Option<NegotiationPlan> {
        let (&call, ringing) = self
            .ringing
            .iter_mut()
            .find(|(_, r)| r.session == session)?;
        let live = self.calls.get(&call)?;
        let RoomState::Open { shard } = live.room else {
            return None;
        };
        if !matches!(live.state, CallState::Waiting { .. }) {
            return None;
        }
        ringing.attempt = ringing.attempt.wrapping_add(1).max(1);
        let plan = NegotiationPlan {
            call,
            leg: ringing.leg,
            role: LegRole::Agent,
            shard,
            replaces: ringing.media.take(),
            publish: true,
            receive_slots: 1,
            attempt: ringing.attempt,
        };
        ringing.connected = false;
        if let Some(link) = plan.replaces {
            self.by_peer.remove(&link);
        }
        Some(plan)
    }

    /// The shard took a ringing agent's offer: whether it was one (else the caller goes on).
    pub(crate) fn ringing_joined(
        &mut self,
        call: CallId,
        leg: LegId,
        attempt: u32,
        link: MediaLink,
        slots: usize,
    ) -> bool {
        let Some(ringing) = self
            .ringing
            .get_mut(&call)
            .filter(|r| r.leg == leg && r.media.is_none())
        else {
            return false;
        };
        if ringing.attempt != attempt {
            self.outputs
                .push_back(Output::Media(MediaCommand::RemovePeer { link }));
            return true;
        }
        ringing.media = Some(link);
        ringing.slots = slots.min(1);
        self.by_peer.insert(link, (call, leg));
        true
    }

    /// A peer connected or went: whether it was a ringing one.
    pub(crate) fn ringing_peer(&mut self, link: MediaLink, connected: bool) -> bool {
        let Some(ringing) = self.ringing.values_mut().find(|r| r.media == Some(link)) else {
            return false;
        };
        ringing.connected = connected;
        if !connected {
            ringing.media = None;
            self.by_peer.remove(&link);
        }
        true
    }

    /// `agent` answered `call`: the leg it rang with (its id, peer, attempt and slots), if it
    /// negotiated one; the caller makes it the agent's leg.
    pub(crate) fn take_ringing(&mut self, call: CallId, agent: &str) -> Option<Ringing> {
        let ringing = self.ringing.get(&call)?;
        if ringing.agent != agent || ringing.attempt == 0 {
            self.drop_ringing(call);
            return None;
        }
        self.ringing.remove(&call)
    }
}
