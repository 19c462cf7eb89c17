//! Blind transfer as the call core carries it with a real dispatcher: the agent's leg goes,
//! the kiosk keeps its peer and room and waits in the other queue, the next agent's media
//! reaches it on the slot it had, and the call keeps one record with every agent's leg.
#![allow(clippy::unwrap_used)]

mod common;

use common::{World, secs};
use relais_call::{CallError, Input, Kinds, LegLeft, TransferTarget};
use relais_dispatch::Event;
use relais_proto::{AgentId, LegRole, Outcome, ServerMessage};

const KIOSK: u64 = 1;
const ALICE: u64 = 100;
const BOB: u64 = 101;

fn transfer(w: &mut World, to: &str) -> Result<relais_call::Verdict, CallError> {
    w.input(Input::Transfer {
        session: ALICE,
        to: TransferTarget::Service(to.to_owned()),
    })
}

#[test]
fn the_kiosk_keeps_its_peer_and_receives_the_next_agent_on_the_slot_it_had() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, alice) = w.media_up();
    w.ready_agent(BOB, "bob");
    transfer(&mut w, "cpam").unwrap();
    for session in [KIOSK, ALICE] {
        assert!(
            w.pushed(session).iter().any(|m| matches!(
                m,
                ServerMessage::CallTransferred { to, .. } if to == "cpam"
            )),
            "session {session} is told"
        );
    }
    assert_eq!(
        w.removed,
        vec![alice],
        "the agent's peer goes, the kiosk's stays"
    );
    assert!(w.rooms.contains(&call), "the room stays open");
    assert_eq!(w.offered.last(), Some(&(call, AgentId::from("bob"))));

    let before = w.subscriptions.len();
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("bob"),
    }));
    assert!(
        w.pushed(BOB)
            .iter()
            .any(|m| matches!(m, ServerMessage::MediaReady { .. }))
    );
    let kiosk_ready = w
        .pushed(KIOSK)
        .iter()
        .filter(|m| matches!(m, ServerMessage::MediaReady { .. }))
        .count();
    assert_eq!(kiosk_ready, 1, "the kiosk negotiates nothing again");
    let kiosk_view = w
        .pushed(KIOSK)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::Participants { participants, .. } => Some(participants.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(kiosk_view.len(), 1);
    assert_eq!(
        (kiosk_view[0].role, kiosk_view[0].name.as_str()),
        (LegRole::Agent, "bob")
    );
    let (_, bob) = w.negotiate(BOB);
    assert!(w.subscriptions[before..].contains(&(kiosk, bob, Kinds::BOTH)));
    assert!(w.subscriptions[before..].contains(&(bob, kiosk, Kinds::BOTH)));
    assert!(w.slot_offers.is_empty(), "the kiosk's slot is reused");
    assert!(w.records.is_empty(), "the call goes on");

    // Alice's wrap-up ends while the call goes on; then the kiosk hangs up.
    w.advance(secs(6));
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.summary.transfers, 1);
    let legs: Vec<(LegRole, &str, Option<&str>, LegLeft)> = record
        .legs
        .iter()
        .map(|l| {
            (
                l.role,
                l.subject.as_str(),
                l.queue.as_deref(),
                l.left.unwrap().1,
            )
        })
        .collect();
    assert_eq!(
        legs,
        vec![
            (LegRole::Kiosk, "borne-1", None, LegLeft::Ended),
            (LegRole::Agent, "alice", Some("caf"), LegLeft::Transferred),
            (LegRole::Agent, "bob", Some("cpam"), LegLeft::Ended),
        ]
    );
    assert_eq!(record.legs[1].wrap_up.as_ref().map(|w| w.0), Some(secs(5)));
    assert!(
        !w.wrap_ups.iter().any(|(c, _)| *c == call),
        "alice's wrap-up is in the record, not written on its own"
    );
}

#[test]
fn a_refused_transfer_leaves_the_call_with_its_agent() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    for to in ["caf", "nuit", "nowhere"] {
        let refused = w.dispatcher.handle(
            w.now,
            Event::Transfer {
                call,
                agent: AgentId::from("alice"),
                to: to.into(),
            },
        );
        let code = refused.unwrap_err().code();
        let expected = if to == "nowhere" {
            "unknown_queue"
        } else {
            "transfer_refused"
        };
        assert_eq!(code, expected, "to {to}");
        // Through the call core, as the server asks: nothing changes.
        let _ = transfer(&mut w, to);
    }
    assert!(w.removed.is_empty());
    assert!(
        !w.pushes
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::CallTransferred { .. }))
    );
    let state = &w.core.call(call).unwrap().state;
    assert!(
        matches!(state, relais_call::CallState::Connected { .. }),
        "{state:?}"
    );
    let kiosk = w.input(Input::Transfer {
        session: KIOSK,
        to: TransferTarget::Service("cpam".into()),
    });
    assert!(matches!(kiosk, Err(CallError::WrongState(_))), "{kiosk:?}");
}

#[test]
fn a_kiosk_that_hangs_up_while_transferred_ends_the_call_once_with_its_legs() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    transfer(&mut w, "cpam").unwrap();
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    let record = w.record_of(call).unwrap();
    assert!(
        matches!(record.outcome, Outcome::Abandoned | Outcome::AbandonedShort),
        "{:?}",
        record.outcome
    );
    assert_eq!(record.legs.len(), 2);
    assert!(w.rooms.is_empty(), "the room is closed");
    assert!(w.core.call(call).is_none());
    assert_eq!(w.records.iter().filter(|r| r.call == call).count(), 1);
}

#[test]
fn a_transfer_to_a_named_agent_offers_the_call_to_that_agent_and_falls_back_to_the_queue() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, _) = w.media_up();
    let to_bob = |w: &mut World| {
        w.input(Input::Transfer {
            session: ALICE,
            to: TransferTarget::Agent("bob".into()),
        })
    };
    // Bob is not logged in: nothing changes.
    let _ = to_bob(&mut w);
    assert!(w.removed.is_empty());
    w.ready_agent(BOB, "bob");
    w.ready_agent(103, "carla");
    to_bob(&mut w).unwrap();
    assert!(w.pushed(KIOSK).iter().any(|m| matches!(
        m,
        ServerMessage::CallTransferred { agent: Some(a), to, .. } if a == "bob" && to == "caf"
    )));
    assert_eq!(
        w.offered.last(),
        Some(&(call, AgentId::from("bob"))),
        "offered to bob at once, although carla waited longer"
    );
    // Bob declines: the call waits at the head of its queue and goes to carla, not alice.
    assert!(w.dispatch(Event::Reject {
        call,
        agent: AgentId::from("bob"),
    }));
    assert_eq!(w.offered.last(), Some(&(call, AgentId::from("carla"))));
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("carla"),
    }));
    let (_, carla) = w.negotiate(103);
    assert!(w.subscriptions.contains(&(kiosk, carla, Kinds::BOTH)));
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    let record = w.record_of(call).unwrap();
    let agents: Vec<&str> = record
        .legs
        .iter()
        .filter(|l| l.role == LegRole::Agent)
        .map(|l| l.subject.as_str())
        .collect();
    assert_eq!(agents, vec!["alice", "carla"]);
}
