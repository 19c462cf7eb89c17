//! Call records: written once, completed by wrap-up, listed by period and by agent.

use relais_proto::{EndReason, EndedBy, Outcome};
use relais_store::{ChatRecord, LegRecord, Store, StoreError};

use crate::support::{TempDir, abandoned_call, answered_call};

#[test]
fn a_call_cannot_be_recorded_twice() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let first = answered_call(7, "agent-ana", 5_000);
    store.record_call(&first).unwrap();

    let mut second = abandoned_call(7, 6_000);
    second.queue = "urbanisme".to_owned();
    let error = store.record_call(&second).unwrap_err();

    assert_eq!(error, StoreError::Duplicate(7));
    assert_eq!(store.calls_between(0, 10_000).unwrap(), [first]);
}

#[test]
fn wrap_up_completes_the_record() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let call = answered_call(3, "agent-ana", 5_000);
    store.record_call(&call).unwrap();

    store
        .set_wrap_up(3, 45_000, Some("demande-acte-naissance"))
        .unwrap();

    let stored = store.calls_between(0, 10_000).unwrap();
    let mut expected = call;
    expected.wrap_up_ms = Some(45_000);
    expected.disposition = Some("demande-acte-naissance".to_owned());
    assert_eq!(stored, [expected]);
}

#[test]
fn wrap_up_of_an_unknown_call_is_refused() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    store
        .record_call(&answered_call(1, "agent-ana", 5_000))
        .unwrap();

    assert_eq!(
        store.set_wrap_up(2, 1_000, None).unwrap_err(),
        StoreError::UnknownCall(2)
    );
}

#[test]
fn calls_are_listed_by_period_in_end_order() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    // Recorded out of order; two calls end in the same millisecond.
    for call in [
        answered_call(5, "agent-ana", 3_000),
        abandoned_call(2, 1_000),
        answered_call(9, "agent-bo", 2_000),
        abandoned_call(4, 2_000),
        answered_call(1, "agent-ana", 999),
        answered_call(8, "agent-bo", 3_001),
    ] {
        store.record_call(&call).unwrap();
    }

    let listed: Vec<u64> = store
        .calls_between(1_000, 3_001)
        .unwrap()
        .iter()
        .map(|call| call.call_id)
        .collect();

    // [from, to): 999 is before, 3_001 is the exclusive end.
    assert_eq!(listed, [2, 4, 9, 5]);
    assert!(store.calls_between(3_001, 3_001).unwrap().is_empty());
}

#[test]
fn agent_calls_are_filtered() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    for call in [
        answered_call(1, "agent-ana", 1_000),
        answered_call(2, "agent-bo", 1_500),
        abandoned_call(3, 1_600),
        answered_call(4, "agent-ana", 2_000),
        answered_call(5, "agent-ana", 9_000),
    ] {
        store.record_call(&call).unwrap();
    }

    let ana: Vec<u64> = store
        .calls_of_agent_between("agent-ana", 0, 5_000)
        .unwrap()
        .iter()
        .map(|call| call.call_id)
        .collect();

    assert_eq!(ana, [1, 4]);
    assert!(
        store
            .calls_of_agent_between("agent-nobody", 0, 10_000)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn numbering_resumes_after_the_highest_call_id() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.max_call_id().unwrap(), None);

    store
        .record_call(&answered_call(12, "agent-ana", 9_000))
        .unwrap();
    store.record_call(&abandoned_call(40, 1_000)).unwrap();
    store.record_call(&abandoned_call(7, 5_000)).unwrap();

    assert_eq!(store.max_call_id().unwrap(), Some(40));
}

#[test]
fn every_field_round_trips_including_empty_options_and_extremes() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let mut call = abandoned_call(i64::MAX as u64, -5);
    call.attempts = u32::MAX;
    call.kiosk = "kiosque « gare », quai 2\n\"B\"".to_owned();
    call.outcome = Outcome::Interrupted;
    call.ended_by = Some(EndedBy::Server);
    call.end_reason = Some(EndReason::MediaLost);
    store.record_call(&call).unwrap();

    assert_eq!(store.calls_between(i64::MIN, 0).unwrap(), [call]);
    assert_eq!(store.max_call_id().unwrap(), Some(i64::MAX as u64));
}

#[test]
fn a_call_id_beyond_sqlite_range_is_refused() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();

    let error = store
        .record_call(&abandoned_call(u64::MAX, 1_000))
        .unwrap_err();

    assert!(matches!(error, StoreError::Sqlite(_)), "{error:?}");
    assert_eq!(store.max_call_id().unwrap(), None);
}

#[test]
fn pages_cover_a_period_once_in_order_even_when_end_times_tie() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    // Twelve calls, three per end time, written out of order.
    for call_id in [12u64, 3, 7, 1, 9, 4, 11, 2, 8, 5, 10, 6] {
        let ended = 1_000 + ((call_id - 1) / 3) as i64 * 100;
        store
            .record_call(&answered_call(call_id, "agent-ana", ended))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store.calls_page(0, 10_000, after, 5).unwrap();
        pages += 1;
        seen.extend(page.iter().map(|record| record.call_id));
        if page.len() < 5 {
            break;
        }
        let last = page.last().unwrap();
        after = Some((last.ended_at_ms, last.call_id));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=12).collect::<Vec<_>>());
    // The period still bounds a page.
    let inside = store.calls_page(1_100, 1_200, None, 50).unwrap();
    let ids: Vec<u64> = inside.iter().map(|record| record.call_id).collect();
    assert_eq!(ids, [4, 5, 6]);
}

#[test]
fn reserved_call_ids_are_never_handed_out_twice_across_reopenings() {
    let dir = TempDir::new();
    let first = {
        let store = Store::open(&dir.db()).unwrap();
        let first = store.reserve_call_ids(1000).unwrap();
        assert_eq!(first, 1);
        // Calls 1..=3 happened; their records were lost in a crash (never written).
        first
    };
    let store = Store::open(&dir.db()).unwrap();
    let after_crash = store.reserve_call_ids(1000).unwrap();
    assert!(after_crash >= first + 1000, "{after_crash}");
    // A recorded id past the reservation (from an older server) pushes the next block past it.
    store
        .record_call(&answered_call(after_crash + 5000, "agent-ana", 9_000))
        .unwrap();
    let next = store.reserve_call_ids(10).unwrap();
    assert_eq!(next, after_crash + 5001);
}

#[test]
fn a_record_stored_as_rejected_reads_back_as_queue_full_and_a_foreign_word_is_an_error() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    store.record_call(&abandoned_call(1, 1_000)).unwrap();
    store.record_call(&abandoned_call(2, 2_000)).unwrap();
    drop(store);
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute(
        "UPDATE calls SET outcome = 'rejected' WHERE call_id = 1",
        [],
    )
    .unwrap();
    drop(raw);
    let store = Store::open(&dir.db()).unwrap();
    let calls = store.calls_between(0, 1_500).unwrap();
    assert_eq!(calls[0].outcome, Outcome::QueueFull);

    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute(
        "UPDATE calls SET outcome = 'exploded' WHERE call_id = 2",
        [],
    )
    .unwrap();
    drop(raw);
    assert!(store.calls_between(1_500, 2_500).is_err());
}

fn leg(seq: u32, role: &str, subject: &str, left_because: &str) -> LegRecord {
    LegRecord {
        seq,
        role: role.to_owned(),
        subject: subject.to_owned(),
        queue: (role == "agent").then(|| "caf".to_owned()),
        joined_at_ms: 1_000 + i64::from(seq),
        left_at_ms: 5_000,
        left_because: left_because.to_owned(),
        wrap_up_ms: None,
        disposition: None,
    }
}

#[test]
fn a_transferred_call_keeps_its_legs_and_each_agent_its_wrap_up() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let call = answered_call(9, "agent-bob", 5_000);
    let legs = vec![
        leg(0, "kiosk", "borne-1", "ended"),
        leg(1, "agent", "agent-ana", "transferred"),
        leg(2, "agent", "agent-bob", "ended"),
    ];
    store.record_call_with_legs(&call, &legs).unwrap();
    assert_eq!(store.legs_of(9).unwrap(), legs);

    // The first agent's wrap-up lands on its leg only; the last agent's on the call too.
    store
        .set_agent_wrap_up(9, "agent-ana", 12_000, Some("transfert"))
        .unwrap();
    store
        .set_agent_wrap_up(9, "agent-bob", 30_000, None)
        .unwrap();
    let stored = store.legs_of(9).unwrap();
    assert_eq!(stored[1].wrap_up_ms, Some(12_000));
    assert_eq!(stored[1].disposition.as_deref(), Some("transfert"));
    assert_eq!(stored[2].wrap_up_ms, Some(30_000));
    let record = &store.calls_between(0, 10_000).unwrap()[0];
    assert_eq!(
        (record.wrap_up_ms, record.disposition.as_deref()),
        (Some(30_000), None)
    );
    assert_eq!(
        store
            .set_agent_wrap_up(10, "agent-ana", 1, None)
            .unwrap_err(),
        StoreError::UnknownCall(10)
    );

    // A second record of the call writes no leg either.
    let again = store.record_call_with_legs(&call, &legs[..1]);
    assert_eq!(again.unwrap_err(), StoreError::Duplicate(9));
    assert_eq!(store.legs_of(9).unwrap().len(), 3);
}

#[test]
fn a_kept_chat_is_stored_with_its_call_in_order() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let call = answered_call(11, "agent-ana", 5_000);
    let line = |at_ms, role: &str, text: &str| ChatRecord {
        at_ms,
        role: role.to_owned(),
        name: format!("{role}-name"),
        text: text.to_owned(),
    };
    let chat = vec![
        line(1, "kiosk", "bonjour"),
        line(2, "agent", "votre numéro ?"),
    ];
    store
        .record_call_in_full(&call, &[leg(0, "kiosk", "borne-1", "ended")], &chat)
        .unwrap();
    assert_eq!(store.chat_of(11).unwrap(), chat);
    assert!(store.chat_of(12).unwrap().is_empty());
}
