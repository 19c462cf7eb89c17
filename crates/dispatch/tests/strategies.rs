//! Agent selection strategies and skill-based eligibility with relaxation over wait time.

mod common;

use common::*;
use relais_dispatch::*;

fn with_strategy(strategy: Strategy) -> QueueConfig {
    let mut q = queue("caf");
    q.strategy = strategy;
    q
}

/// Makes `agents` available in this order, 1 s apart.
fn ready_in_order(h: &mut Harness, agents: &[&str]) {
    for a in agents {
        h.login_ready(a, &[]);
        h.advance(secs(1));
    }
}

/// Enqueues a call and returns the agent it was offered to; the agent accepts and hangs up.
fn serve_one(h: &mut Harness, call: u64) -> String {
    let cmds = h.enqueue(call, "caf");
    let offered = offers(&cmds);
    assert_eq!(offered.len(), 1, "{cmds:?}");
    let agent = offered[0].1.clone();
    h.accept(call, &agent);
    h.advance(secs(1));
    h.hangup(call);
    h.advance(secs(1));
    agent
}

#[test]
fn longest_idle_picks_the_agent_available_longest() {
    let mut h = Harness::new(vec![with_strategy(Strategy::LongestIdle)]);
    ready_in_order(&mut h, &["a", "b", "c"]);
    assert_eq!(serve_one(&mut h, 1), "a");
    assert_eq!(serve_one(&mut h, 2), "b");
    assert_eq!(serve_one(&mut h, 3), "c");
    assert_eq!(serve_one(&mut h, 4), "a");
}

#[test]
fn round_robin_continues_after_the_last_agent_offered() {
    let mut h = Harness::new(vec![with_strategy(Strategy::RoundRobin)]);
    ready_in_order(&mut h, &["a", "b", "c"]);
    let served: Vec<String> = (1..=5).map(|i| serve_one(&mut h, i)).collect();
    assert_eq!(served, ["a", "b", "c", "a", "b"]);
    // Memory survives an agent being busy: b is on a call, next after b is c.
    let mut h = Harness::new(vec![with_strategy(Strategy::RoundRobin)]);
    ready_in_order(&mut h, &["a", "b", "c"]);
    assert_eq!(serve_one(&mut h, 1), "a");
    h.enqueue(2, "caf"); // b
    h.accept(2, "b");
    assert_eq!(serve_one(&mut h, 3), "c");
    assert_eq!(serve_one(&mut h, 4), "a");
}

#[test]
fn fewest_calls_picks_the_agent_with_fewest_answers() {
    let mut h = Harness::new(vec![with_strategy(Strategy::FewestCalls)]);
    ready_in_order(&mut h, &["a", "b"]);
    assert_eq!(serve_one(&mut h, 1), "a");
    assert_eq!(serve_one(&mut h, 2), "b");
    h.login_ready("c", &[]);
    assert_eq!(serve_one(&mut h, 3), "c", "c has 0 calls");
    assert_eq!(serve_one(&mut h, 4), "a", "ties: longest idle");
}

#[test]
fn least_talk_time_picks_the_agent_with_least_talk() {
    let mut h = Harness::new(vec![with_strategy(Strategy::LeastTalkTime)]);
    ready_in_order(&mut h, &["a", "b"]);
    h.enqueue(1, "caf"); // a
    h.accept(1, "a");
    h.enqueue(2, "caf"); // b
    h.accept(2, "b");
    h.advance(secs(10));
    h.hangup(2); // b talked 10 s
    h.advance(secs(50));
    h.hangup(1); // a talked 60 s
    h.advance(secs(1));
    assert_eq!(serve_one(&mut h, 3), "b");
}

#[test]
fn linear_follows_the_configured_agent_order() {
    let mut q = with_strategy(Strategy::Linear);
    q.agent_order = vec!["c".into(), "a".into()];
    let mut h = Harness::new(vec![q]);
    ready_in_order(&mut h, &["a", "b", "c"]);
    assert_eq!(serve_one(&mut h, 1), "c");
    assert_eq!(serve_one(&mut h, 2), "c");
    h.enqueue(3, "caf");
    h.accept(3, "c");
    assert_eq!(serve_one(&mut h, 4), "a");
    h.enqueue(5, "caf");
    h.accept(5, "a");
    assert_eq!(serve_one(&mut h, 6), "b", "unlisted agents come last");
}

#[test]
fn random_is_seeded_and_spreads_calls() {
    let run = |seed: u64| -> Vec<String> {
        let mut h = Harness::with_config(
            DispatchConfig::with_queues(vec![with_strategy(Strategy::Random)]),
            seed,
        );
        ready_in_order(&mut h, &["a", "b", "c", "d"]);
        (1..=40).map(|i| serve_one(&mut h, i)).collect()
    };
    let first = run(42);
    assert_eq!(first, run(42), "same seed, same choices");
    assert_ne!(first, run(43), "another seed, other choices");
    for agent in ["a", "b", "c", "d"] {
        assert!(
            first.iter().filter(|x| *x == agent).count() >= 3,
            "{agent} got calls: {first:?}"
        );
    }
}

#[test]
fn required_skill_excludes_unskilled_agents() {
    let mut q = queue("caf");
    q.skills = vec![SkillReq::new("german", 3)];
    let mut h = Harness::new(vec![q]);
    h.login_ready("novice", &[("german", 2)]);
    h.login_ready("none", &[("french", 5)]);
    let cmds = h.enqueue(1, "caf");
    assert!(offers(&cmds).is_empty());
    assert_eq!(
        h.queue_kpis("caf").agents.logged_in,
        0,
        "neither serves the queue"
    );
    let cmds = h.login_ready("fluent", &[("german", 3), ("french", 1)]);
    assert_eq!(offers(&cmds), vec![(1, "fluent".to_string())]);
    assert_eq!(h.queue_kpis("caf").agents.logged_in, 1);
}

#[test]
fn skill_requirement_relaxes_with_wait() {
    let mut q = queue("caf");
    q.skills = vec![SkillReq::new("german", 4).relax(secs(60), 2)];
    let mut h = Harness::new(vec![q]);
    h.login_ready("novice", &[("german", 2)]);
    let cmds = h.enqueue(1, "caf");
    assert!(offers(&cmds).is_empty());
    assert!(matches!(
        h.d.poll_timeout(),
        Some((_, TimeoutReason::Eligibility))
    ));
    let cmds = h.advance(secs(59));
    assert!(offers(&cmds).is_empty());
    let cmds = h.advance(secs(1));
    assert_eq!(offers(&cmds), vec![(1, "novice".to_string())]);
}

#[test]
fn expert_takes_a_fresh_call_the_novice_may_not() {
    let mut q = queue("caf");
    q.skills = vec![SkillReq::new("german", 4).relax(secs(60), 2)];
    let mut h = Harness::new(vec![q]);
    h.login_ready("novice", &[("german", 2)]);
    h.login_ready("expert", &[("german", 5)]);
    h.advance(secs(5)); // novice idle longer
    let cmds = h.enqueue(1, "caf");
    assert_eq!(offers(&cmds), vec![(1, "expert".to_string())]);
}

#[test]
fn ring_progressive_widens_the_eligible_set_over_wait() {
    let mut q = queue("caf");
    q.strategy = Strategy::RingProgressive { step: secs(20) };
    q.skills = vec![SkillReq::new("tax", 1)];
    let mut h = Harness::new(vec![q]);
    h.login_ready("junior", &[("tax", 3)]); // tier 2
    h.login_ready("senior", &[("tax", 5)]); // tier 0
    h.enqueue(1, "caf");
    assert!(reserved(1)(&h.state("senior")));
    h.accept(1, "senior");
    h.enqueue(2, "caf");
    let cmds = h.advance(secs(39));
    assert!(offers(&cmds).is_empty(), "tier 2 opens after 2 steps");
    let cmds = h.advance(secs(1));
    assert_eq!(offers(&cmds), vec![(2, "junior".to_string())]);
}
