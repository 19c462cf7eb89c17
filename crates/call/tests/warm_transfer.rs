//! Warm transfer as the call core carries it with a real dispatcher: the agent consults a
//! colleague while the kiosk is on hold (it receives nobody, nobody receives it), then hands the
//! call over (the kiosk keeps its peer and receives the colleague on the slot it had) or ends
//! the consultation (the kiosk comes back to its agent); one record with both agents' legs.
#![allow(clippy::unwrap_used)]

mod common;

use common::{World, secs};
use relais_call::{CallError, Input, LegLeft};
use relais_dispatch::{AgentState, Event};
use relais_proto::{AgentId, CallId, ConsultState, LegRole, Outcome, ServerMessage};

const KIOSK: u64 = 1;
const ALICE: u64 = 100;
const BOB: u64 = 101;

fn consult(w: &mut World, aux: u64) -> Result<relais_call::Verdict, CallError> {
    w.input(Input::Consult {
        session: ALICE,
        call: CallId(aux),
        agent: "bob".to_owned(),
    })
}

fn holds(w: &World) -> Vec<bool> {
    w.pushed(KIOSK)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Hold { on, .. } => Some(*on),
            _ => None,
        })
        .collect()
}

fn statuses(w: &World, session: u64) -> Vec<ConsultState> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::ConsultStatus { status, .. } => Some(*status),
            _ => None,
        })
        .collect()
}

fn state_of(w: &World, agent: &str) -> AgentState {
    w.dispatcher
        .agent_state(&AgentId::from(agent.to_owned()))
        .unwrap()
        .0
}

#[test]
fn a_warm_transfer_hands_the_call_over_with_the_kiosk_on_the_same_peer() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, alice) = w.media_up();
    w.ready_agent(BOB, "bob");
    consult(&mut w, 500).unwrap();

    // The kiosk is on hold: neither side receives the other.
    assert_eq!(holds(&w), vec![true]);
    assert!(!w.receives(kiosk, alice) && !w.receives(alice, kiosk));
    assert_eq!(statuses(&w, ALICE), vec![ConsultState::Ringing]);
    assert!(w.pushed(BOB).iter().any(|m| matches!(
        m,
        ServerMessage::Offered { call: c, consult_from: Some(from), .. }
            if *c == CallId(500) && from == "alice"
    )));
    let chat = w.input(Input::Chat {
        session: KIOSK,
        text: "allô ?".into(),
        at_ms: 0,
    });
    assert!(matches!(chat, Err(CallError::WrongState(_))), "{chat:?}");
    assert!(matches!(
        w.input(Input::CompleteTransfer { session: ALICE }),
        Err(CallError::WrongState(_))
    ));

    // Bob answers and joins the call: he and alice talk, the kiosk still waits.
    assert!(w.dispatch(Event::Accept {
        call: CallId(500),
        agent: AgentId::from("bob"),
    }));
    assert!(w.pushed(BOB).iter().any(|m| matches!(
        m,
        ServerMessage::MediaReady { call: c, .. } if *c == call
    )));
    assert!(w.pushed(BOB).iter().any(|m| matches!(
        m,
        ServerMessage::AgentState { call: Some(c), .. } if *c == call
    )));
    assert_eq!(statuses(&w, BOB), vec![ConsultState::Joined]);
    let (_, bob) = w.negotiate(BOB);
    w.connected(bob);
    assert!(w.receives(alice, bob) && w.receives(bob, alice));
    assert!(!w.receives(kiosk, bob) && !w.receives(bob, kiosk));
    // A consulted colleague does not act for the call.
    let bob_transfers = w.input(Input::CompleteTransfer { session: BOB });
    assert!(matches!(bob_transfers, Err(CallError::WrongState(_))));

    w.advance(secs(2));
    w.input(Input::CompleteTransfer { session: ALICE }).unwrap();
    assert!(w.pushed(ALICE).iter().any(|m| matches!(
        m,
        ServerMessage::CallTransferred { agent: Some(a), .. } if a == "bob"
    )));
    assert_eq!(holds(&w), vec![true, false]);
    assert!(w.removed.contains(&alice), "alice's peer goes");
    assert!(!w.removed.contains(&kiosk) && !w.removed.contains(&bob));
    assert!(w.receives(kiosk, bob) && w.receives(bob, kiosk));
    assert!(w.slot_offers.is_empty(), "the kiosk's slot is reused");
    let kiosk_ready = w
        .pushed(KIOSK)
        .iter()
        .filter(|m| matches!(m, ServerMessage::MediaReady { .. }))
        .count();
    assert_eq!(kiosk_ready, 1, "the kiosk negotiates nothing again");
    let seen = w
        .pushed(KIOSK)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::Participants { participants, .. } => Some(participants.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        seen.iter()
            .map(|p| (p.role, p.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(LegRole::Agent, "bob")]
    );
    assert_eq!(state_of(&w, "bob"), AgentState::OnCall { call });
    assert!(matches!(state_of(&w, "alice"), AgentState::WrapUp { .. }));
    // Bob is the agent now: he hangs up for everyone.
    w.advance(secs(3));
    w.input(Input::Hangup { session: BOB }).unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.summary.transfers, 1);
    assert_eq!(
        record.summary.agent.as_ref().map(|a| a.as_str()),
        Some("bob")
    );
    let legs: Vec<(LegRole, &str, LegLeft)> = record
        .legs
        .iter()
        .map(|l| (l.role, l.subject.as_str(), l.left.unwrap().1))
        .collect();
    assert_eq!(
        legs,
        vec![
            (LegRole::Kiosk, "borne-1", LegLeft::Ended),
            (LegRole::Agent, "alice", LegLeft::Transferred),
            (LegRole::Agent, "bob", LegLeft::Ended),
        ]
    );
    assert!(
        w.record_of(CallId(500)).is_none(),
        "a consultation has no record"
    );
    assert_eq!(w.records.len(), 1);
}

#[test]
fn a_declined_or_cancelled_consultation_gives_the_kiosk_back_to_its_agent() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, alice) = w.media_up();
    w.ready_agent(BOB, "bob");

    // Declined.
    consult(&mut w, 500).unwrap();
    assert!(w.dispatch(Event::Reject {
        call: CallId(500),
        agent: AgentId::from("bob"),
    }));
    assert_eq!(holds(&w), vec![true, false]);
    assert_eq!(
        statuses(&w, ALICE),
        vec![ConsultState::Ringing, ConsultState::Declined]
    );
    assert!(w.receives(kiosk, alice) && w.receives(alice, kiosk));

    // Answered, then cancelled by alice.
    consult(&mut w, 501).unwrap();
    assert!(w.dispatch(Event::Accept {
        call: CallId(501),
        agent: AgentId::from("bob"),
    }));
    let (_, bob) = w.negotiate(BOB);
    w.input(Input::CancelConsult { session: ALICE }).unwrap();
    assert!(w.removed.contains(&bob));
    assert_eq!(statuses(&w, BOB).last(), Some(&ConsultState::Ended));
    assert_eq!(state_of(&w, "bob"), AgentState::Available);
    assert!(w.receives(kiosk, alice) && w.receives(alice, kiosk));
    assert_eq!(holds(&w), vec![true, false, true, false]);

    // Answered, then bob hangs up: only the consultation ends.
    consult(&mut w, 502).unwrap();
    assert!(w.dispatch(Event::Accept {
        call: CallId(502),
        agent: AgentId::from("bob"),
    }));
    w.negotiate(BOB);
    w.input(Input::Hangup { session: BOB }).unwrap();
    assert!(w.records.is_empty(), "the call goes on");
    assert_eq!(state_of(&w, "alice"), AgentState::OnCall { call });

    // Answered, then the kiosk hangs up: the call ends and so does the consultation.
    consult(&mut w, 503).unwrap();
    assert!(w.dispatch(Event::Accept {
        call: CallId(503),
        agent: AgentId::from("bob"),
    }));
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    assert_eq!(state_of(&w, "bob"), AgentState::Available);
    let record = w.record_of(call).unwrap();
    let agents: Vec<(&str, LegLeft)> = record
        .legs
        .iter()
        .filter(|l| l.role == LegRole::Agent)
        .map(|l| (l.subject.as_str(), l.left.unwrap().1))
        .collect();
    assert_eq!(
        agents,
        vec![
            ("alice", LegLeft::Ended),
            ("bob", LegLeft::Left),
            ("bob", LegLeft::Left),
            ("bob", LegLeft::Left),
        ],
        "each consultation the colleague answered is a leg of the record"
    );
    assert_eq!(w.records.len(), 1);
}

#[test]
fn a_consultation_is_refused_when_it_cannot_start_and_changes_nothing() {
    let mut w = World::new();
    let _call = w.answered();
    let (kiosk, alice) = w.media_up();
    // Bob is not logged in: the dispatcher refuses, nothing is on hold.
    let _ = consult(&mut w, 500);
    assert!(holds(&w).is_empty());
    assert!(w.receives(kiosk, alice));
    // Yourself, or from the kiosk.
    let me = w.input(Input::Consult {
        session: ALICE,
        call: CallId(501),
        agent: "alice".into(),
    });
    assert!(matches!(me, Err(CallError::WrongState(_))), "{me:?}");
    let kiosk_asks = w.input(Input::Consult {
        session: KIOSK,
        call: CallId(502),
        agent: "bob".into(),
    });
    assert!(matches!(kiosk_asks, Err(CallError::WrongState(_))));
    // Once bob is there, the refused request left nothing in the way.
    w.ready_agent(BOB, "bob");
    consult(&mut w, 503).unwrap();
    assert_eq!(holds(&w), vec![true]);
    let twice = consult(&mut w, 504);
    assert!(matches!(twice, Err(CallError::WrongState(_))), "{twice:?}");
    assert!(matches!(
        w.input(Input::CancelConsult { session: KIOSK }),
        Err(CallError::WrongState(_))
    ));
    // Withdrawn while it rings: an end, not a refusal.
    w.input(Input::CancelConsult { session: ALICE }).unwrap();
    assert_eq!(statuses(&w, ALICE).last(), Some(&ConsultState::Ended));
    assert_eq!(holds(&w), vec![true, false]);
    consult(&mut w, 505).unwrap();
    // The offer runs out: the kiosk comes back.
    w.advance(secs(30));
    assert_eq!(holds(&w), vec![true, false, true, false]);
    assert_eq!(statuses(&w, ALICE).last(), Some(&ConsultState::Declined));
    assert!(w.receives(kiosk, alice));
}
