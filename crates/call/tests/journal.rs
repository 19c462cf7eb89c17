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
        agent: AgentId("bob".into()),
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
    // Bob's connection drops: the call waits again at the head of its queue.
    w.input(Input::SessionClosed { session: 101 }).unwrap();
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
