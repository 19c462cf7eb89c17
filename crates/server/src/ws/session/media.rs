//! A session's media requests: its offer answered as the call core planned it, the answer
//! to a server offer, trickled candidates.

use std::time::Instant;

use relais_call::{Input, MediaLink, NegotiationPlan, Verdict};
use relais_media::{JoinSpec, PeerId, RoomId};
use relais_proto::{Reply, ServerMessage, codes};

use super::{OFFER_BURST, OFFER_EVERY_SECS, Session, done, error, ok, refusal, task_gone};

impl Session {
    pub(super) async fn sdp_offer(&mut self, id: u64, sdp: String) -> ServerMessage {
        let session = self.id;
        let (in_call, rings) = self
            .state
            .calls()
            .run(move |cores, _| {
                let calls = cores.calls();
                (
                    calls.negotiates(session),
                    calls.first_ringing_offer(session),
                )
            })
            .await
            .unwrap_or((false, false));
        if !in_call {
            return error(Some(id), codes::WRONG_STATE, "no call is connected");
        }
        if !rings && !self.offers.allow(Instant::now()) {
            return error(
                Some(id),
                codes::RATE_LIMITED,
                format!(
                    "at most one SDP offer every {OFFER_EVERY_SECS} s after a burst of {OFFER_BURST}; \
                     the previous negotiation stands"
                ),
            );
        }
        // Parsed here, off the shard thread: a malformed offer replaces nothing.
        if let Err(err) = relais_media::check_offer(&sdp) {
            return error(Some(id), codes::MEDIA, err.to_string());
        }
        let plan = match self
            .state
            .calls()
            .run(move |cores, now| cores.input(now, Input::Negotiate { session }))
            .await
        {
            Some(Ok(Verdict::Negotiate(plan))) => plan,
            Some(Ok(_)) => return error(Some(id), codes::INTERNAL, "no negotiation planned"),
            Some(Err(err)) => return refusal(id, err),
            None => return task_gone(id),
        };
        self.negotiate(id, plan, sdp).await
    }

    /// Answers an offer as the call core planned it: the leg's previous peer (a reload, a
    /// rejoin) removed first, then the new one joined to the call's room.
    pub(super) async fn negotiate(
        &self,
        id: u64,
        plan: NegotiationPlan,
        sdp: String,
    ) -> ServerMessage {
        let Some(shard) = self.state.media().shards().get(plan.shard).cloned() else {
            return error(Some(id), codes::INTERNAL, "the call's media shard is gone");
        };
        if let Some(previous) = plan.replaces {
            let _ = shard.remove_peer(PeerId(previous.peer)).await;
        }
        // A browser offers as many sections as it has tracks: the slots it cannot take now
        // are offered by the server once it is connected.
        let slots = plan.receive_slots.min(relais_media::receive_capacity(&sdp));
        let spec = JoinSpec {
            label: plan.role.as_str().to_owned(),
            publish: plan.publish,
            receive_slots: slots,
        };
        match shard.join(RoomId(plan.call.0), spec, sdp).await {
            Ok((peer, answer)) => {
                let link = MediaLink {
                    shard: plan.shard,
                    peer: peer.0,
                };
                let (call, leg, attempt) = (plan.call, plan.leg, plan.attempt);
                self.state.calls().notify(move |cores, now| {
                    let _ = cores.input(
                        now,
                        Input::Joined {
                            call,
                            leg,
                            attempt,
                            link,
                            slots,
                        },
                    );
                });
                ok(id, Reply::Answer { sdp: answer })
            }
            Err(err) => {
                let (call, leg, attempt) = (plan.call, plan.leg, plan.attempt);
                self.state.calls().notify(move |cores, now| {
                    let _ = cores.input(now, Input::JoinFailed { call, leg, attempt });
                });
                error(Some(id), codes::MEDIA, err.to_string())
            }
        }
    }

    /// The client's answer to a server offer (a renegotiation of its connected peer).
    pub(super) async fn sdp_answer(&self, id: u64, sdp: String) -> ServerMessage {
        let session = self.id;
        let (call, leg, link) = match self
            .state
            .calls()
            .run(move |cores, now| cores.input(now, Input::Answer { session }))
            .await
        {
            Some(Ok(Verdict::AcceptAnswer { call, leg, link })) => (call, leg, link),
            Some(Ok(_)) => return error(Some(id), codes::INTERNAL, "no offer to answer"),
            Some(Err(err)) => return refusal(id, err),
            None => return task_gone(id),
        };
        let Some(shard) = self.state.media().shards().get(link.shard) else {
            return error(Some(id), codes::INTERNAL, "the call's media shard is gone");
        };
        match shard.accept_answer(PeerId(link.peer), sdp).await {
            Ok(()) => {
                self.state.calls().notify(move |cores, now| {
                    let _ = cores.input(now, Input::Answered { call, leg });
                });
                done(id)
            }
            Err(err) => error(Some(id), codes::MEDIA, err.to_string()),
        }
    }

    pub(super) async fn ice_candidate(&self, id: u64, candidate: String) -> ServerMessage {
        let session = self.id;
        let link = match self
            .state
            .calls()
            .run(move |cores, now| cores.input(now, Input::Candidate { session }))
            .await
        {
            Some(Ok(Verdict::Candidate(link))) => link,
            Some(Ok(_)) => return error(Some(id), codes::INTERNAL, "no peer for the candidate"),
            Some(Err(err)) => return refusal(id, err),
            None => return task_gone(id),
        };
        let Some(shard) = self.state.media().shards().get(link.shard) else {
            return error(Some(id), codes::INTERNAL, "the call's media shard is gone");
        };
        match shard.add_candidate(PeerId(link.peer), candidate).await {
            Ok(()) => done(id),
            Err(err) => error(Some(id), codes::MEDIA, err.to_string()),
        }
    }
}
