//! Same seed and events give the same commands.

mod common;

use common::*;
use relais_dispatch::*;

fn scenario(seed: u64) -> Vec<String> {
    let mut a = queue("a");
    a.strategy = Strategy::Random;
    a.max_wait = Some(MaxWait {
        after: secs(45),
        overflow_to: Some("b".into()),
    });
    let mut b = queue("b");
    b.strategy = Strategy::Random;
    b.wrap_up = secs(3);
    let mut h = Harness::with_config(DispatchConfig::with_queues(vec![a, b]), seed);
    for i in 0..8 {
        h.login_ready(&format!("agent{i}"), &[]);
    }
    for call in 0..60u64 {
        h.enqueue(call, if call % 3 == 0 { "b" } else { "a" });
        h.advance(ms(700));
        let offered: Vec<(u64, String)> = h
            .d
            .agents()
            .filter_map(|v| match v.state {
                AgentState::Reserved { call, .. } => Some((call.0, v.agent.as_str().to_owned())),
                _ => None,
            })
            .collect();
        for (c, agent) in offered {
            if c % 4 == 0 {
                h.reject(c, &agent);
            } else {
                h.accept(c, &agent);
            }
        }
        let on_call: Vec<u64> =
            h.d.agents()
                .filter_map(|v| match v.state {
                    AgentState::OnCall { call } if call.0 % 2 == 1 => Some(call.0),
                    _ => None,
                })
                .collect();
        for c in on_call {
            h.hangup(c);
        }
    }
    h.advance(secs(300));
    let start = h.start;
    h.log
        .iter()
        .map(|c| format!("{c:?}").replace(&format!("{start:?}"), "T0"))
        .map(|s| {
            // Instants are printed relative to nothing stable: keep only the variant and ids.
            s.split("Instant").next().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn same_seed_and_events_give_the_same_commands() {
    let first = scenario(7);
    assert!(first.len() > 200);
    assert_eq!(first, scenario(7));
    assert_ne!(first, scenario(8));
}
