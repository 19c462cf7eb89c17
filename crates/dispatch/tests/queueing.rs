//! Queueing rules: FIFO, priority with ageing, cross-queue choice, hours, capacity, max wait
//! and overflow, abandons, callbacks, configuration reload.

mod common;

use common::*;
use jiff::civil::{date, time};
use relais_dispatch::*;

fn queued_order(h: &Harness, q: &str) -> Vec<u64> {
    h.d.waiting_calls(&q.into(), h.now)
        .iter()
        .filter(|c| c.status == CallStatus::Queued)
        .map(|c| c.call.0)
        .collect()
}

#[test]
fn fifo_among_equal_priority() {
    let mut h = Harness::new(vec![queue("caf")]);
    for id in [5, 3, 9] {
        h.enqueue(id, "caf");
        h.advance(ms(10));
    }
    assert_eq!(queued_order(&h, "caf"), vec![5, 3, 9]);
    h.login_ready("alice", &[]);
    assert!(reserved(5)(&h.state("alice")));
}

#[test]
fn same_instant_calls_are_ordered_by_call_id() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(7, "caf");
    h.enqueue(2, "caf");
    assert_eq!(queued_order(&h, "caf"), vec![2, 7]);
}

#[test]
fn higher_priority_is_served_first() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.advance(secs(1));
    h.enqueue_prio(2, "caf", Some(5));
    assert_eq!(queued_order(&h, "caf"), vec![2, 1]);
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 2);
    h.login_ready("alice", &[]);
    assert!(reserved(2)(&h.state("alice")));
}

#[test]
fn ageing_lets_old_low_priority_calls_overtake() {
    let mut q = queue("caf");
    q.ageing_step = Some(secs(60));
    let mut h = Harness::new(vec![q]);
    h.enqueue(1, "caf"); // priority 0
    h.advance(secs(100));
    h.enqueue_prio(2, "caf", Some(1)); // priority 1, new
    // call 1: 0 + floor(100/60) = 1 = call 2's 1 + 0: tie, older first.
    assert_eq!(queued_order(&h, "caf"), vec![1, 2]);
    h.enqueue_prio(3, "caf", Some(3));
    assert_eq!(queued_order(&h, "caf"), vec![3, 1, 2]);
    assert_eq!(h.d.position(CallId(1), h.now).unwrap().0, 2);
    assert_eq!(h.d.position(CallId(2), h.now).unwrap().0, 3);
    h.advance(secs(140));
    // t = 240 s. call 1: 0 + 4 = 4; call 3: 3 + 2 = 5; call 2: 1 + 2 = 3.
    assert_eq!(queued_order(&h, "caf"), vec![3, 1, 2]);
    // A new priority-3 call (3 + 0) is behind call 1 (4) and ties with call 2 (3), which is older.
    h.enqueue_prio(4, "caf", Some(3));
    assert_eq!(queued_order(&h, "caf"), vec![3, 1, 2, 4]);
    assert_eq!(h.d.position(CallId(4), h.now).unwrap().0, 4);
    assert_eq!(h.d.position(CallId(2), h.now).unwrap().0, 3);
}

#[test]
fn without_ageing_priority_is_strict() {
    let mut q = queue("caf");
    q.ageing_step = None;
    let mut h = Harness::new(vec![q]);
    h.enqueue(1, "caf");
    h.advance(secs(10_000));
    h.enqueue_prio(2, "caf", Some(1));
    assert_eq!(queued_order(&h, "caf"), vec![2, 1]);
}

#[test]
fn nothing_starves_with_ageing() {
    let mut q = queue("caf");
    q.ageing_step = Some(secs(10));
    let mut h = Harness::new(vec![q]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf"); // to alice
    h.accept(1, "alice");
    h.enqueue(100, "caf"); // low priority, waits
    // A stream of priority-3 calls arrives every 5 s; alice answers one call per 5 s.
    let mut served_100_at = None;
    for i in 0..40u64 {
        h.enqueue_prio(200 + i, "caf", Some(3));
        h.advance(secs(5));
        let current = match h.state("alice") {
            AgentState::OnCall { call } => call.0,
            other => panic!("{other:?}"),
        };
        h.hangup(current);
        if let AgentState::Reserved { call, .. } = h.state("alice") {
            if call.0 == 100 {
                served_100_at = Some(i);
                break;
            }
            h.accept(call.0, "alice");
        }
    }
    assert!(
        served_100_at.is_some(),
        "the low priority call was served eventually"
    );
}

#[test]
fn agent_serving_several_queues_takes_the_highest_priority_then_oldest() {
    let mut low = queue("low");
    low.priority = 0;
    let mut high = queue("high");
    high.priority = 2;
    let mut h = Harness::new(vec![low, high]);
    h.enqueue(1, "low");
    h.advance(secs(5));
    h.enqueue(2, "high");
    h.advance(secs(5));
    h.enqueue(3, "low");
    h.login_ready("alice", &[]);
    assert!(reserved(2)(&h.state("alice")));
    h.accept(2, "alice");
    h.hangup(2);
    assert!(
        reserved(1)(&h.state("alice")),
        "then the oldest of equal priority"
    );
}

#[test]
fn queue_filter_limits_the_queues_an_agent_serves() {
    let mut h = Harness::new(vec![queue("a"), queue("b")]);
    h.ev(Event::AgentLogin {
        agent: "alice".into(),
        skills: vec![],
        queues: Some(vec!["b".into()]),
    });
    h.ready("alice");
    let cmds = h.enqueue(1, "a");
    assert!(offers(&cmds).is_empty());
    let cmds = h.enqueue(2, "b");
    assert_eq!(offers(&cmds), vec![(2, "alice".to_string())]);
}

#[test]
fn closed_queue_ends_the_call_closed_without_error() {
    let mut q = queue("caf");
    // Monday 08:00–09:00 only; the harness starts Monday 10:00 UTC.
    q.hours = Some(OpeningHours::new().on(
        jiff::civil::Weekday::Monday,
        time(8, 0, 0, 0),
        time(9, 0, 0, 0),
    ));
    let mut h = Harness::new(vec![q]);
    let cmds = h.enqueue(1, "caf");
    assert_eq!(ended(&cmds), vec![(1, Outcome::Closed)]);
    assert_eq!(h.queue_kpis("caf").today.counters.closed, 1);
    assert_eq!(h.queue_kpis("caf").today.counters.offered, 0);
    assert!(h.d.active_calls().is_empty());
}

#[test]
fn opening_hours_follow_the_queue_time_zone() {
    let mut q = queue("caf");
    q.time_zone = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    // 10:00 UTC on 2024-03-04 is 11:00 in Paris (CET).
    q.hours = Some(OpeningHours::new().on(
        jiff::civil::Weekday::Monday,
        time(11, 0, 0, 0),
        time(12, 0, 0, 0),
    ));
    let mut h = Harness::new(vec![q]);
    assert!(
        ended(&h.enqueue(1, "caf")).is_empty(),
        "open at 11:00 Paris"
    );
    h.advance(secs(3600));
    assert_eq!(
        ended(&h.enqueue(2, "caf")),
        vec![(2, Outcome::Closed)],
        "closed at 12:00 Paris"
    );
}

#[test]
fn holidays_close_the_queue() {
    let mut q = queue("caf");
    q.hours = Some(
        OpeningHours::new()
            .on(
                jiff::civil::Weekday::Monday,
                time(0, 0, 0, 0),
                jiff::civil::Time::MAX,
            )
            .holiday(date(2024, 3, 4)),
    );
    let mut h = Harness::new(vec![q]);
    assert_eq!(ended(&h.enqueue(1, "caf")), vec![(1, Outcome::Closed)]);
}

#[test]
fn clock_sync_reanchors_opening_hours() {
    let mut q = queue("caf");
    q.hours = Some(OpeningHours::new().on(
        jiff::civil::Weekday::Tuesday,
        time(9, 0, 0, 0),
        time(17, 0, 0, 0),
    ));
    let mut h = Harness::new(vec![q]);
    assert_eq!(ended(&h.enqueue(1, "caf")), vec![(1, Outcome::Closed)]);
    h.ev(Event::ClockSync {
        utc: "2024-03-05T10:00:00Z".parse().unwrap(),
    });
    assert!(ended(&h.enqueue(2, "caf")).is_empty());
}

#[test]
fn full_queue_rejects_new_calls() {
    let mut q = queue("caf");
    q.max_waiting = Some(2);
    let mut h = Harness::new(vec![q]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    let cmds = h.enqueue(3, "caf");
    assert_eq!(ended(&cmds), vec![(3, Outcome::QueueFull)]);
    let record = record_of(&cmds, 3);
    assert_eq!(record.queue, "caf".into());
    assert_eq!(h.queue_kpis("caf").today.counters.queue_full, 1);
}

#[test]
fn max_wait_overflows_to_the_target_keeping_the_enqueue_time() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: Some("b".into()),
    });
    let b = queue("b");
    let mut h = Harness::new(vec![a, b]);
    h.enqueue(1, "a");
    h.advance(secs(30));
    h.enqueue(2, "b");
    let cmds = h.advance(secs(30));
    assert!(
        cmds.iter().any(|c| matches!(c,
        Command::CallOverflowed { call, from, to } if call.0 == 1 && from.as_str() == "a" && to.as_str() == "b"))
    );
    assert!(ended(&cmds).is_empty(), "an overflowed call does not end");
    assert_eq!(
        queued_order(&h, "b"),
        vec![1, 2],
        "placed by its original enqueue time"
    );
    assert_eq!(h.queue_kpis("a").today.counters.overflowed, 1);
    assert_eq!(h.queue_kpis("b").today.counters.offered, 2);
    assert_eq!(h.d.overall_kpis(h.now).today.counters.offered, 2);
    h.login_ready("bob", &[]);
    h.accept(1, "bob");
    let cmds = h.hangup(1);
    let record = record_of(&cmds, 1);
    assert_eq!(
        (record.queue.as_str(), record.origin_queue.as_str()),
        ("b", "a")
    );
    assert_eq!(record.wait, secs(60));
    assert_eq!(record.overflows, 1);
}

#[test]
fn max_wait_without_target_times_out() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: None,
    });
    let mut h = Harness::new(vec![a]);
    h.enqueue(1, "a");
    let cmds = h.advance(secs(60));
    assert_eq!(ended(&cmds), vec![(1, Outcome::TimedOut)]);
    assert_eq!(h.queue_kpis("a").today.counters.timed_out, 1);
}

#[test]
fn a_call_admitted_with_its_earlier_enqueue_time_reaches_max_wait_from_then() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: None,
    });
    let mut h = Harness::new(vec![a]);
    h.advance(secs(100));
    // Waiting for 50 s before a restart: 10 s are left.
    let since = h.now - secs(50);
    h.d.admit_since(
        h.now,
        since,
        relais_dispatch::CallId(1),
        &"a".into(),
        "kiosk-1".into(),
        "site".into(),
        None,
    )
    .unwrap();
    let cmds = h.advance(secs(9));
    assert!(ended(&cmds).is_empty());
    let cmds = h.advance(secs(1));
    assert_eq!(ended(&cmds), vec![(1, Outcome::TimedOut)]);
}

#[test]
fn overflow_into_a_closed_queue_ends_overflowed() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: Some("b".into()),
    });
    let mut b = queue("b");
    b.hours = Some(OpeningHours::new());
    let mut h = Harness::new(vec![a, b]);
    h.enqueue(1, "a");
    let cmds = h.advance(secs(60));
    assert_eq!(
        ended(&cmds),
        vec![(
            1,
            Outcome::Overflowed {
                to: Some("b".into())
            }
        )]
    );
}

#[test]
fn max_wait_during_an_offer_acts_when_the_call_returns() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(30),
        overflow_to: None,
    });
    let mut h = Harness::new(vec![a]);
    h.enqueue(1, "a");
    h.advance(secs(15));
    h.login_ready("alice", &[]); // offer at 15 s, deadline 35 s
    let cmds = h.advance(secs(16));
    assert!(ended(&cmds).is_empty(), "the offer is not interrupted");
    let cmds = h.advance(secs(4));
    assert_eq!(ended(&cmds), vec![(1, Outcome::TimedOut)]);
}

#[test]
fn abandons_are_short_or_not() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.enqueue(2, "caf");
    h.advance(ms(4_999));
    assert_eq!(
        ended(&h.abandon(1)),
        vec![(1, Outcome::Abandoned { short: true })]
    );
    h.advance(ms(1));
    assert_eq!(
        ended(&h.abandon(2)),
        vec![(2, Outcome::Abandoned { short: false })]
    );
    let c = h.queue_kpis("caf").today.counters;
    assert_eq!((c.short_abandoned, c.abandoned), (1, 1));
    assert!(matches!(
        h.try_ev(Event::Abandon { call: CallId(1) }),
        Err(DispatchError::UnknownCall(_))
    ));
}

#[test]
fn abandon_of_a_connected_call_is_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "alice");
    assert_eq!(
        h.try_ev(Event::Abandon { call: CallId(1) }).unwrap_err(),
        DispatchError::CallNotWaiting(CallId(1))
    );
    assert!(matches!(
        h.try_ev(Event::CallEnded {
            call: CallId(9),
            by: EndedBy::Agent
        }),
        Err(DispatchError::UnknownCall(_))
    ));
    h.ev(Event::CallConnected { call: CallId(1) });
}

#[test]
fn call_ended_before_answer_is_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    assert_eq!(
        h.try_ev(Event::CallEnded {
            call: CallId(1),
            by: EndedBy::Kiosk
        })
        .unwrap_err(),
        DispatchError::CallNotConnected(CallId(1))
    );
    assert!(h.try_ev(Event::CallConnected { call: CallId(1) }).is_err());
}

#[test]
fn a_callback_request_ends_the_call_and_its_task_keeps_the_place_without_max_wait() {
    let mut a = queue("caf");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: None,
    });
    let mut h = Harness::new(vec![a]);
    h.enqueue(1, "caf");
    h.advance(secs(10));
    h.enqueue(2, "caf");
    h.advance(secs(20));
    let cmds = h.ev(Event::CallbackRequest {
        call: CallId(1),
        task: CallId(101),
        not_before: None,
    });
    assert_eq!(ended(&cmds), vec![(1, Outcome::CallbackRequested)]);
    let record = record_of(&cmds, 1);
    assert_eq!(record.wait, secs(30));
    // The task is first, as the call was: it came before call 2.
    assert_eq!(queued_order(&h, "caf"), vec![101, 2]);
    // No max wait for the task; call 2 times out as before.
    let cmds = h.advance(secs(60));
    assert_eq!(ended(&cmds), vec![(2, Outcome::TimedOut)]);
    let today = h.queue_kpis("caf").today;
    assert_eq!(today.counters.callback_requested, 1);
    assert_eq!(today.counters.callbacks, 1);
    assert_eq!(today.counters.offered, 2, "the task is not a second entry");
    assert_eq!(today.counters.abandoned, 0, "a callback is not an abandon");
    // Abandonment rate: the callback is out of its denominator.
    h.enqueue(3, "caf");
    h.advance(secs(10));
    h.abandon(3);
    let today = h.queue_kpis("caf").today;
    assert_eq!(
        today.abandonment_rate,
        Some(0.5),
        "1 abandon of 2 calls that were not called back"
    );

    let cmds = h.login_ready("alice", &[]);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::Offer { call, callback: true, .. } if call.0 == 101)),
        "{cmds:?}"
    );
    h.accept(101, "alice");
    let today = h.queue_kpis("caf").today;
    assert_eq!(today.counters.callbacks_answered, 1);
    assert_eq!(today.counters.answered, 0, "not a live answer");
    assert_eq!(today.asa, None);
    let record = record_of(&h.hangup(101), 101);
    assert!(record.callback);
    assert_eq!(
        record.enqueued_at, h.start,
        "the task keeps the original enqueue time"
    );
}

#[test]
fn a_callback_request_is_refused_for_a_connected_call_a_task_or_a_taken_id() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.advance(secs(1));
    h.enqueue(2, "caf");
    assert!(
        h.try_ev(Event::CallbackRequest {
            call: CallId(1),
            task: CallId(2),
            not_before: None,
        })
        .is_err()
    );
    h.ev(Event::CallbackRequest {
        call: CallId(1),
        task: CallId(101),
        not_before: None,
    });
    assert!(
        h.try_ev(Event::CallbackRequest {
            call: CallId(101),
            task: CallId(102),
            not_before: None,
        })
        .is_err(),
        "a task is not called back twice"
    );
    h.login_ready("alice", &[]);
    h.accept(101, "alice");
    h.login_ready("bob", &[]);
    h.accept(2, "bob");
    assert!(
        h.try_ev(Event::CallbackRequest {
            call: CallId(2),
            task: CallId(103),
            not_before: None,
        })
        .is_err()
    );
}

#[test]
fn a_call_on_offer_asking_for_a_callback_frees_its_agent() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "caf");
    let cmds = h.ev(Event::CallbackRequest {
        call: CallId(1),
        task: CallId(101),
        not_before: None,
    });
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::OfferWithdrawn { call, .. } if call.0 == 1))
    );
    assert_eq!(ended(&cmds), vec![(1, Outcome::CallbackRequested)]);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::Offer { call, callback: true, .. } if call.0 == 101)),
        "the task is offered to the agent now free: {cmds:?}"
    );
}

#[test]
fn enqueue_on_unknown_queue_and_duplicate_call_are_refused() {
    let mut h = Harness::new(vec![queue("caf")]);
    let err = h
        .try_ev(Event::Enqueue {
            call: CallId(1),
            queue: "nope".into(),
            kiosk: "k".into(),
            site: "s".into(),
            priority: None,
        })
        .unwrap_err();
    assert_eq!(err, DispatchError::UnknownQueue("nope".into()));
    h.enqueue(1, "caf");
    assert_eq!(
        h.try_ev(Event::Enqueue {
            call: CallId(1),
            queue: "caf".into(),
            kiosk: "k".into(),
            site: "s".into(),
            priority: None
        })
        .unwrap_err(),
        DispatchError::DuplicateCall(CallId(1))
    );
}

#[test]
fn config_reload_closes_calls_of_removed_queues_and_keeps_the_others() {
    let mut h = Harness::new(vec![queue("a"), queue("b")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "a"); // offered to alice
    h.enqueue(2, "a");
    h.enqueue(3, "b");
    let cmds = h.ev(Event::ConfigReload(DispatchConfig::with_queues(vec![
        queue("b"),
        queue("c"),
    ])));
    let mut outcomes = ended(&cmds);
    outcomes.sort_by_key(|(id, _)| *id);
    assert_eq!(outcomes, vec![(1, Outcome::Closed), (2, Outcome::Closed)]);
    assert!(
        reserved(3)(&h.state("alice")),
        "alice freed and offered the call of b"
    );
    assert!(h.d.queue_kpis(&"a".into(), h.now).is_none());
    assert_eq!(queued_order(&h, "c"), Vec::<u64>::new());
    assert!(matches!(
        h.try_ev(Event::Enqueue {
            call: CallId(4),
            queue: "a".into(),
            kiosk: "k".into(),
            site: "s".into(),
            priority: None
        }),
        Err(DispatchError::UnknownQueue(_))
    ));
}

#[test]
fn connected_call_survives_removal_of_its_queue() {
    let mut h = Harness::new(vec![queue("a")]);
    h.login_ready("alice", &[]);
    h.enqueue(1, "a");
    h.accept(1, "alice");
    h.ev(Event::ConfigReload(DispatchConfig::with_queues(vec![
        queue("b"),
    ])));
    assert_eq!(h.state("alice"), AgentState::OnCall { call: CallId(1) });
    let cmds = h.hangup(1);
    assert_eq!(ended(&cmds), vec![(1, Outcome::Answered)]);
    assert_eq!(record_of(&cmds, 1).queue, "a".into());
}

#[test]
fn invalid_config_is_refused_and_changes_nothing() {
    let mut h = Harness::new(vec![queue("a")]);
    let mut bad = queue("b");
    bad.max_wait = Some(MaxWait {
        after: secs(1),
        overflow_to: Some("missing".into()),
    });
    let err = h
        .try_ev(Event::ConfigReload(DispatchConfig::with_queues(vec![bad])))
        .unwrap_err();
    assert!(matches!(err, DispatchError::InvalidConfig(_)));
    assert!(h.d.queue_kpis(&"a".into(), h.now).is_some());
    let mut dup = DispatchConfig::with_queues(vec![queue("a"), queue("a")]);
    dup.max_missed_offers = 1;
    assert!(h.try_ev(Event::ConfigReload(dup)).is_err());
}

#[test]
fn admit_answers_a_full_queue_with_a_verdict_and_no_call_ended_command() {
    let mut q = queue("caf");
    q.max_waiting = Some(1);
    let mut h = Harness::new(vec![q]);
    let first =
        h.d.admit(
            h.now,
            CallId(1),
            &"caf".into(),
            "k1".into(),
            "s".into(),
            None,
        )
        .unwrap();
    assert_eq!(first, Admission::Queued);
    let refused =
        h.d.admit(
            h.now,
            CallId(2),
            &"caf".into(),
            "k2".into(),
            "s".into(),
            None,
        )
        .unwrap();
    let Admission::Refused { outcome, record } = refused else {
        panic!("a full queue refuses: {refused:?}");
    };
    assert_eq!(outcome, Outcome::QueueFull);
    assert_eq!(record.call, CallId(2));
    let mut commands = Vec::new();
    while let Some(command) = h.d.poll_command() {
        commands.push(command);
    }
    assert!(ended(&commands).is_empty(), "{commands:?}");
    assert_eq!(h.queue_kpis("caf").today.counters.queue_full, 1);
    // The refused id is free: it never entered the dispatcher.
    assert!(h.d.call_view(CallId(2), h.now).is_none());
}

#[test]
fn a_callback_task_for_later_is_not_offered_before_its_time() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("alice", &[]);
    h.ev(Event::AgentNotReady {
        agent: "alice".into(),
        reason: "pause".into(),
    });
    h.enqueue(1, "caf");
    h.ev(Event::CallbackRequest {
        call: CallId(1),
        task: CallId(101),
        not_before: Some(h.now + secs(600)),
    });
    let cmds = h.ev(Event::AgentReady {
        agent: "alice".into(),
    });
    assert!(offers(&cmds).is_empty(), "not before its time: {cmds:?}");
    // A call arriving meanwhile is served first.
    let cmds = h.enqueue(2, "caf");
    assert_eq!(offers(&cmds), vec![(2, "alice".to_owned())]);
    h.accept(2, "alice");
    h.hangup(2);
    let cmds = h.advance(secs(599));
    assert!(offers(&cmds).is_empty(), "{cmds:?}");
    let cmds = h.advance(secs(1));
    assert_eq!(offers(&cmds), vec![(101, "alice".to_owned())]);
}
