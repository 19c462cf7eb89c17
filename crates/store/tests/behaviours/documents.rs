//! Files kept with a call: written once, read back whole, listed per agent and call.

use relais_store::{DocumentMeta, Store};

use crate::support::TempDir;

fn meta(doc_id: &str, call_id: u64, agent: &str, at_ms: i64) -> DocumentMeta {
    DocumentMeta {
        doc_id: doc_id.to_owned(),
        call_id,
        agent: agent.to_owned(),
        name: format!("{doc_id}.jpg"),
        media_type: "image/jpeg".to_owned(),
        size: 4,
        width: Some(1920),
        height: Some(1080),
        snapshot: true,
        from_role: "kiosk".to_owned(),
        attached_at_ms: at_ms,
    }
}

#[test]
fn a_kept_file_is_read_back_whole_and_listed_for_its_agent_only() {
    let dir = TempDir::new();
    let store = Store::open(&dir.db()).unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    store
        .attach_document(&meta("b", 7, "ana", 20), &bytes)
        .unwrap();
    store
        .attach_document(&meta("a", 7, "ana", 10), b"\xff\xd8\xff\x00")
        .unwrap();
    store
        .attach_document(&meta("c", 8, "ana", 30), b"\xff\xd8\xff\x01")
        .unwrap();
    store
        .attach_document(&meta("z", 7, "bo", 40), b"\xff\xd8\xff\x02")
        .unwrap();
    // Kept twice: the first stays.
    store
        .attach_document(&meta("a", 7, "ana", 99), b"other")
        .unwrap();
    drop(store);

    let store = Store::open(&dir.db()).unwrap();
    let (read, content) = store.document("b").unwrap().unwrap();
    assert_eq!(read, meta("b", 7, "ana", 20));
    assert_eq!(content, bytes);
    assert_eq!(store.document("a").unwrap().unwrap().1, b"\xff\xd8\xff\x00");
    assert!(store.document("nope").unwrap().is_none());
    let listed: Vec<String> = store
        .documents_of("ana", &[7, 8, 9])
        .unwrap()
        .into_iter()
        .map(|m| m.doc_id)
        .collect();
    assert_eq!(listed, ["a", "b", "c"]);
    assert_eq!(store.documents_of("bo", &[8]).unwrap(), []);
}
