//! Position and ETA notices: first notice, updates when calls ahead leave, rate limits, the
//! window of the first K calls and the slow sweep beyond it.

mod common;

use common::*;
use relais_dispatch::*;

#[test]
fn a_new_call_gets_its_position_at_once() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    let cmds = h.enqueue(2, "caf");
    assert_eq!(positions(&cmds), vec![(2, 2)]);
}

#[test]
fn a_call_offered_at_once_gets_no_position() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("a", &[]);
    let cmds = h.enqueue(1, "caf");
    assert!(positions(&cmds).is_empty());
}

#[test]
fn a_call_offered_at_once_learns_its_position_when_it_comes_back_to_the_queue() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("a", &[]);
    h.login_ready("b", &[]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    // Refused: no other agent is free, the call waits first in line and is told so.
    let cmds = h.reject(1, "a");
    assert_eq!(positions(&cmds), vec![(1, 1)]);
    // Missed: the same.
    let cmds = h.advance(secs(31));
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Command::QueuePosition {
                call: CallId(2),
                ..
            }
        )),
        "{cmds:?}"
    );
}

#[test]
fn a_call_that_comes_back_is_told_its_place_and_estimate_again() {
    let mut q = queue("caf");
    q.assumed_handle_time = secs(100);
    let mut h = Harness::new(vec![q]);
    let cmds = h.enqueue(1, "caf");
    assert_eq!(
        cmds.iter().find_map(|c| match c {
            Command::QueuePosition { position, eta, .. } => Some((*position, *eta)),
            _ => None,
        }),
        Some((1, None)),
        "nobody serves the queue: no estimate"
    );
    h.login_ready("a", &[]);
    let cmds = h.reject(1, "a");
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Command::QueuePosition {
                call: CallId(1),
                position: 1,
                eta: Some(_)
            }
        )),
        "the same place, now with an estimate: {cmds:?}"
    );
}

#[test]
fn positions_update_when_a_call_ahead_leaves() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    h.enqueue(3, "caf");
    h.advance(secs(3));
    let cmds = h.abandon(1);
    assert_eq!(positions(&cmds), vec![(2, 1), (3, 2)]);
}

#[test]
fn notices_are_rate_limited_per_call() {
    let mut h = Harness::new(vec![queue("caf")]);
    for i in 1..=4 {
        h.enqueue(i, "caf");
    }
    h.advance(secs(3));
    assert_eq!(positions(&h.abandon(1)), vec![(2, 1), (3, 2), (4, 3)]);
    h.advance(ms(500));
    let cmds = h.abandon(2);
    assert!(
        positions(&cmds).is_empty(),
        "less than 2 s since the last notice"
    );
    let cmds = h.advance(ms(1500));
    assert_eq!(positions(&cmds), vec![(3, 1), (4, 2)]);
}

#[test]
fn calls_beyond_the_window_are_told_at_most_every_30_seconds() {
    let mut cfg = DispatchConfig::with_queues(vec![queue("caf")]);
    cfg.position_window = 2;
    let mut h = Harness::with_config(cfg, 1);
    for i in 1..=5 {
        h.enqueue(i, "caf");
    }
    h.advance(secs(3));
    let cmds = h.abandon(1);
    // Window (first 2) now; call 4 and 5 (positions 3, 4) wait for the sweep.
    assert_eq!(positions(&cmds), vec![(2, 1), (3, 2)]);
    // The sweep beyond the window runs at most every 30 s per queue: at 33 s.
    let cmds = h.advance(secs(29));
    assert!(positions(&cmds).is_empty());
    let cmds = h.advance(secs(1));
    assert_eq!(positions(&cmds), vec![(4, 3), (5, 4)]);
    h.advance(secs(3));
    assert_eq!(positions(&h.abandon(2)), vec![(3, 1), (4, 2)]);
    let cmds = h.advance(secs(26));
    assert!(positions(&cmds).is_empty(), "sweep not due before 63 s");
    let cmds = h.advance(secs(1));
    assert_eq!(positions(&cmds), vec![(5, 3)]);
}

#[test]
fn callback_calls_get_no_position_notices() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    h.ev(Event::CallbackRequest {
        call: CallId(2),
        task: CallId(102),
        not_before: None,
    });
    h.advance(secs(3));
    assert!(positions(&h.abandon(1)).is_empty());
}

#[test]
fn position_notice_carries_the_eta() {
    let mut q = queue("caf");
    q.assumed_handle_time = secs(100);
    let mut h = Harness::new(vec![q]);
    h.login_ready("a", &[]);
    h.enqueue(1, "caf");
    let cmds = h.enqueue(2, "caf");
    let eta = cmds.iter().find_map(|c| match c {
        Command::QueuePosition { eta, .. } => Some(*eta),
        _ => None,
    });
    assert_eq!(eta, Some(Some(secs(100))));
}

#[test]
fn a_rate_limited_notice_is_sent_later_without_further_events() {
    let mut h = Harness::new(vec![queue("caf")]);
    for i in 1..=3 {
        h.enqueue(i, "caf");
    }
    h.advance(secs(1));
    // Calls 2 and 3 were told their position 1 s ago: their new one must wait until 2 s.
    assert!(positions(&h.abandon(1)).is_empty());
    assert!(matches!(
        h.d.poll_timeout(),
        Some((_, TimeoutReason::PositionRefresh))
    ));
    // The queue was refreshed at 1 s, so its next refresh is at 3 s (one per 2 s per queue).
    assert!(positions(&h.advance(ms(1999))).is_empty());
    let cmds = h.advance(ms(1));
    assert_eq!(positions(&cmds), vec![(2, 1), (3, 2)]);
}
