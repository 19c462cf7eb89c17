//! Documents across a call as the call core rules them: who may send, who receives, who may
//! read, and when nothing passes.
#![allow(clippy::unwrap_used)]

mod common;

use common::World;
use relais_call::{Input, Verdict};
use relais_proto::messages::Document;
use relais_proto::{CallId, LegRole, Role, ServerMessage, SupervisionMode};

const KIOSK: u64 = 1;
const AGENT: u64 = 100;
const SUPERVISOR: u64 = 300;

fn file(name: &str) -> Document {
    Document {
        id: format!("doc-{name}"),
        name: name.to_owned(),
        // What a client claims is not taken: the core sets who sent it.
        from: LegRole::Supervisor,
        media_type: Some("application/pdf".to_owned()),
        size: Some(1234),
        width: None,
        height: None,
        snapshot: false,
        url: None,
        attached: false,
    }
}

fn link(url: &str) -> Document {
    Document {
        media_type: None,
        size: None,
        url: Some(url.to_owned()),
        name: String::new(),
        ..file("lien")
    }
}

fn documents(w: &World, session: u64) -> Vec<(CallId, Document)> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Document { call, document } => Some((*call, document.clone())),
            _ => None,
        })
        .collect()
}

fn share(w: &mut World, call: CallId, subject: &str, doc: Document) -> Result<Vec<String>, String> {
    match w.input(Input::ShareFile {
        call,
        subject: subject.to_owned(),
        document: doc,
    }) {
        Ok(Verdict::Shared { readers }) => Ok(readers),
        Ok(other) => panic!("{other:?}"),
        Err(err) => Err(err.to_string()),
    }
}

/// A connected call with a supervisor listening in.
fn call_with_supervisor(w: &mut World) -> CallId {
    let call = w.answered();
    w.media_up();
    w.open(SUPERVISOR, Role::Supervisor, "sup-300");
    w.input(Input::Supervise {
        call,
        session: SUPERVISOR,
        name: "Responsable".into(),
        mode: SupervisionMode::Monitor,
    })
    .unwrap();
    call
}

#[test]
fn a_file_of_the_agent_reaches_the_kiosk_and_only_they_may_read_it() {
    let mut w = World::new();
    let call = call_with_supervisor(&mut w);
    let readers = share(&mut w, call, "alice", file("attestation.pdf")).unwrap();
    assert_eq!(readers, vec!["alice".to_owned(), "borne-1".to_owned()]);
    let at_kiosk = documents(&w, KIOSK);
    assert_eq!(at_kiosk.len(), 1);
    assert_eq!(at_kiosk[0].0, call);
    assert_eq!(at_kiosk[0].1.from, LegRole::Agent);
    assert_eq!(at_kiosk[0].1.name, "attestation.pdf");
    assert!(documents(&w, AGENT).is_empty(), "not echoed to its sender");
    assert!(documents(&w, SUPERVISOR).is_empty());
}

#[test]
fn a_still_of_the_kiosk_is_for_the_agent_only() {
    let mut w = World::new();
    let call = call_with_supervisor(&mut w);
    let still = Document {
        snapshot: true,
        media_type: Some("image/jpeg".into()),
        ..file("photo.jpg")
    };
    let readers = share(&mut w, call, "borne-1", still).unwrap();
    assert_eq!(readers, vec!["borne-1".to_owned(), "alice".to_owned()]);
    let at_agent = documents(&w, AGENT);
    assert_eq!(at_agent.len(), 1);
    assert_eq!(at_agent[0].1.from, LegRole::Kiosk);
    assert!(at_agent[0].1.snapshot);
    assert!(
        documents(&w, SUPERVISOR).is_empty(),
        "a supervisor never gets it"
    );
    assert!(documents(&w, KIOSK).is_empty());
}

#[test]
fn nobody_outside_the_conversation_and_no_call_that_is_not_connected_passes_documents() {
    let mut w = World::new();
    w.ready_agent(AGENT, "alice");
    let call = w.queued(KIOSK, "borne-1");
    let waiting = share(&mut w, call, "borne-1", file("a.pdf"));
    assert!(waiting.is_err(), "a waiting call: {waiting:?}");

    let mut w = World::new();
    let call = call_with_supervisor(&mut w);
    assert!(share(&mut w, call, "sup-300", file("a.pdf")).is_err());
    assert!(share(&mut w, call, "borne-9", file("a.pdf")).is_err());
    assert!(share(&mut w, CallId(999), "alice", file("a.pdf")).is_err());
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    let after = share(&mut w, call, "alice", file("a.pdf"));
    assert!(after.is_err(), "after the end: {after:?}");
    assert!(documents(&w, KIOSK).is_empty());
    assert!(documents(&w, AGENT).is_empty());
}

#[test]
fn a_link_is_an_http_address_that_the_agent_shows_the_kiosk() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    for bad in [
        "javascript:alert(1)",
        "ftp://exemple.fr/a",
        "https://",
        "https://exemple.fr/a b",
        "",
    ] {
        let refused = w.input(Input::ShareLink {
            session: AGENT,
            document: link(bad),
        });
        assert!(refused.is_err(), "{bad:?}: {refused:?}");
    }
    let from_kiosk = w.input(Input::ShareLink {
        session: KIOSK,
        document: link("https://www.caf.fr"),
    });
    assert!(from_kiosk.is_err());
    assert!(documents(&w, KIOSK).is_empty());
    w.input(Input::ShareLink {
        session: AGENT,
        document: link("HTTPS://www.caf.fr/allocataires"),
    })
    .unwrap();
    let at_kiosk = documents(&w, KIOSK);
    assert_eq!(at_kiosk.len(), 1);
    assert_eq!(at_kiosk[0].0, call);
    assert_eq!(
        at_kiosk[0].1.url.as_deref(),
        Some("HTTPS://www.caf.fr/allocataires")
    );
    assert_eq!(
        at_kiosk[0].1.name, "HTTPS://www.caf.fr/allocataires",
        "an untitled link is named by its address"
    );
}

#[test]
fn the_agent_asks_the_kiosk_for_a_still_and_nobody_else_may() {
    let mut w = World::new();
    assert!(w.input(Input::RequestSnapshot { session: AGENT }).is_err());
    let call = call_with_supervisor(&mut w);
    assert!(w.input(Input::RequestSnapshot { session: KIOSK }).is_err());
    assert!(
        w.input(Input::RequestSnapshot {
            session: SUPERVISOR
        })
        .is_err()
    );
    w.input(Input::RequestSnapshot { session: AGENT }).unwrap();
    let asked: Vec<_> = w
        .pushed(KIOSK)
        .into_iter()
        .filter(|m| matches!(m, ServerMessage::SnapshotRequested { .. }))
        .cloned()
        .collect();
    assert_eq!(asked, vec![ServerMessage::SnapshotRequested { call }]);
}
