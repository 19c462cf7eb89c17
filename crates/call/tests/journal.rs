//! What the call core journals for recovery: a call as it stands after each change that
//! matters (queued, answered, handed on, back in its queue).
#![allow(clippy::unwrap_used)]

mod common;

use common::World;
use relais_call::{Input, TransferTarget};
use relais_dispatch::Event;
use relais_proto::AgentId;

#[test]
fn every_change_that_matters_for_recovery_is_journalled_before_what_follows() {
    let mut w = World::new();
    let call = w.answered();
    let agents: Vec<Option<&str>> = w
        .journal
        .iter()
        .filter(|j| j.call == call)
        .map(|j| j.agent.as_ref().map(|(a, _)| a.as_str()))
        .collect();
    assert_eq!(agents, vec![None, Some("alice")], "queued, then answered");
    let placed = w.journal[0].placed_at;
    assert_eq!(w.journal[0].queue, "caf");

    w.input(Input::Transfer {
        session: 100,
        to: TransferTarget::Service("cpam".into()),
    })
    .unwrap();
    let last = w.journal.last().unwrap();
    assert_eq!((last.call, last.queue.as_str()), (call, "cpam"));
    assert_eq!(last.service, "caf", "the service it was placed to stays");
    assert!(last.agent.is_none(), "waiting again");
    assert_eq!(last.placed_at, placed, "its enqueue time stays");
    assert_eq!(last.legs.len(), 2, "alice's leg is kept for the record");

    w.ready_agent(101, "bob");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("bob"),
    }));
    assert_eq!(
        w.journal
            .last()
            .unwrap()
            .agent
            .as_ref()
            .map(|(a, _)| a.as_str()),
        Some("bob")
    );
    // Bob's connection drops and he is not back within his grace period: the call waits
    // again at the head of its queue.
    w.input(Input::SessionClosed { session: 101 }).unwrap();
    assert!(
        w.journal.last().unwrap().agent.is_some(),
        "bob may come back"
    );
    w.advance(common::secs(30));
    assert!(w.journal.last().unwrap().agent.is_none());
    let before = w.journal.len();
    w.input(Input::Hangup { session: 1 }).ok();
    w.input(Input::Cancel { session: 1 }).ok();
    assert_eq!(
        w.journal.len(),
        before,
        "an end is a record, not a journal entry"
    );
    assert!(w.record_of(call).is_some());
}

#[test]
fn a_call_requeued_after_its_agent_vanished_records_both_agents_and_its_first_wait() {
    let mut w = World::new();
    let call = w.answered();
    w.advance(common::secs(10));
    // Alice's console is gone for good: after her grace period the call waits again, and
    // bob takes it.
    w.input(Input::SessionClosed { session: 100 }).unwrap();
    w.advance(common::secs(30));
    w.ready_agent(101, "bob");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("bob"),
    }));
    w.advance(common::secs(5));
    w.input(Input::Hangup { session: 1 }).unwrap();
    let record = w.record_of(call).unwrap();
    let legs: Vec<(&str, relais_call::LegLeft)> = record
        .legs
        .iter()
        .map(|l| (l.subject.as_str(), l.left.unwrap().1))
        .collect();
    assert_eq!(
        legs,
        vec![
            ("borne-1", relais_call::LegLeft::Ended),
            ("alice", relais_call::LegLeft::Interrupted),
            ("bob", relais_call::LegLeft::Ended),
        ]
    );
    assert!(
        record.summary.wait < common::secs(1),
        "the wait ends at the first answer, not after alice's talk: {:?}",
        record.summary.wait
    );
    assert_eq!(record.summary.talk, Some(common::secs(5)), "bob's talk");
}
