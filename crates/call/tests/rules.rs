//! The call core's rules, one test each, in virtual time beside a real dispatcher.
#![allow(clippy::unwrap_used)]

mod common;

use common::{GRACE, World, secs};
use relais_call::{CallError, Input, Kinds, MediaInput, Participation, Verdict};
use relais_dispatch::Event;
use relais_proto::{
    AgentId, EndReason, EndedBy, LegRole, MediaLossReason, Outcome, Role, ServerMessage,
};

fn alice() -> AgentId {
    AgentId::from("alice")
}

#[test]
fn a_call_refused_at_enqueue_is_a_verdict_with_a_record_and_no_push() {
    let mut w = World::new();
    w.open(1, Role::Kiosk, "borne-1");
    let verdict = w.place(1, "borne-1", "nuit").unwrap();
    assert!(
        matches!(verdict, Verdict::Refused(Outcome::Closed)),
        "{verdict:?}"
    );
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].outcome, Outcome::Closed);
    assert!(w.pushed(1).is_empty(), "{:?}", w.pushed(1));
    // The identity is free again.
    assert!(matches!(
        w.place(1, "borne-1", "caf").unwrap(),
        Verdict::Queued(_)
    ));
}

#[test]
fn a_full_queue_refuses_with_the_queue_full_outcome() {
    let mut w = World::new();
    w.queued(1, "a");
    w.queued(2, "b");
    w.open(3, Role::Kiosk, "c");
    let verdict = w.place(3, "c", "caf").unwrap();
    assert!(
        matches!(verdict, Verdict::Refused(Outcome::QueueFull)),
        "{verdict:?}"
    );
    assert_eq!(w.records.last().unwrap().outcome, Outcome::QueueFull);
    assert!(w.pushed(3).is_empty());
}

#[test]
fn a_kiosk_identity_holds_one_call_across_its_sessions() {
    let mut w = World::new();
    let call = w.queued(1, "borne-1");
    w.open(2, Role::Kiosk, "borne-1");
    assert_eq!(
        w.place(2, "borne-1", "caf").unwrap_err(),
        CallError::AlreadyInCall(call)
    );
    assert_eq!(
        w.place(1, "borne-1", "caf").unwrap_err(),
        CallError::AlreadyInCall(call)
    );
}

#[test]
fn repeated_refusals_are_rate_limited_and_their_windows_do_not_pile_up() {
    let mut w = World::new();
    w.open(1, Role::Kiosk, "borne-1");
    for _ in 0..3 {
        w.place(1, "borne-1", "nuit").unwrap();
    }
    let err = w.place(1, "borne-1", "nuit").unwrap_err();
    assert!(
        matches!(err, CallError::TooManyRefusals { count: 3, .. }),
        "{err:?}"
    );
    assert_eq!(w.records.len(), 3, "a suppressed call leaves no record");
    for kiosk in 0..50 {
        let name = format!("borne-x{kiosk}");
        w.open(10 + kiosk, Role::Kiosk, &name);
        w.place(10 + kiosk, &name, "nuit").unwrap();
    }
    assert_eq!(w.core.refusal_windows(), 51);
    w.advance(secs(61));
    w.open(200, Role::Kiosk, "borne-2");
    w.place(200, "borne-2", "nuit").unwrap();
    assert_eq!(
        w.core.refusal_windows(),
        1,
        "windows of the last minute only"
    );
    assert!(matches!(
        w.place(1, "borne-1", "nuit").unwrap(),
        Verdict::Refused(Outcome::Closed)
    ));
}

#[test]
fn an_answered_call_opens_one_room_and_tells_both_sides_media_ready() {
    let mut w = World::new();
    let call = w.answered();
    assert_eq!(w.rooms.len(), 1);
    assert!(w.pushed(1).iter().any(|m| matches!(m,
        ServerMessage::MediaReady { call: c, peer_role: Role::Agent, .. } if *c == call)));
    assert!(w.pushed(100).iter().any(|m| matches!(m,
        ServerMessage::MediaReady { call: c, peer_role: Role::Kiosk, .. } if *c == call)));
    let legs = &w.core.call(call).unwrap().legs;
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[0].receives.len(), 1, "the kiosk receives the agent");
    assert_eq!(legs[1].receives.len(), 1, "the agent receives the kiosk");
}

#[test]
fn a_room_that_cannot_open_pushes_no_media_ready_and_ends_the_call() {
    let mut w = World::new();
    w.rooms_fail = true;
    let call = w.answered();
    assert!(
        !w.pushes
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::MediaReady { .. }))
    );
    let record = w.record_of(call).unwrap();
    assert_eq!(record.reason, Some(EndReason::MediaFailed));
    assert_eq!(record.ended_by, Some(EndedBy::Server));
    for session in [1, 100] {
        assert!(w.pushed(session).iter().any(|m| matches!(
            m,
            ServerMessage::CallEnded {
                reason: Some(EndReason::MediaFailed),
                ..
            }
        )));
    }
    assert!(w.core.call(call).is_none());
    assert!(w.rooms.is_empty());
}

#[test]
fn a_lost_kiosk_leg_is_announced_and_ends_the_call_after_the_grace_period() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, _) = w.media_up();
    w.lost(kiosk, MediaLossReason::ConsentExpired);
    assert!(w.pushed(100).iter().any(|m| matches!(
        m,
        ServerMessage::PeerMediaLost {
            role: LegRole::Kiosk,
            reason: MediaLossReason::ConsentExpired,
            grace_secs: 20,
            ..
        }
    )));
    assert!(
        !w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::PeerMediaLost { .. })),
        "the lost side is not told about itself"
    );
    w.advance(GRACE - secs(1));
    assert!(w.core.call(call).is_some(), "still within the grace period");
    w.advance(secs(1));
    let record = w.record_of(call).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.reason, Some(EndReason::MediaLost));
    assert_eq!(record.ended_by, Some(EndedBy::Server));
    assert!(w.rooms.is_empty(), "the room is closed with the call");
    assert!(w.pushed(100).iter().any(|m| matches!(
        m,
        ServerMessage::CallEnded {
            reason: Some(EndReason::MediaLost),
            ..
        }
    )));
}

#[test]
fn a_lost_leg_that_rejoins_with_a_new_offer_keeps_the_call() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, _) = w.media_up();
    w.lost(kiosk, MediaLossReason::Failed);
    w.advance(secs(5));
    let (plan, rejoined) = w.negotiate(1);
    assert_eq!(plan.replaces, None, "the lost peer is already gone");
    assert!(plan.publish && plan.receive_slots == 1, "{plan:?}");
    w.connected(rejoined);
    assert!(w.pushed(100).iter().any(|m| matches!(
        m,
        ServerMessage::PeerMediaRestored {
            role: LegRole::Kiosk,
            ..
        }
    )));
    w.advance(GRACE * 3);
    assert!(w.core.call(call).is_some());
    assert!(w.records.is_empty());
}

#[test]
fn a_rejoin_that_never_connects_still_ends_at_the_first_loss_plus_the_grace() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, _) = w.media_up();
    w.lost(kiosk, MediaLossReason::ConsentExpired);
    w.advance(secs(10));
    let (_, rejoined) = w.negotiate(1);
    w.advance(secs(9));
    w.lost(rejoined, MediaLossReason::SetupTimeout);
    assert!(w.core.call(call).is_some());
    w.advance(secs(1));
    assert_eq!(
        w.record_of(call).unwrap().reason,
        Some(EndReason::MediaLost)
    );
}

#[test]
fn a_peer_removed_by_the_server_is_not_a_loss() {
    let mut w = World::new();
    w.answered();
    let (kiosk, _) = w.media_up();
    w.input(Input::Media {
        shard: kiosk.shard,
        event: MediaInput::PeerGone {
            peer: kiosk.peer,
            reason: None,
        },
    })
    .unwrap();
    assert!(
        !w.pushes
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::PeerMediaLost { .. }))
    );
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn a_reload_replaces_the_previous_peer_of_the_same_leg() {
    let mut w = World::new();
    w.answered();
    let (_, first) = w.negotiate(1);
    let (plan, second) = w.negotiate(1);
    assert_eq!(plan.replaces, Some(first));
    assert_ne!(first, second);
    // The replaced peer's own departure is the server's doing.
    w.input(Input::Media {
        shard: first.shard,
        event: MediaInput::PeerGone {
            peer: first.peer,
            reason: Some(MediaLossReason::Failed),
        },
    })
    .unwrap();
    assert!(
        !w.pushes
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::PeerMediaLost { .. }))
    );
}

#[test]
fn a_peer_joined_after_its_call_ended_is_removed() {
    let mut w = World::new();
    let call = w.answered();
    let Verdict::Negotiate(plan) = w.input(Input::Negotiate { session: 1 }).unwrap() else {
        panic!("plan");
    };
    w.input(Input::Hangup { session: 100 }).unwrap();
    let link = relais_call::MediaLink { shard: 0, peer: 77 };
    w.input(Input::Joined {
        call,
        leg: plan.leg,
        attempt: plan.attempt,
        link,
        slots: plan.receive_slots,
    })
    .unwrap();
    assert_eq!(w.removed, vec![link]);
}

#[test]
fn a_room_that_opens_after_its_call_ended_is_closed() {
    let mut w = World::new();
    w.ready_agent(100, "alice");
    let call = w.queued(1, "borne-1");
    // The answer and the end arrive before the room opens.
    w.dispatcher
        .handle(
            w.now,
            Event::Accept {
                call,
                agent: alice(),
            },
        )
        .unwrap();
    while let Some(command) = w.dispatcher.poll_command() {
        let _ = w.core.handle(w.now, Input::Dispatcher(command));
    }
    let mut opened = false;
    while let Some(output) = w.core.poll_output() {
        opened |= matches!(
            output,
            relais_call::Output::Media(relais_call::MediaCommand::OpenRoom { .. })
        );
    }
    assert!(opened);
    w.input(Input::Hangup { session: 1 }).unwrap();
    w.core
        .handle(w.now, Input::RoomOpened { call, shard: 0 })
        .unwrap();
    let closed = std::iter::from_fn(|| w.core.poll_output()).any(|o| {
        matches!(o, relais_call::Output::Media(relais_call::MediaCommand::CloseRoom { call: c, .. }) if c == call)
    });
    assert!(closed);
}

#[test]
fn hanging_up_tells_both_sides_with_who_and_why_after_the_record() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let before = w.pushes.len();
    w.input(Input::Hangup { session: 1 }).unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(
        (record.ended_by, record.reason),
        (Some(EndedBy::Kiosk), Some(EndReason::Hangup))
    );
    let ended: Vec<u64> = w.pushes[before..]
        .iter()
        .filter(|(_, m)| {
            matches!(
                m,
                ServerMessage::CallEnded {
                    by: Some(EndedBy::Kiosk),
                    reason: Some(EndReason::Hangup),
                    ..
                }
            )
        })
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(ended, vec![1, 100]);
    assert!(w.rooms.is_empty());
    assert_eq!(
        w.input(Input::Hangup { session: 1 }).unwrap_err(),
        CallError::NoCall("no call is connected")
    );
}

#[test]
fn the_agent_in_wrap_up_is_told_which_call_it_wraps_up() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let before = w.pushes.len();
    w.input(Input::Hangup { session: 1 }).unwrap();
    let wrap_ups: Vec<Option<_>> = w.pushes[before..]
        .iter()
        .filter_map(|(s, m)| match m {
            ServerMessage::AgentState {
                state: relais_proto::AgentStateName::WrapUp,
                call,
                ..
            } if *s == 100 => Some(*call),
            _ => None,
        })
        .collect();
    assert_eq!(wrap_ups, vec![Some(call)]);
}

#[test]
fn a_call_offered_again_to_an_agent_who_refused_it_says_so() {
    let mut w = World::new();
    w.ready_agent(100, "alice");
    let call = w.queued(1, "borne-1");
    let offers = |w: &World| -> Vec<bool> {
        w.pushed(100)
            .iter()
            .filter_map(|m| match m {
                ServerMessage::Offered { call: c, again, .. } if *c == call => Some(*again),
                _ => None,
            })
            .collect()
    };
    assert_eq!(offers(&w), vec![false], "the first offer is a plain one");
    w.dispatch(Event::Reject {
        call,
        agent: alice(),
    });
    // Nobody else can take it: after the re-offer back-off it rings alice again, and says why.
    w.advance(secs(11));
    assert_eq!(offers(&w), vec![false, true]);
    // A missed offer counts the same.
    w.advance(secs(11));
    w.advance(secs(11));
    assert_eq!(offers(&w), vec![false, true, true]);
}

#[test]
fn cancel_is_for_a_waiting_call_and_hangup_for_a_connected_one() {
    let mut w = World::new();
    w.open(1, Role::Kiosk, "borne-1");
    assert!(w.input(Input::Cancel { session: 1 }).is_err());
    let call = w.queued(2, "borne-2");
    assert!(w.input(Input::Hangup { session: 2 }).is_err());
    w.input(Input::Cancel { session: 2 }).unwrap();
    assert_eq!(w.record_of(call).unwrap().outcome, Outcome::AbandonedShort);
    let call = w.answered();
    assert_eq!(
        w.input(Input::Cancel { session: 1 }).unwrap_err(),
        CallError::WrongState("the call is connected: use hangup")
    );
    assert!(w.core.call(call).is_some());
}

#[test]
fn a_kiosk_that_disconnects_abandons_a_waiting_call_and_ends_a_connected_one() {
    let mut w = World::new();
    let waiting = w.queued(2, "borne-2");
    w.input(Input::SessionClosed { session: 2 }).unwrap();
    assert_eq!(
        w.record_of(waiting).unwrap().outcome,
        Outcome::AbandonedShort
    );
    let call = w.answered();
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(
        (record.ended_by, record.reason),
        (Some(EndedBy::Kiosk), Some(EndReason::Disconnected))
    );
    assert!(
        w.pushed(100)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { .. }))
    );
    assert!(w.rooms.is_empty());
}

#[test]
fn a_case_is_noted_by_its_agent_during_the_call_or_its_wrap_up_only() {
    let mut w = World::new();
    w.ready_agent(100, "alice");
    w.ready_agent(101, "bob");
    let call = w.queued(1, "borne-1");
    let note = |w: &mut World, session, call, case: &str| {
        w.input(Input::CaseNote {
            session,
            call,
            case_ref: Some(format!("  {case} ")),
            notes: Some("Attestation envoyée.".into()),
        })
    };
    // Waiting: nobody's call yet.
    assert!(matches!(
        note(&mut w, 100, call, "CAF-1"),
        Err(CallError::WrongState(_))
    ));
    w.dispatch(Event::Accept {
        call,
        agent: alice(),
    });
    note(&mut w, 100, call, "CAF-1").unwrap();
    // Another agent, a kiosk, another call: refused.
    assert!(note(&mut w, 101, call, "CAF-X").is_err());
    assert!(note(&mut w, 1, call, "CAF-X").is_err());
    assert!(note(&mut w, 100, relais_proto::CallId(call.0 + 7), "CAF-X").is_err());
    w.input(Input::Hangup { session: 1 }).unwrap();
    // In wrap-up: saving again replaces it; blank fields are none.
    w.input(Input::CaseNote {
        session: 100,
        call,
        case_ref: Some("CAF-2".into()),
        notes: Some("   ".into()),
    })
    .unwrap();
    w.input(Input::WrapUpDone {
        session: 100,
        disposition: None,
    })
    .unwrap();
    // The wrap-up is over: the call is closed to notes.
    assert!(note(&mut w, 100, call, "CAF-3").is_err());
    assert_eq!(
        w.case_notes,
        vec![
            (
                call,
                "alice".to_owned(),
                Some("CAF-1".to_owned()),
                Some("Attestation envoyée.".to_owned())
            ),
            (call, "alice".to_owned(), Some("CAF-2".to_owned()), None),
        ]
    );
}

#[test]
fn a_disposition_belongs_to_the_call_in_wrap_up_and_to_no_later_one() {
    let mut w = World::new();
    w.ready_agent(100, "alice");
    assert_eq!(
        w.input(Input::WrapUpDone {
            session: 100,
            disposition: Some("fraude".into())
        })
        .unwrap_err(),
        CallError::WrongState("no call is in wrap-up")
    );
    let first = w.queued(1, "borne-1");
    w.dispatch(Event::Accept {
        call: first,
        agent: alice(),
    });
    w.input(Input::Hangup { session: 100 }).unwrap();
    w.input(Input::WrapUpDone {
        session: 100,
        disposition: Some("renseignement".into()),
    })
    .unwrap();
    assert_eq!(w.wrap_ups, vec![(first, Some("renseignement".to_owned()))]);
    w.dispatch(Event::AgentReady { agent: alice() });
    let second = w.queued(2, "borne-2");
    w.dispatch(Event::Accept {
        call: second,
        agent: alice(),
    });
    w.input(Input::Hangup { session: 2 }).unwrap();
    w.advance(secs(6));
    assert_eq!(w.wrap_ups[1], (second, None));
}

#[test]
fn a_reconnected_agent_keeps_its_call_and_the_old_session_leaving_changes_nothing() {
    let mut w = World::new();
    let call = w.answered();
    w.open(101, Role::Agent, "alice");
    w.input(Input::SessionClosed { session: 100 }).unwrap();
    assert!(
        w.core.call(call).is_some(),
        "the old session is not the agent's any more"
    );
    w.input(Input::Hangup { session: 101 }).unwrap();
    assert!(
        w.pushed(101)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { .. }))
    );
    assert!(
        !w.pushed(100)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { .. }))
    );
}

#[test]
fn offers_reach_the_agent_and_positions_reach_the_kiosk_only() {
    let mut w = World::new();
    w.open(100, Role::Agent, "alice");
    let call = w.queued(1, "borne-1");
    assert!(
        w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::QueuePosition { .. }))
    );
    w.dispatch(Event::AgentLogin {
        agent: alice(),
        skills: vec![],
        queues: None,
    });
    w.dispatch(Event::AgentReady { agent: alice() });
    assert!(
        w.pushed(100)
            .iter()
            .any(|m| matches!(m, ServerMessage::Offered { call: c, .. } if *c == call))
    );
    assert!(
        !w.pushed(100)
            .iter()
            .any(|m| matches!(m, ServerMessage::QueuePosition { .. }))
    );
    w.advance(secs(11));
    assert!(w.pushed(100).iter().any(|m| matches!(
        m,
        ServerMessage::OfferWithdrawn {
            reason: relais_proto::WithdrawReason::Expired,
            ..
        }
    )));
}

#[test]
fn legs_are_subscribed_to_each_other_as_their_policy_says_once_both_have_a_peer() {
    let mut w = World::new();
    w.answered();
    let (_, kiosk) = w.negotiate(1);
    assert!(w.subscriptions.is_empty(), "nobody to receive yet");
    let (_, agent) = w.negotiate(100);
    assert_eq!(
        w.subscriptions,
        vec![(agent, kiosk, Kinds::BOTH), (kiosk, agent, Kinds::BOTH)]
    );
    // A reload of the kiosk: its new peer is subscribed both ways again.
    let (_, reloaded) = w.negotiate(1);
    assert_eq!(
        w.subscriptions[2..],
        [
            (reloaded, agent, Kinds::BOTH),
            (agent, reloaded, Kinds::BOTH)
        ]
    );
}

/// A supervisor signs in on `session` and joins `call` with `participation`.
fn supervise(
    w: &mut World,
    call: relais_proto::CallId,
    session: u64,
    participation: Participation,
) -> Result<Verdict, CallError> {
    let name = format!("sup-{session}");
    w.open(session, Role::Supervisor, &name);
    w.input(Input::AddLeg {
        call,
        session,
        role: LegRole::Supervisor,
        subject: name,
        participation,
    })
}

#[test]
fn a_third_full_participant_joins_and_the_others_get_a_server_offer_for_a_slot() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    supervise(&mut w, call, 300, Participation::Full).unwrap();
    assert!(
        w.pushed(300)
            .iter()
            .any(|m| matches!(m, ServerMessage::MediaReady { .. }))
    );
    let before = w.subscriptions.len();
    let (plan, supervisor) = w.negotiate(300);
    assert_eq!((plan.publish, plan.receive_slots), (true, 2), "{plan:?}");
    let new: Vec<_> = w.subscriptions[before..].to_vec();
    assert!(new.contains(&(supervisor, kiosk, Kinds::BOTH)));
    assert!(new.contains(&(supervisor, agent, Kinds::BOTH)));
    assert!(
        !new.iter().any(|s| s.1 == supervisor),
        "nobody has a slot for it yet"
    );
    assert_eq!(w.slot_offers, vec![(call, kiosk, 1), (call, agent, 1)]);
    for session in [1, 100] {
        assert!(
            w.pushed(session)
                .iter()
                .any(|m| matches!(m, ServerMessage::SdpOffer { .. }))
        );
    }
    // The kiosk answers: its new slot receives the supervisor.
    let Verdict::AcceptAnswer { call: c, leg, link } =
        w.input(Input::Answer { session: 1 }).unwrap()
    else {
        panic!("the answer goes to the kiosk's peer");
    };
    assert_eq!((c, link), (call, kiosk));
    w.input(Input::Answered { call, leg }).unwrap();
    assert!(w.subscriptions.contains(&(kiosk, supervisor, Kinds::BOTH)));
    assert_eq!(
        w.input(Input::Answer { session: 1 }).unwrap_err(),
        CallError::WrongState("no server offer is waiting for an answer")
    );
    // The supervisor leaves; the call goes on.
    w.input(Input::SessionClosed { session: 300 }).unwrap();
    assert_eq!(w.removed, vec![supervisor]);
    assert_eq!(w.core.call(call).unwrap().legs.len(), 2);
}

#[test]
fn a_monitoring_leg_needs_no_slot_of_the_others_and_a_whisper_only_the_agents() {
    let mut w = World::new();
    let call = w.answered();
    let (_, agent) = w.media_up();
    supervise(&mut w, call, 300, Participation::Monitor).unwrap();
    let (plan, _) = w.negotiate(300);
    assert!(
        plan.publish,
        "a supervisor's peer publishes, to coach or barge in without a new negotiation"
    );
    assert!(w.slot_offers.is_empty());
    let agent_leg = w.core.call(call).unwrap().legs[1].id;
    supervise(&mut w, call, 301, Participation::Whisper { to: agent_leg }).unwrap();
    let (_, coach) = w.negotiate(301);
    assert_eq!(
        w.slot_offers,
        vec![(call, agent, 1)],
        "only the agent hears the coach"
    );
    w.input(Input::Answer { session: 100 }).unwrap();
    let leg = agent_leg;
    w.input(Input::Answered { call, leg }).unwrap();
    assert!(w.subscriptions.contains(&(agent, coach, Kinds::AUDIO)));
}

#[test]
fn a_leg_cannot_be_added_to_a_call_that_is_not_connected() {
    let mut w = World::new();
    let call = w.queued(1, "borne-1");
    let err = supervise(&mut w, call, 300, Participation::Monitor).unwrap_err();
    assert_eq!(err, CallError::WrongState("the call is not connected"));
}

#[test]
fn a_kiosk_that_cancels_may_call_again_at_once() {
    let mut w = World::new();
    let first = w.queued(1, "borne-1");
    w.input(Input::Cancel { session: 1 }).unwrap();
    assert!(
        w.record_of(first).is_some(),
        "the cancelled call is recorded"
    );
    let again = w.place(1, "borne-1", "caf").unwrap();
    assert!(
        matches!(again, Verdict::Queued(call) if call != first),
        "{again:?}"
    );
}

#[test]
fn the_peer_of_an_older_offer_that_joins_after_a_newer_one_was_made_is_removed() {
    let mut w = World::new();
    w.answered();
    let Verdict::Negotiate(first) = w.input(Input::Negotiate { session: 1 }).unwrap() else {
        panic!("plan");
    };
    let Verdict::Negotiate(second) = w.input(Input::Negotiate { session: 1 }).unwrap() else {
        panic!("plan");
    };
    assert_ne!(first.attempt, second.attempt);
    let old = relais_call::MediaLink { shard: 0, peer: 50 };
    let new = relais_call::MediaLink { shard: 0, peer: 51 };
    w.input(Input::Joined {
        call: first.call,
        leg: first.leg,
        attempt: first.attempt,
        link: old,
        slots: first.receive_slots,
    })
    .unwrap();
    w.input(Input::Joined {
        call: second.call,
        leg: second.leg,
        attempt: second.attempt,
        link: new,
        slots: second.receive_slots,
    })
    .unwrap();
    assert_eq!(w.removed, vec![old], "the older offer's peer goes");
    let call = w.core.call(first.call).unwrap();
    assert_eq!(call.leg(first.leg).unwrap().media, Some(new));
}

#[test]
fn a_re_offer_the_shard_refuses_after_the_old_peer_went_is_a_loss_with_its_grace() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let Verdict::Negotiate(plan) = w.input(Input::Negotiate { session: 1 }).unwrap() else {
        panic!("plan");
    };
    assert!(plan.replaces.is_some());
    w.input(Input::JoinFailed {
        call,
        leg: plan.leg,
        attempt: plan.attempt,
    })
    .unwrap();
    assert!(w.pushed(100).iter().any(|m| matches!(
        m,
        ServerMessage::PeerMediaLost {
            role: LegRole::Kiosk,
            reason: MediaLossReason::Failed,
            ..
        }
    )));
    w.advance(GRACE);
    assert_eq!(
        w.record_of(call).unwrap().reason,
        Some(EndReason::MediaLost)
    );
}

#[test]
fn a_first_offer_the_shard_refuses_is_not_a_loss() {
    let mut w = World::new();
    let call = w.answered();
    let Verdict::Negotiate(plan) = w.input(Input::Negotiate { session: 1 }).unwrap() else {
        panic!("plan");
    };
    w.input(Input::JoinFailed {
        call,
        leg: plan.leg,
        attempt: plan.attempt,
    })
    .unwrap();
    assert!(
        !w.pushes
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::PeerMediaLost { .. }))
    );
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn a_wrap_up_code_is_one_of_the_services_codes() {
    let mut w = World::with_call_config(|config| {
        config.dispositions.insert(
            "caf".to_owned(),
            vec!["renseignement".to_owned(), "dossier-transmis".to_owned()],
        );
    });
    let call = w.answered();
    w.input(Input::Hangup { session: 1 }).unwrap();
    let refused = w.input(Input::WrapUpDone {
        session: 100,
        disposition: Some("fraude".into()),
    });
    match refused {
        Err(err @ relais_call::CallError::UnknownDisposition { .. }) => {
            assert_eq!(err.code(), relais_proto::codes::BAD_REQUEST);
            assert_eq!(
                err.to_string(),
                "`fraude` is not a wrap-up code of this service; its codes: renseignement, dossier-transmis"
            );
        }
        other => panic!("refused: {other:?}"),
    }
    assert!(w.wrap_ups.is_empty(), "the wrap-up goes on");
    w.input(Input::WrapUpDone {
        session: 100,
        disposition: Some("dossier-transmis".into()),
    })
    .unwrap();
    assert_eq!(
        w.wrap_ups,
        vec![(call, Some("dossier-transmis".to_owned()))]
    );
}

#[test]
fn a_service_without_codes_takes_the_agents_own() {
    let mut w = World::with_call_config(|config| {
        config.dispositions.insert("caf".to_owned(), Vec::new());
    });
    let call = w.answered();
    w.input(Input::Hangup { session: 1 }).unwrap();
    w.input(Input::WrapUpDone {
        session: 100,
        disposition: Some("rappel-prevu".into()),
    })
    .unwrap();
    assert_eq!(w.wrap_ups, vec![(call, Some("rappel-prevu".to_owned()))]);
}
