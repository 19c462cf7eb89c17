//! Agent state changes and the supervision audit log: recorded, listed by period.

use relais_store::{AgentStateChange, AuditEntry, Store};

use crate::support::TempDir;

fn change(agent: &str, state: &str, reason: Option<&str>, at_ms: i64) -> AgentStateChange {
    AgentStateChange {
        agent: agent.to_owned(),
        state: state.to_owned(),
        reason: reason.map(str::to_owned),
        at_ms,
    }
}

#[test]
fn agent_state_changes_are_listed_by_period_and_agent() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let changes = [
        change("agent-ana", "available", None, 1_000),
        change("agent-bo", "available", None, 1_000),
        change("agent-ana", "paused", Some("pause-dejeuner"), 2_000),
        change("agent-ana", "available", None, 3_000),
    ];
    for change in &changes {
        store.record_agent_state(change).unwrap();
    }

    assert_eq!(
        store.agent_states_between(1_000, 3_000).unwrap(),
        changes[..3]
    );
    assert_eq!(
        store
            .agent_states_of_agent_between("agent-ana", 0, 10_000)
            .unwrap(),
        [changes[0].clone(), changes[2].clone(), changes[3].clone()]
    );
}

#[test]
fn each_agents_last_state_is_read_back_after_reopening() {
    let dir = TempDir::new();
    let changes = [
        change("agent-ana", "available", None, 1_000),
        change("agent-bo", "not_ready", Some("pause-dejeuner"), 1_500),
        change("agent-ana", "on_call", None, 2_000),
        // Recorded later with an earlier time (a clock step): the later row still wins.
        change("agent-bo", "available", None, 1_400),
    ];
    {
        let store = Store::open(&dir.db()).unwrap();
        store
            .commit_batch(
                &changes
                    .iter()
                    .cloned()
                    .map(relais_store::JournalOp::AgentState)
                    .collect::<Vec<_>>(),
            )
            .unwrap();
    }
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(
        store.last_agent_states().unwrap(),
        [changes[2].clone(), changes[3].clone()]
    );
}

#[test]
fn audit_entries_survive_reopening_in_time_order() {
    let dir = TempDir::new();
    let barge = AuditEntry {
        at_ms: 5_000,
        actor: "superviseur-claire".to_owned(),
        action: "barge".to_owned(),
        target: "call:17".to_owned(),
        detail: Some("agent a demandé de l'aide".to_owned()),
    };
    let listen = AuditEntry {
        at_ms: 4_000,
        actor: "superviseur-claire".to_owned(),
        action: "listen".to_owned(),
        target: "call:17".to_owned(),
        detail: None,
    };
    {
        let store = Store::open(&dir.db()).unwrap();
        store.record_audit(&barge).unwrap();
        store.record_audit(&listen).unwrap();
    }

    let store = Store::open(&dir.db()).unwrap();

    assert_eq!(
        store.audit_between(0, 10_000).unwrap(),
        [listen, barge.clone()]
    );
    assert_eq!(store.audit_between(4_001, 5_001).unwrap(), [barge]);
}
