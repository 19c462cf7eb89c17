//! KPI definitions (DESIGN.md §3): service level (both variants), ASA, AHT, abandonment,
//! occupancy, counters, windows (recent, today) and the wait estimate.

mod common;

use common::*;
use relais_dispatch::*;

fn answer_after(h: &mut Harness, call: u64, wait: u64, talk: u64, agent: &str) {
    h.enqueue(call, "caf");
    h.advance(secs(wait));
    h.login_ready(agent, &[]);
    h.accept(call, agent);
    h.advance(secs(talk));
    h.hangup(call);
    h.ev(Event::AgentLogout {
        agent: agent.into(),
    });
}

#[test]
fn service_level_counts_answers_within_the_threshold() {
    let mut h = Harness::new(vec![queue("caf")]);
    answer_after(&mut h, 1, 10, 5, "a"); // within 20 s
    answer_after(&mut h, 2, 20, 5, "a"); // within (≤ T)
    answer_after(&mut h, 3, 30, 5, "a"); // late
    h.enqueue(4, "caf");
    h.advance(secs(10));
    h.abandon(4); // abandoned within T
    h.enqueue(5, "caf");
    h.advance(secs(2));
    h.abandon(5); // short: excluded
    let today = h.queue_kpis("caf").today;
    assert_eq!(today.service_level, Some(2.0 / 3.0));
    // (2 answered within + 1 abandoned within) / (3 answered + 1 abandoned)
    assert_eq!(today.service_level_with_abandons, Some(3.0 / 4.0));
    assert_eq!(today.asa, Some(secs(20)));
    // 1 abandoned / (5 offered − 1 short)
    assert_eq!(today.abandonment_rate, Some(0.25));
    assert_eq!(today.counters.short_abandoned, 1);
    assert_eq!(today.counters.offered, 5);
    assert_eq!(today.counters.answered, 3);
}

#[test]
fn aht_is_talk_plus_wrap_up_of_handled_calls() {
    let mut q = queue("caf");
    q.wrap_up = secs(10);
    let mut h = Harness::new(vec![q]);
    h.login_ready("a", &[]);
    h.enqueue(1, "caf");
    h.accept(1, "a");
    h.advance(secs(50));
    h.hangup(1);
    assert_eq!(
        h.queue_kpis("caf").today.aht,
        None,
        "not handled before wrap-up ends"
    );
    h.advance(secs(10));
    let today = h.queue_kpis("caf").today;
    assert_eq!(today.aht, Some(secs(60)));
    assert_eq!(today.counters.talk_time, secs(50));
    assert_eq!(today.counters.handled, 1);
}

#[test]
fn occupancy_is_busy_time_over_staffed_time() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("a", &[]);
    h.advance(secs(30)); // available 30 s
    h.enqueue(1, "caf");
    h.accept(1, "a");
    h.advance(secs(30)); // on call 30 s
    h.hangup(1);
    h.ev(Event::AgentNotReady {
        agent: "a".into(),
        reason: "break".into(),
    });
    h.advance(secs(100)); // not ready: not counted
    let today = h.queue_kpis("caf").today;
    assert_eq!(today.counters.staffed_time, secs(60));
    assert_eq!(today.counters.busy_time, secs(30));
    assert_eq!(today.occupancy, Some(0.5));
    assert_eq!(h.d.overall_kpis(h.now).today.occupancy, Some(0.5));
}

#[test]
fn live_values_waiting_longest_wait_and_agents_by_state() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("a", &[]);
    h.login("b", &[]);
    h.enqueue(1, "caf"); // offered to a
    h.advance(secs(5));
    h.enqueue(2, "caf");
    h.advance(secs(5));
    let k = h.queue_kpis("caf");
    assert_eq!((k.waiting, k.on_offer), (2, 1));
    assert_eq!(k.longest_wait, Some(secs(10)));
    assert_eq!(
        k.agents,
        AgentCounts {
            logged_in: 2,
            available: 0,
            reserved: 1,
            on_call: 0,
            wrap_up: 0,
            not_ready: 1
        }
    );
    let overall = h.d.overall_kpis(h.now);
    assert_eq!(overall.waiting, 2);
    assert_eq!(overall.agents.reserved, 1);
}

#[test]
fn recent_window_forgets_events_older_than_fifteen_minutes() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.enqueue(1, "caf");
    h.advance(secs(10));
    h.abandon(1);
    assert_eq!(h.queue_kpis("caf").recent.counters.abandoned, 1);
    h.advance(secs(14 * 60));
    assert_eq!(h.queue_kpis("caf").recent.counters.abandoned, 1);
    h.advance(secs(61));
    assert_eq!(h.queue_kpis("caf").recent.counters.abandoned, 0);
    assert_eq!(h.queue_kpis("caf").today.counters.abandoned, 1);
}

#[test]
fn today_restarts_at_local_midnight() {
    let mut q = queue("caf");
    q.time_zone = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let mut h = Harness::new(vec![q]);
    // Start: 10:00 UTC = 11:00 Paris. Midnight Paris = 23:00 UTC, 13 h later.
    h.enqueue(1, "caf");
    h.advance(secs(10));
    h.abandon(1);
    h.advance(secs(13 * 3600 - 11));
    assert_eq!(h.queue_kpis("caf").today.counters.abandoned, 1);
    assert_eq!(
        h.d.overall_kpis(h.now).today.counters.abandoned,
        1,
        "UTC day not over"
    );
    h.advance(secs(2));
    assert_eq!(
        h.queue_kpis("caf").today.counters.abandoned,
        0,
        "new day in Paris"
    );
    assert_eq!(h.d.overall_kpis(h.now).today.counters.abandoned, 1);
}

#[test]
fn estimated_wait_uses_recent_handle_time_and_serving_agents() {
    let mut q = queue("caf");
    q.assumed_handle_time = secs(120);
    let mut h = Harness::new(vec![q]);
    assert_eq!(
        h.d.estimated_wait(&"caf".into(), h.now),
        None,
        "nobody serves"
    );
    h.login_ready("a", &[]);
    h.login_ready("b", &[]);
    // An empty queue with free agents: a new caller is answered at once, not in 120 s ÷ 2.
    assert_eq!(h.d.estimated_wait(&"caf".into(), h.now), Some(secs(0)));
    assert_eq!(h.queue_kpis("caf").estimated_wait, Some(secs(0)));
    h.enqueue(1, "caf");
    // One agent ringing, one free: still no wait for a new caller.
    assert_eq!(h.d.estimated_wait(&"caf".into(), h.now), Some(secs(0)));
    h.accept(1, "a");
    h.advance(secs(40));
    h.hangup(1); // handled 40 s (no wrap-up)
    h.enqueue(2, "caf"); // to a or b
    h.enqueue(3, "caf"); // to the other
    h.enqueue(4, "caf"); // waits: position 1
    let (pos, eta) = h.d.position(CallId(4), h.now).unwrap();
    assert_eq!((pos, eta), (1, Some(secs(20))));
    // The estimate for a new caller is position 2.
    assert_eq!(h.queue_kpis("caf").estimated_wait, Some(secs(40)));
}

#[test]
fn counters_flow_balances() {
    let mut a = queue("a");
    a.max_wait = Some(MaxWait {
        after: secs(60),
        overflow_to: Some("b".into()),
    });
    let mut h = Harness::new(vec![a, queue("b")]);
    for i in 0..6 {
        h.enqueue(i, "a");
    }
    h.login_ready("x", &[]);
    h.accept(0, "x");
    h.abandon(1);
    h.advance(secs(10));
    h.abandon(2);
    h.advance(secs(60)); // 3, 4, 5 overflow to b
    let a = h.queue_kpis("a").today.counters;
    let b = h.queue_kpis("b").today.counters;
    assert_eq!(a.offered, 6);
    assert_eq!(
        a.answered + a.abandoned + a.short_abandoned + a.overflowed,
        6
    );
    assert_eq!(b.offered, 3);
    assert_eq!(h.queue_kpis("b").waiting, 3);
}

#[test]
fn kpis_changed_is_emitted_at_most_once_per_handle() {
    let mut h = Harness::new(vec![queue("caf")]);
    h.login_ready("a", &[]);
    let cmds = h.enqueue(1, "caf");
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::KpisChanged))
            .count(),
        1
    );
    let cmds = h.ev(Event::Timeout);
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::KpisChanged))
            .count(),
        0
    );
}
