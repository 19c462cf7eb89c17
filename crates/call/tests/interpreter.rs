//! An interpreter joins a call from an interpreter queue, with a real dispatcher: the
//! request waits and is offered like a call, the interpreter who accepts joins as a full
//! participant, leaves while the call goes on, and each call keeps its own record.
#![allow(clippy::unwrap_used)]

mod common;

use common::{World, secs};
use relais_call::{CallError, Input, Kinds, Verdict};
use relais_dispatch::Event;
use relais_proto::{AgentId, InterpreterState, LegRole, Outcome, ServerMessage};

const KIOSK: u64 = 1;
const ALICE: u64 = 100;
const INES: u64 = 102;

fn statuses(w: &World) -> Vec<InterpreterState> {
    w.pushed(ALICE)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::InterpreterStatus { status, .. } => Some(*status),
            _ => None,
        })
        .collect()
}

#[test]
fn an_interpreter_joins_as_a_third_participant_and_leaves_while_the_call_goes_on() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, alice) = w.media_up();
    w.ready_agent(INES, "ines");
    let Verdict::Queued(aux) = w.ask_interpreter(ALICE, "lsf").unwrap() else {
        panic!("the request waits in its queue");
    };
    assert_ne!(aux, call);
    assert_eq!(statuses(&w), vec![InterpreterState::Waiting]);
    assert!(
        matches!(
            w.ask_interpreter(ALICE, "lsf"),
            Err(CallError::WrongState(_))
        ),
        "one request at a time"
    );
    assert_eq!(w.offered.last(), Some(&(aux, AgentId::from("ines"))));
    assert!(w.dispatch(Event::Accept {
        call: aux,
        agent: AgentId::from("ines"),
    }));
    assert!(w.pushed(INES).iter().any(|m| matches!(
        m,
        ServerMessage::MediaReady { call: c, .. } if *c == call
    )));
    assert_eq!(statuses(&w).last(), Some(&InterpreterState::Joined));
    // Its console is told it is on the call it joined, not on its own call's id.
    let on_call = w.pushed(INES).into_iter().rev().find_map(|m| match m {
        ServerMessage::AgentState {
            state: relais_proto::AgentStateName::OnCall,
            call,
            ..
        } => Some(*call),
        _ => None,
    });
    assert_eq!(on_call, Some(Some(call)));
    let before = w.subscriptions.len();
    let (_, ines) = w.negotiate(INES);
    // Everyone receives the interpreter once its slot is negotiated, and it receives both.
    assert!(w.subscriptions[before..].contains(&(ines, kiosk, Kinds::BOTH)));
    assert!(w.subscriptions[before..].contains(&(ines, alice, Kinds::BOTH)));
    assert_eq!(w.slot_offers, vec![(call, kiosk, 1), (call, alice, 1)]);
    let kiosk_view = w
        .pushed(KIOSK)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::Participants { participants, .. } => Some(participants.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        kiosk_view
            .iter()
            .any(|p| p.role == LegRole::Interpreter && p.name == "ines")
    );

    // The interpreter hangs up: its own call ends, with its record; the call goes on.
    w.advance(secs(30));
    w.input(Input::Hangup { session: INES }).unwrap();
    assert!(w.removed.contains(&ines));
    let record = w.record_of(aux).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.summary.queue.as_str(), "lsf");
    assert_eq!(record.summary.agent, Some(AgentId::from("ines")));
    assert_eq!(record.legs.len(), 1, "the interpreter's time in the call");
    assert!(w.record_of(call).is_none(), "the call goes on");
    assert_eq!(statuses(&w).last(), Some(&InterpreterState::Left));
    assert!(
        w.core
            .call(call)
            .unwrap()
            .leg_of_role(LegRole::Interpreter)
            .is_none()
    );

    // The call ends normally; its record lists the interpreter's leg too.
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    let record = w.record_of(call).unwrap();
    let roles: Vec<LegRole> = record.legs.iter().map(|l| l.role).collect();
    assert_eq!(
        roles,
        vec![LegRole::Kiosk, LegRole::Agent, LegRole::Interpreter]
    );
}

#[test]
fn the_end_of_the_call_ends_the_interpreters_call_or_its_wait() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let Verdict::Queued(aux) = w.ask_interpreter(ALICE, "lsf").unwrap() else {
        panic!("queued");
    };
    // Nobody can take it yet; the call ends first.
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    assert!(w.record_of(call).is_some());
    let aux_record = w.record_of(aux).unwrap();
    assert!(
        matches!(
            aux_record.outcome,
            Outcome::Abandoned | Outcome::AbandonedShort
        ),
        "{:?}",
        aux_record.outcome
    );
    assert_eq!(
        statuses(&w).len(),
        1,
        "the agent's call is over: no status to push"
    );

    // A kiosk or a waiting call cannot ask; an interpreter service that is closed refuses.
    let refused = w.ask_interpreter(KIOSK, "lsf");
    assert!(refused.is_err());
}

#[test]
fn a_transfer_ends_the_interpreters_call_with_the_conversation_it_served() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    w.ready_agent(INES, "ines");
    let Verdict::Queued(aux) = w.ask_interpreter(ALICE, "lsf").unwrap() else {
        panic!("queued");
    };
    assert!(w.dispatch(Event::Accept {
        call: aux,
        agent: AgentId::from("ines"),
    }));
    let (_, ines) = w.negotiate(INES);
    w.input(Input::Transfer {
        session: ALICE,
        to: relais_call::TransferTarget::Service("cpam".into()),
    })
    .unwrap();
    let record = w.record_of(aux).expect("the interpreter's call ended");
    assert_eq!(record.outcome, Outcome::Answered);
    assert!(w.removed.contains(&ines));
    assert!(
        w.core
            .call(call)
            .unwrap()
            .leg_of_role(LegRole::Interpreter)
            .is_none()
    );
    // A new interpreter may be asked for by the next agent.
    assert!(w.core.call(call).is_some());
}
