//! An agent's history: its calls with the case reference and notes it gave, searched by period,
//! service and case reference.

use relais_store::{CaseNote, HistoryFilter, JournalOp, Store};

use crate::support::{TempDir, answered_call};

fn note(call_id: u64, agent: &str, case: Option<&str>, notes: &str) -> JournalOp {
    JournalOp::CaseNote {
        call_id,
        agent: agent.to_owned(),
        case_ref: case.map(str::to_owned),
        notes: Some(notes.to_owned()),
        at_ms: 1_000,
    }
}

fn all<'a>() -> HistoryFilter<'a> {
    HistoryFilter {
        from_ms: i64::MIN,
        to_ms: i64::MAX,
        service: None,
        case_prefix: None,
        limit: 200,
    }
}

fn ids(rows: &[(relais_store::CallRecord, CaseNote)]) -> Vec<u64> {
    rows.iter().map(|(r, _)| r.call_id).collect()
}

#[test]
fn the_history_finds_calls_by_period_service_and_case_newest_first() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    for (id, agent, queue, at) in [
        (1, "ana", "etat-civil", 1_000_000),
        (2, "ana", "caf", 2_000_000),
        (3, "ana", "caf", 3_000_000),
        (4, "bo", "caf", 4_000_000),
        (5, "ana", "caf", 5_000_000),
    ] {
        let mut call = answered_call(id, agent, at);
        call.queue = queue.to_owned();
        store.record_call(&call).unwrap();
    }
    // A note written during the call, replaced in wrap-up; Bo's note on Ana's call is his.
    store
        .commit_batch(&[
            note(2, "ana", Some("CAF-2026-17"), "premier jet"),
            note(2, "ana", Some("CAF-2026-17"), "Attestation envoyée."),
            note(3, "ana", Some("CAF-2025-9"), "RSA"),
            note(5, "ana", None, "sans dossier"),
            note(5, "bo", Some("CAF-2026-99"), "pas le sien"),
            note(4, "bo", Some("CAF-2026-4"), "Bo"),
        ])
        .unwrap();

    let rows = store.agent_history("ana", &all()).unwrap();
    assert_eq!(ids(&rows), [5, 3, 2, 1], "Ana's calls only, newest first");
    let note = |case: Option<&str>, notes: Option<&str>| CaseNote {
        case_ref: case.map(str::to_owned),
        notes: notes.map(str::to_owned),
    };
    assert_eq!(
        rows[2].1,
        note(Some("CAF-2026-17"), Some("Attestation envoyée."))
    );
    assert_eq!(rows[0].1, note(None, Some("sans dossier")));
    assert_eq!(rows[3].1, CaseNote::default());

    let period = HistoryFilter {
        from_ms: 2_000_000,
        to_ms: 5_000_000,
        ..all()
    };
    assert_eq!(ids(&store.agent_history("ana", &period).unwrap()), [3, 2]);
    let service = HistoryFilter {
        service: Some("etat-civil"),
        ..all()
    };
    assert_eq!(ids(&store.agent_history("ana", &service).unwrap()), [1]);
    // A prefix, whatever the case of its letters; another agent's reference finds nothing.
    let case = HistoryFilter {
        case_prefix: Some("caf-2026"),
        ..all()
    };
    assert_eq!(ids(&store.agent_history("ana", &case).unwrap()), [2]);
    let theirs = HistoryFilter {
        case_prefix: Some("CAF-2026-99"),
        ..all()
    };
    assert!(store.agent_history("ana", &theirs).unwrap().is_empty());
    // LIKE's wildcards in a search are plain characters.
    let wildcard = HistoryFilter {
        case_prefix: Some("%"),
        ..all()
    };
    assert!(store.agent_history("ana", &wildcard).unwrap().is_empty());
    let limited = HistoryFilter { limit: 2, ..all() };
    assert_eq!(ids(&store.agent_history("ana", &limited).unwrap()), [5, 3]);
}
