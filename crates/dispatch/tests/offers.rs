//! Offer handling: deadlines, original place, back-off, missed offers, first accept wins.

mod common;

use common::*;
use relais_dispatch::*;

#[test]
fn call_is_offered_to_available_agent_with_deadline() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    let cmds = h.enqueue(1, "caf");
    assert_eq!(offers(&cmds), vec![(1, "alice".to_string())]);
    let deadline = cmds
        .iter()
        .find_map(|c| match c {
            Command::Offer {
                deadline, attempt, ..
            } => Some((*deadline, *attempt)),
            _ => None,
        })
        .unwrap();
    assert_eq!(deadline, (h.now + secs(20), 1));
    assert!(reserved(1)(&h.state("alice")));
}

#[test]
fn offer_timeout_requeues_at_original_place() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf"); // offered to alice
    h.advance(secs(1));
    h.enqueue(2, "caf");
    h.enqueue(3, "caf");
    let cmds = h.advance(secs(20)); // alice's offer expires
    assert!(cmds.iter().any(|c| matches!(c,
        Command::OfferWithdrawn { call, reason: WithdrawReason::Expired, .. } if call.0 == 1)));
    // Alice (excluded from call 1 for now) is offered call 2; call 1 is back at the head.
    assert!(reserved(2)(&h.state("alice")));
    let queued: Vec<(u64, Option<usize>)> =
        h.d.waiting_calls(&"caf".into(), h.now)
            .iter()
            .filter(|c| c.status == CallStatus::Queued)
            .map(|c| (c.call.0, c.position))
            .collect();
    assert_eq!(
        queued,
        vec![(1, Some(1)), (3, Some(2))],
        "call 1 is back ahead of 3"
    );
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 1);
    let view = h.d.call_view(CallId(1), h.now).unwrap();
    assert_eq!(view.enqueued_at, h.start, "enqueue time kept");
}

#[test]
fn missed_agent_is_not_reoffered_the_same_call_at_once() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    let cmds = h.advance(secs(20));
    // Alice is available again (one miss) but not offered call 1 right away.
    assert_eq!(h.state("alice"), AgentState::Available);
    assert!(offers(&cmds).is_empty());
    // Another call is offered to her meanwhile.
    let cmds = h.enqueue(2, "caf");
    assert_eq!(offers(&cmds), vec![(2, "alice".to_string())]);
}

#[test]
fn missed_call_goes_to_another_eligible_agent_first() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf"); // alice
    h.advance(secs(5));
    h.login("bob", &[]);
    h.advance(secs(14));
    h.ready("bob"); // bob ready before the deadline, but alice holds the call
    let cmds = h.advance(secs(1)); // deadline
    assert_eq!(offers(&cmds), vec![(1, "bob".to_string())]);
}

#[test]
fn missed_agent_is_reoffered_after_the_backoff() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.advance(secs(20)); // miss 1
    let cmds = h.advance(secs(9));
    assert!(offers(&cmds).is_empty());
    let cmds = h.advance(secs(1)); // back-off of 10 s over
    assert_eq!(offers(&cmds), vec![(1, "alice".to_string())]);
}

#[test]
fn missed_agent_is_reoffered_once_another_agent_was_tried() {
    let mut cfg = DispatchConfig::with_queues(vec![queue("caf")]);
    cfg.max_missed_offers = 0;
    let mut h = Harness::with_config(cfg, 1);
    h.login_ready("alice", &[]);
    h.login("bob", &[]);
    h.enqueue(1, "caf"); // alice
    h.advance(secs(20)); // alice misses; nobody else
    h.ready("bob"); // bob gets it
    assert!(reserved(1)(&h.state("bob")));
    // bob misses too: alice was not offered since bob was tried: she may take it now.
    let cmds = h.advance(secs(20));
    assert_eq!(offers(&cmds), vec![(1, "alice".to_string())]);
}

#[test]
fn consecutive_missed_offers_auto_pause_the_agent() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    h.advance(secs(20)); // miss 1 on call 1, then offered call 2
    assert!(reserved(2)(&h.state("alice")));
    let cmds = h.advance(secs(20)); // miss 2
    assert_eq!(
        h.state("alice"),
        AgentState::NotReady {
            reason: "missed".into()
        }
    );
    assert!(cmds.iter().any(|c| matches!(c,
        Command::AgentStateChanged { state: AgentState::NotReady { reason }, .. } if reason == "missed")));
}

#[test]
fn accept_resets_the_missed_offer_count() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.advance(secs(20)); // miss 1
    h.enqueue(2, "caf"); // offered to alice
    h.accept(2, "alice");
    h.hangup(2); // no wrap-up: available, takes call 1 after back-off
    h.advance(secs(10));
    assert!(reserved(1)(&h.state("alice")));
    h.advance(secs(20)); // a single miss after the accept
    assert_eq!(h.state("alice"), AgentState::Available);
}

#[test]
fn reject_returns_call_without_pausing_and_avoids_immediate_reoffer() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    let cmds = h.reject(1, "alice");
    assert_eq!(h.state("alice"), AgentState::Available);
    assert!(offers(&cmds).is_empty(), "not re-offered at once");
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 1);
    let cmds = h.advance(secs(10));
    assert_eq!(offers(&cmds), vec![(1, "alice".to_string())]);
    h.reject(1, "alice");
    h.advance(secs(10));
    h.reject(1, "alice");
    assert_eq!(
        h.state("alice"),
        AgentState::Available,
        "rejects never auto-pause"
    );
}

#[test]
fn first_accept_wins() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.login_ready("bob", &[]);
    h.enqueue(1, "caf"); // alice (longest idle)
    assert!(reserved(1)(&h.state("alice")));
    let cmds = h.accept(1, "alice");
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::CallAnswered { call, .. } if call.0 == 1))
    );
    let err = h.try_accept(1, "bob").unwrap_err();
    assert_eq!(
        err,
        DispatchError::NoLongerOffered {
            call: CallId(1),
            agent: "bob".into()
        }
    );
    assert_eq!(err.code(), "no_longer_offered");
    assert_eq!(h.state("bob"), AgentState::Available);
}

#[test]
fn late_accept_is_refused_as_no_longer_offered() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    // The server did not fire the deadline; the accept arrives 1 ms after it.
    h.now += secs(20) + ms(1);
    let err = h.try_accept(1, "alice").unwrap_err();
    assert_eq!(
        err,
        DispatchError::NoLongerOffered {
            call: CallId(1),
            agent: "alice".into()
        }
    );
    assert_eq!(h.state("alice"), AgentState::Available);
    assert!(h.log.iter().any(|c| matches!(
        c,
        Command::OfferWithdrawn {
            reason: WithdrawReason::Expired,
            ..
        }
    )));
}

#[test]
fn accept_exactly_at_the_deadline_is_late() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.now += secs(20);
    assert!(h.try_accept(1, "alice").is_err());
}

#[test]
fn duplicate_accept_is_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    let err = h.try_accept(1, "alice").unwrap_err();
    assert!(matches!(err, DispatchError::NoLongerOffered { .. }));
    assert_eq!(h.state("alice"), AgentState::OnCall { call: CallId(1) });
}

#[test]
fn accept_of_never_offered_call_and_unknown_agent_are_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    assert!(matches!(
        h.try_accept(99, "alice"),
        Err(DispatchError::NoLongerOffered { .. })
    ));
    assert!(matches!(
        h.try_accept(99, "zoe"),
        Err(DispatchError::UnknownAgent(_))
    ));
}

#[test]
fn refused_request_changes_nothing() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.login_ready("bob", &[]);
    h.enqueue(1, "caf");
    let before_kpis = h.queue_kpis("caf");
    let before_agents: Vec<_> =
        h.d.agents()
            .map(|a| (a.agent.clone(), a.state, a.since))
            .collect();
    let before_timeout = h.d.poll_timeout();
    let result = h.try_ev(Event::Accept {
        call: CallId(1),
        agent: "bob".into(),
    });
    assert!(result.is_err());
    assert!(
        h.try_ev(Event::AgentReady {
            agent: "zoe".into()
        })
        .is_err()
    );
    assert!(
        h.try_ev(Event::Enqueue {
            call: CallId(1),
            queue: "caf".into(),
            kiosk: "k".into(),
            site: "s".into(),
            priority: None,
        })
        .is_err()
    );
    let after_agents: Vec<_> =
        h.d.agents()
            .map(|a| (a.agent.clone(), a.state, a.since))
            .collect();
    assert_eq!(before_agents, after_agents);
    assert_eq!(before_kpis, h.queue_kpis("caf"));
    assert_eq!(before_timeout, h.d.poll_timeout());
}

#[test]
fn abandon_during_offer_withdraws_it_and_frees_the_agent() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.advance(secs(6));
    let cmds = h.abandon(1);
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::OfferWithdrawn {
            reason: WithdrawReason::CallEnded,
            ..
        }
    )));
    assert_eq!(ended(&cmds), vec![(1, Outcome::Abandoned { short: false })]);
    assert_eq!(h.state("alice"), AgentState::Available);
    assert!(h.try_accept(1, "alice").is_err());
}
