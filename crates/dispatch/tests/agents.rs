//! Agent states and transitions: login, ready, not ready, disconnect, wrap-up, logout.

mod common;

use common::*;
use relais_dispatch::*;

#[test]
fn login_puts_agent_not_ready_login_then_ready_makes_it_available() {
    let mut h = Harness::new(vec![queue("caf")]);
    let cmds = h.login("alice", &[("fr", 3)]);
    assert!(cmds.iter().any(|c| matches!(c,
        Command::AgentStateChanged { state: AgentState::NotReady { reason }, .. } if reason == "login")));
    assert_eq!(
        h.state("alice"),
        AgentState::NotReady {
            reason: "login".into()
        }
    );
    h.ready("alice");
    assert_eq!(h.state("alice"), AgentState::Available);
    let err = h.try_ev(Event::AgentLogin {
        agent: "alice".into(),
        skills: vec![],
        queues: None,
    });
    assert_eq!(
        err.unwrap_err(),
        DispatchError::AlreadyLoggedIn("alice".into())
    );
}

#[test]
fn proficiency_outside_one_to_five_is_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    let err = h
        .try_ev(Event::AgentLogin {
            agent: "a".into(),
            skills: vec![("fr".into(), 6)],
            queues: None,
        })
        .unwrap_err();
    assert!(matches!(
        err,
        DispatchError::InvalidProficiency { proficiency: 6, .. }
    ));
    assert!(h.d.agent_state(&"a".into()).is_none());
}

#[test]
fn ready_while_on_a_call_is_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    assert!(matches!(
        h.try_ev(Event::AgentReady {
            agent: "alice".into()
        }),
        Err(DispatchError::InvalidTransition { .. })
    ));
    h.accept(1, "alice");
    let err = h
        .try_ev(Event::AgentReady {
            agent: "alice".into(),
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent alice cannot become ready while on a call"
    );
    assert!(matches!(
        h.try_ev(Event::AgentNotReady {
            agent: "alice".into(),
            reason: "x".into()
        }),
        Err(DispatchError::InvalidTransition { .. })
    ));
    assert!(matches!(
        h.try_ev(Event::AgentLogout {
            agent: "alice".into()
        }),
        Err(DispatchError::InvalidTransition { .. })
    ));
}

#[test]
fn requests_of_logged_out_agents_are_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.ev(Event::AgentLogout {
        agent: "alice".into(),
    });
    assert_eq!(h.state("alice"), AgentState::LoggedOut);
    for event in [
        Event::AgentReady {
            agent: "alice".into(),
        },
        Event::AgentLogout {
            agent: "alice".into(),
        },
        Event::AgentDisconnect {
            agent: "alice".into(),
        },
        Event::WrapUpDone {
            agent: "alice".into(),
        },
    ] {
        assert_eq!(
            h.try_ev(event).unwrap_err(),
            DispatchError::NotLoggedIn("alice".into())
        );
    }
}

#[test]
fn not_ready_agent_gets_no_offers() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.ev(Event::AgentNotReady {
        agent: "alice".into(),
        reason: "lunch".into(),
    });
    let cmds = h.enqueue(1, "caf");
    assert!(offers(&cmds).is_empty());
    let cmds = h.ready("alice");
    assert_eq!(offers(&cmds), vec![(1, "alice".to_string())]);
}

#[test]
fn not_ready_during_offer_withdraws_it() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.login_ready("bob", &[]);
    h.enqueue(1, "caf"); // alice
    let cmds = h.ev(Event::AgentNotReady {
        agent: "alice".into(),
        reason: "break".into(),
    });
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::OfferWithdrawn {
            reason: WithdrawReason::AgentUnavailable,
            ..
        }
    )));
    assert_eq!(offers(&cmds), vec![(1, "bob".to_string())]);
}

#[test]
fn disconnect_withdraws_the_offer_and_makes_agent_not_ready_disconnected() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    let cmds = h.ev(Event::AgentDisconnect {
        agent: "alice".into(),
    });
    assert!(cmds.iter().any(|c| matches!(c,
        Command::OfferWithdrawn { call, reason: WithdrawReason::AgentUnavailable, .. } if call.0 == 1)));
    assert_eq!(
        h.state("alice"),
        AgentState::NotReady {
            reason: "disconnected".into()
        }
    );
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 1);
    // Reconnect: login again from NotReady is allowed.
    h.login_ready("alice", &[]);
    assert!(reserved(1)(&h.state("alice")) || h.state("alice") == AgentState::Available);
}

#[test]
fn connected_call_whose_agent_vanishes_is_requeued_at_the_head() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    h.advance(secs(5));
    h.enqueue(2, "caf");
    h.advance(secs(5));
    let cmds = h.ev(Event::AgentDisconnect {
        agent: "alice".into(),
    });
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::CallRequeued { call, .. } if call.0 == 1))
    );
    assert!(ended(&cmds).is_empty());
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 1);
    assert_eq!(h.d.position(CallId(2), h.now).unwrap().0, 2);
    h.login_ready("bob", &[]);
    assert!(reserved(1)(&h.state("bob")));
    assert_eq!(h.queue_kpis("caf").today.counters.interrupted, 1);
}

#[test]
fn requeued_call_beats_older_higher_priority_calls() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    h.enqueue_prio(2, "caf", Some(100));
    h.ev(Event::AgentDisconnect {
        agent: "alice".into(),
    });
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 1);
}

#[test]
fn connected_call_ends_interrupted_when_requeue_is_off() {
    let mut cfg = DispatchConfig::with_queues(vec![queue("caf")]);
    cfg.requeue_interrupted = false;
    let mut h = Harness::with_config(cfg, 1);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    let cmds = h.ev(Event::AgentDisconnect {
        agent: "alice".into(),
    });
    assert_eq!(ended(&cmds), vec![(1, Outcome::Interrupted)]);
}

#[test]
fn wrap_up_ends_at_its_deadline() {
    let mut q = queue("caf");
    q.wrap_up = secs(30);
    let mut h = Harness::new(vec![q]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    h.advance(secs(60));
    let cmds = h.hangup(1);
    let record = record_of(&cmds, 1);
    assert_eq!(record.talk, Some(secs(60)));
    assert_eq!(record.wrap_up, None);
    assert_eq!(
        h.state("alice"),
        AgentState::WrapUp {
            until: h.now + secs(30)
        }
    );
    h.enqueue(2, "caf");
    let cmds = h.advance(secs(29));
    assert!(offers(&cmds).is_empty());
    let cmds = h.advance(secs(1));
    assert!(cmds.iter().any(|c| matches!(c,
        Command::WrapUpFinished { call, wrap_up, .. } if call.0 == 1 && *wrap_up == secs(30))));
    assert_eq!(offers(&cmds), vec![(2, "alice".to_string())]);
}

#[test]
fn wrap_up_done_ends_wrap_up_early() {
    let mut q = queue("caf");
    q.wrap_up = secs(30);
    let mut h = Harness::new(vec![q]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    h.advance(secs(10));
    h.hangup(1);
    h.advance(secs(4));
    let cmds = h.ev(Event::WrapUpDone {
        agent: "alice".into(),
    });
    assert!(cmds.iter().any(|c| matches!(c,
        Command::WrapUpFinished { wrap_up, .. } if *wrap_up == secs(4))));
    assert_eq!(h.state("alice"), AgentState::Available);
    assert!(matches!(
        h.try_ev(Event::WrapUpDone {
            agent: "alice".into()
        }),
        Err(DispatchError::InvalidTransition { .. })
    ));
    assert_eq!(h.queue_kpis("caf").today.aht, Some(secs(14)));
}

#[test]
fn logout_during_offer_withdraws_it_and_logs_out() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    let cmds = h.ev(Event::AgentLogout {
        agent: "alice".into(),
    });
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::OfferWithdrawn { .. }))
    );
    assert_eq!(h.state("alice"), AgentState::LoggedOut);
    assert_eq!(h.queue_kpis("caf").agents, AgentCounts::default());
}

#[test]
fn every_transient_state_has_a_deadline() {
    let mut q = queue("caf");
    q.wrap_up = secs(30);
    let mut h = Harness::new(vec![q]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    assert!(matches!(
        h.d.poll_timeout(),
        Some((_, TimeoutReason::OfferExpiry))
    ));
    h.accept(1, "alice");
    h.hangup(1);
    assert!(matches!(
        h.d.poll_timeout(),
        Some((_, TimeoutReason::WrapUpEnd))
    ));
}
