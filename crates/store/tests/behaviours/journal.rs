//! The journal of calls in progress: batches are all or nothing and may be applied twice, and
//! what a stop cut short is closed at the next start.

use relais_proto::{EndReason, Outcome};
use relais_store::{JournalOp, LegRecord, LiveCall, LiveState, Store};

use crate::support::{TempDir, answered_call};

fn leg(seq: u32, role: &str, subject: &str, joined_at_ms: i64) -> LegRecord {
    LegRecord {
        seq,
        role: role.to_owned(),
        subject: subject.to_owned(),
        queue: (role == "agent").then(|| "caf".to_owned()),
        joined_at_ms,
        left_at_ms: 0,
        left_because: String::new(),
        wrap_up_ms: None,
        disposition: None,
    }
}

fn live(call_id: u64, state: LiveState, agent: Option<&str>) -> LiveCall {
    let mut legs = vec![leg(0, "kiosk", "borne-1", 1_000)];
    if let Some(agent) = agent {
        legs.push(leg(1, "agent", agent, 5_000));
    }
    LiveCall {
        call_id,
        queue: "caf".to_owned(),
        origin_queue: "caf".to_owned(),
        kiosk: format!("borne-{call_id}"),
        site: "mairie".to_owned(),
        priority: 0,
        enqueued_at_ms: 1_000,
        state,
        agent: agent.map(str::to_owned),
        answered_at_ms: agent.map(|_| 5_000),
        ended_at_ms: None,
        attempts: u32::from(agent.is_some()),
        legs,
        updated_at_ms: 5_000,
    }
}

#[test]
fn a_batch_is_applied_whole_and_can_be_applied_again() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let record = answered_call(7, "alice", 60_000);
    let batch = vec![
        JournalOp::Live(Box::new(live(7, LiveState::Connected, Some("alice")))),
        JournalOp::Live(Box::new(live(8, LiveState::Waiting, None))),
        JournalOp::Ended {
            record: Box::new(record.clone()),
            legs: Vec::new(),
            chat: Vec::new(),
            wrap_up_of: Some("alice".to_owned()),
        },
        JournalOp::Heartbeat { at_ms: 61_000 },
    ];
    store.commit_batch(&batch).unwrap();
    // A retried batch (the first commit's answer was lost) changes nothing.
    store.commit_batch(&batch).unwrap();
    assert_eq!(store.call(7).unwrap(), Some(record));
    let states: Vec<(u64, LiveState)> = store
        .live_calls()
        .unwrap()
        .iter()
        .map(|c| (c.call_id, c.state))
        .collect();
    assert_eq!(
        states,
        vec![(7, LiveState::WrapUp), (8, LiveState::Waiting)]
    );
    assert_eq!(store.last_heartbeat().unwrap(), Some(61_000));

    store
        .commit_batch(&[JournalOp::WrapUp {
            call_id: 7,
            agent: "alice".to_owned(),
            wrap_up_ms: 4_000,
            disposition: Some("renseigne".to_owned()),
        }])
        .unwrap();
    assert_eq!(store.call(7).unwrap().unwrap().wrap_up_ms, Some(4_000));
    assert_eq!(store.live_calls().unwrap().len(), 1, "the wrap-up row goes");
}

#[test]
fn a_stop_records_connected_calls_completes_wrap_ups_and_keeps_waiting_ones() {
    let dir = TempDir::new();
    let path = dir.db();
    {
        let store = Store::open(&path).unwrap();
        store
            .commit_batch(&[
                JournalOp::Live(Box::new(live(1, LiveState::Connected, Some("alice")))),
                JournalOp::Live(Box::new(live(2, LiveState::Waiting, None))),
                JournalOp::Live(Box::new(live(3, LiveState::Connected, Some("bob")))),
                JournalOp::Ended {
                    record: Box::new(answered_call(3, "bob", 20_000)),
                    legs: Vec::new(),
                    chat: Vec::new(),
                    wrap_up_of: Some("bob".to_owned()),
                },
                JournalOp::Heartbeat { at_ms: 30_000 },
            ])
            .unwrap();
    }
    // The next start.
    let store = Store::open(&path).unwrap();
    let stopped = store.last_heartbeat().unwrap().unwrap();
    let waiting = store.close_interrupted(stopped).unwrap();
    assert_eq!(
        waiting.iter().map(|c| c.call_id).collect::<Vec<_>>(),
        vec![2]
    );
    let cut = store.call(1).unwrap().unwrap();
    assert_eq!(cut.outcome, Outcome::Interrupted);
    assert_eq!(cut.end_reason, Some(EndReason::Restart));
    assert_eq!(
        (cut.ended_at_ms, cut.wait_ms, cut.talk_ms),
        (30_000, 4_000, Some(25_000))
    );
    let legs = store.legs_of(1).unwrap();
    assert_eq!(legs.len(), 2);
    assert!(
        legs.iter()
            .all(|l| l.left_at_ms == 30_000 && l.left_because == "ended")
    );
    assert_eq!(
        store.call(3).unwrap().unwrap().wrap_up_ms,
        Some(10_000),
        "bob's wrap-up ends with the stop"
    );
    assert_eq!(store.live_calls().unwrap().len(), 1);
    // Closing twice closes nothing more.
    assert_eq!(store.close_interrupted(stopped).unwrap().len(), 1);
}
