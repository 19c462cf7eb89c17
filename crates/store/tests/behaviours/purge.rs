//! Retention: records, their legs and chat, agent states and audit entries older than the
//! cut-off go; newer ones, calls in progress and each agent's current state stay.

use relais_store::{
    AgentStateChange, AuditEntry, CallbackDone, CallbackRow, ChatRecord, JournalOp, LegRecord,
    LiveCall, LiveState, Purged, Store,
};

use crate::support::{TempDir, abandoned_call, answered_call};

fn leg(seq: u32, role: &str, subject: &str, at: i64) -> LegRecord {
    LegRecord {
        seq,
        role: role.to_owned(),
        subject: subject.to_owned(),
        queue: None,
        joined_at_ms: at - 50_000,
        left_at_ms: at,
        left_because: "ended".to_owned(),
        wrap_up_ms: None,
        disposition: None,
    }
}

fn note(call_id: u64, agent: &str, case: &str) -> JournalOp {
    JournalOp::CaseNote {
        call_id,
        agent: agent.to_owned(),
        case_ref: Some(case.to_owned()),
        notes: None,
        at_ms: 1_000,
    }
}

fn callback(task_id: u64, requested_at_ms: i64) -> JournalOp {
    JournalOp::Callback(Box::new(CallbackRow {
        task_id,
        call_id: task_id - 100,
        service: "caf".to_owned(),
        kiosk: "kiosk-1".to_owned(),
        site: "mairie".to_owned(),
        enqueued_at_ms: requested_at_ms - 60_000,
        requested_at_ms,
        not_before_ms: None,
        phone: "0612345678".to_owned(),
        done_at_ms: None,
        outcome: None,
        agent: None,
        result: None,
    }))
}

fn callback_done(task_id: u64, at_ms: i64) -> JournalOp {
    JournalOp::CallbackDone(CallbackDone {
        task_id,
        at_ms,
        outcome: "answered".to_owned(),
        agent: Some("ana".to_owned()),
        result: Some("reached".to_owned()),
    })
}

fn state(agent: &str, state: &str, at_ms: i64) -> JournalOp {
    JournalOp::AgentState(AgentStateChange {
        agent: agent.to_owned(),
        state: state.to_owned(),
        reason: None,
        at_ms,
    })
}

#[test]
fn a_purge_deletes_what_is_older_than_the_cut_off_and_nothing_else() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let cut = 10_000_000;
    let chat = [ChatRecord {
        at_ms: 1_000,
        role: "kiosk".to_owned(),
        name: "borne".to_owned(),
        text: "bonjour".to_owned(),
    }];
    for (id, at) in [
        (1, cut - 5_000_000),
        (2, cut - 1),
        (3, cut),
        (4, cut + 1_000),
    ] {
        let legs = [leg(0, "kiosk", "kiosk-12", at), leg(1, "agent", "ana", at)];
        store
            .record_call_in_full(&answered_call(id, "ana", at), &legs, &chat)
            .unwrap();
    }
    store.record_call(&abandoned_call(5, cut - 10)).unwrap();
    let live = LiveCall {
        call_id: 6,
        queue: "etat-civil".to_owned(),
        origin_queue: "etat-civil".to_owned(),
        kiosk: "kiosk-1".to_owned(),
        site: "mairie".to_owned(),
        priority: 0,
        enqueued_at_ms: 1_000,
        state: LiveState::Waiting,
        agent: None,
        answered_at_ms: None,
        ended_at_ms: None,
        attempts: 0,
        legs: Vec::new(),
        updated_at_ms: 1_000,
    };
    store
        .commit_batch(&[
            JournalOp::Live(Box::new(live)),
            // Done before the cut-off: the row and its number go. Done after, or not done
            // yet however old: they stay.
            callback(101, 1_000),
            callback_done(101, cut - 1),
            callback(102, 1_000),
            callback_done(102, cut),
            callback(103, 1_000),
            note(1, "ana", "CAF-1"),
            note(3, "ana", "CAF-3"),
            state("ana", "available", 1_000),
            state("ana", "on_call", cut - 2),
            state("ana", "wrap_up", cut + 5),
            // Bo's only change is old: it is his state now, and stays.
            state("bo", "not_ready", 2_000),
            JournalOp::Audit(AuditEntry {
                at_ms: cut - 1,
                actor: "sup".to_owned(),
                action: "listen".to_owned(),
                target: "call 1".to_owned(),
                detail: None,
            }),
            JournalOp::Audit(AuditEntry {
                at_ms: cut,
                actor: "sup".to_owned(),
                action: "barge".to_owned(),
                target: "call 3".to_owned(),
                detail: None,
            }),
        ])
        .unwrap();

    for (call_id, doc) in [(1, "d-1"), (3, "d-3")] {
        store
            .attach_document(&kept_file(call_id, doc, cut - 5), b"%PDF-1.4 kept")
            .unwrap();
    }
    // Kept with a call that has no record: it goes at the same age.
    store
        .attach_document(&kept_file(77, "d-77", cut - 5), b"%PDF-1.4 orphan")
        .unwrap();
    let purged = store.purge_before(cut).unwrap();
    assert_eq!(
        purged,
        Purged {
            calls: 3,
            legs: 4,
            chat: 2,
            notes: 1,
            documents: 2,
            agent_states: 2,
            audit: 1,
            callbacks: 1,
        }
    );
    assert!(store.callback(101).unwrap().is_none());
    assert_eq!(
        store.callback(102).unwrap().unwrap().result.as_deref(),
        Some("reached")
    );
    let pending: Vec<u64> = store
        .pending_callbacks()
        .unwrap()
        .iter()
        .map(|row| row.task_id)
        .collect();
    assert_eq!(
        pending,
        vec![103],
        "a callback not done yet keeps its number"
    );
    assert!(!format!("{:?}", store.callback(103).unwrap()).contains("0612345678"));
    for (id, kept) in [(1, false), (2, false), (3, true), (4, true), (5, false)] {
        assert_eq!(store.call(id).unwrap().is_some(), kept, "call {id}");
        assert_eq!(store.legs_of(id).unwrap().len(), if kept { 2 } else { 0 });
        assert_eq!(store.chat_of(id).unwrap().len(), usize::from(kept));
    }
    assert_eq!(
        store.live_calls().unwrap().len(),
        1,
        "calls in progress stay"
    );
    let states: Vec<(String, String)> = store
        .agent_states_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|c| (c.agent, c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("bo".to_owned(), "not_ready".to_owned()),
            ("ana".to_owned(), "wrap_up".to_owned())
        ]
    );
    assert_eq!(store.audit_between(0, i64::MAX).unwrap().len(), 1);
    let notes: Vec<(u64, Option<String>)> = store
        .agent_history(
            "ana",
            &relais_store::HistoryFilter {
                from_ms: i64::MIN,
                to_ms: i64::MAX,
                service: None,
                case_prefix: Some("CAF"),
                limit: 10,
            },
        )
        .unwrap()
        .into_iter()
        .map(|(call, note)| (call.call_id, note.case_ref))
        .collect();
    assert_eq!(
        notes,
        [(3, Some("CAF-3".to_owned()))],
        "a note goes with its call"
    );
    let left: i64 = rusqlite::Connection::open(dir.db())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM call_notes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        left, 1,
        "the purged call's note is deleted, not only hidden"
    );
    assert!(store.document("d-1").unwrap().is_none());
    assert!(store.document("d-77").unwrap().is_none());
    assert_eq!(
        store.document("d-3").unwrap().map(|(_, bytes)| bytes),
        Some(b"%PDF-1.4 kept".to_vec())
    );
    // Nothing left to purge.
    assert_eq!(store.purge_before(cut).unwrap(), Purged::default());
}

fn kept_file(call_id: u64, doc_id: &str, at_ms: i64) -> relais_store::DocumentMeta {
    relais_store::DocumentMeta {
        doc_id: doc_id.to_owned(),
        call_id,
        agent: "ana".to_owned(),
        name: "justificatif.pdf".to_owned(),
        media_type: "application/pdf".to_owned(),
        size: 13,
        width: None,
        height: None,
        snapshot: false,
        from_role: "kiosk".to_owned(),
        attached_at_ms: at_ms,
    }
}
