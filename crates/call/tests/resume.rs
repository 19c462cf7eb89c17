//! A kiosk whose signalling connection drops keeps its call for the resume grace period: at
//! its place in the queue while it waits, connected (with its media) once answered. A new
//! session showing the old one's resume token gets the call back; after the grace period the
//! call ends as if the kiosk had left.
#![allow(clippy::unwrap_used)]

mod common;

use common::{World, secs};
use relais_call::{Input, Verdict};
use relais_dispatch::Event;
use relais_proto::messages::ResumedCall;
use relais_proto::{
    AgentId, CallId, EndReason, EndedBy, LegRole, MediaLossReason, Outcome, Role, ServerMessage,
};

/// A kiosk session that holds resume token `token` (and asks back `previous`'s call).
fn kiosk_session(
    w: &mut World,
    session: u64,
    kiosk: &str,
    token: &str,
    previous: Option<&str>,
) -> Verdict {
    w.open(session, Role::Kiosk, kiosk);
    w.input(Input::Resume {
        session,
        token: token.to_owned(),
        previous: previous.map(str::to_owned),
    })
    .unwrap()
}

/// A kiosk on `session` with token `token` places a call to `caf`.
fn queued_with_token(w: &mut World, session: u64, kiosk: &str, token: &str) -> CallId {
    kiosk_session(w, session, kiosk, token, None);
    match w.place(session, kiosk, "caf").unwrap() {
        Verdict::Queued(call) => call,
        other => panic!("queued: {other:?}"),
    }
}

/// Kiosk session 1 (token `t1`) calls; agent `alice` on session 100 accepts.
fn answered_with_token(w: &mut World) -> CallId {
    w.ready_agent(100, "alice");
    let call = queued_with_token(w, 1, "borne-1", "t1");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    call
}

fn resumed(verdict: Verdict) -> (ResumedCall, Option<u64>) {
    match verdict {
        Verdict::Resumed { call, replaced } => (call, replaced),
        other => panic!("resumed: {other:?}"),
    }
}

fn last_position(w: &World, session: u64) -> Option<usize> {
    w.pushed(session).into_iter().rev().find_map(|m| match m {
        ServerMessage::QueuePosition { position, .. } => Some(*position),
        _ => None,
    })
}

fn signalling(w: &World, session: u64) -> Vec<bool> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::PeerSignalling { role, online, .. } => {
                assert_eq!(*role, LegRole::Kiosk);
                Some(*online)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_waiting_kiosk_that_reconnects_in_time_keeps_its_call_and_its_place() {
    let mut w = World::new();
    let first = queued_with_token(&mut w, 1, "borne-1", "t1");
    let second = queued_with_token(&mut w, 2, "borne-2", "t2");
    assert_eq!(last_position(&w, 2), Some(2));

    w.input(Input::SessionClosed { session: 2 }).unwrap();
    w.advance(secs(30));
    assert!(w.records.is_empty(), "nothing ended: {:?}", w.records);

    // Another identity, or a token never given, gets nothing.
    let verdict = kiosk_session(&mut w, 3, "borne-1", "t3", Some("t2"));
    assert!(matches!(verdict, Verdict::Done), "{verdict:?}");
    let verdict = kiosk_session(&mut w, 4, "borne-2", "t4", Some("forged"));
    assert!(matches!(verdict, Verdict::Done), "{verdict:?}");

    let (call, replaced) = resumed(kiosk_session(&mut w, 5, "borne-2", "t5", Some("t2")));
    assert_eq!(replaced, None);
    assert_eq!(
        call,
        ResumedCall {
            call: second,
            service: "caf".to_owned(),
            connected: false,
            position: Some(2),
            eta_secs: None,
            media: false,
        }
    );
    // Position pushes follow the new session: the first kiosk gives up, the second moves up.
    w.input(Input::Cancel { session: 1 }).unwrap();
    assert!(w.record_of(first).is_some());
    assert_eq!(last_position(&w, 5), Some(1));
    // The grace period passes: the call resumed stays.
    w.advance(secs(60));
    assert!(w.record_of(second).is_none());
    // The same token cannot be used twice.
    let verdict = kiosk_session(&mut w, 6, "borne-2", "t6", Some("t2"));
    assert!(matches!(verdict, Verdict::Done), "{verdict:?}");
}

#[test]
fn a_waiting_kiosk_that_does_not_come_back_in_time_abandons_its_call() {
    let mut w = World::new();
    let call = queued_with_token(&mut w, 1, "borne-1", "t1");
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    w.advance(secs(59));
    assert!(w.record_of(call).is_none(), "still within the grace period");
    w.advance(secs(2));
    let record = w
        .record_of(call)
        .expect("the call ended after the grace period");
    assert_eq!(record.outcome, Outcome::Abandoned);
    let verdict = kiosk_session(&mut w, 2, "borne-1", "t2", Some("t1"));
    assert!(matches!(verdict, Verdict::Done), "too late: {verdict:?}");
    // The kiosk can call again.
    assert!(matches!(
        w.place(2, "borne-1", "caf").unwrap(),
        Verdict::Queued(_)
    ));
}

#[test]
fn a_kiosk_whose_connection_drops_during_a_call_keeps_it_and_the_agent_is_told() {
    let mut w = World::new();
    let call = answered_with_token(&mut w);
    let (kiosk, _agent) = w.media_up();

    w.input(Input::SessionClosed { session: 1 }).unwrap();
    assert_eq!(signalling(&w, 100), [false], "the agent is told");
    // The kiosk's page lost its media too; the media grace (20 s) does not end the call while
    // the kiosk may still come back.
    w.lost(kiosk, MediaLossReason::ConsentExpired);
    w.advance(secs(45));
    assert!(w.record_of(call).is_none(), "{:?}", w.records);

    let (back, _) = resumed(kiosk_session(&mut w, 2, "borne-1", "t2", Some("t1")));
    assert!(back.connected);
    assert_eq!(back.position, None);
    assert_eq!(signalling(&w, 100), [false, true]);
    // Back, it has the whole media grace to offer again: it does.
    w.advance(secs(15));
    assert!(w.record_of(call).is_none(), "{:?}", w.records);
    let (_, again) = w.negotiate(2);
    w.connected(again);
    w.advance(secs(60));
    assert!(w.record_of(call).is_none());
    w.input(Input::Hangup { session: 2 }).unwrap();
    assert_eq!(w.record_of(call).unwrap().outcome, Outcome::Answered);
}

#[test]
fn a_connected_kiosk_that_does_not_come_back_ends_its_call_as_disconnected() {
    let mut w = World::new();
    let call = answered_with_token(&mut w);
    w.media_up();
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    w.advance(secs(61));
    let record = w.record_of(call).expect("ended after the grace period");
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.ended_by, Some(EndedBy::Kiosk));
    assert_eq!(record.reason, Some(EndReason::Disconnected));
}

#[test]
fn a_new_connection_takes_the_call_over_from_one_whose_drop_is_not_noticed_yet() {
    let mut w = World::new();
    let call = queued_with_token(&mut w, 1, "borne-1", "t1");
    let (back, replaced) = resumed(kiosk_session(&mut w, 2, "borne-1", "t2", Some("t1")));
    assert_eq!((back.call, replaced), (call, Some(1)));
    // The old connection closes later: the call stays with the new one.
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    w.advance(secs(120));
    assert!(w.record_of(call).is_none());
    w.input(Input::Cancel { session: 2 }).unwrap();
    assert_eq!(w.record_of(call).unwrap().outcome, Outcome::Abandoned);
}

#[test]
fn without_a_grace_period_a_dropped_kiosk_abandons_at_once() {
    let mut w = World::with_call_config(|c| c.resume_grace = secs(0));
    let call = queued_with_token(&mut w, 1, "borne-1", "t1");
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    // Gone within seconds: a short abandon.
    assert_eq!(w.record_of(call).unwrap().outcome, Outcome::AbandonedShort);
}

fn agent_signalling(w: &World, session: u64) -> Vec<bool> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::PeerSignalling {
                role: LegRole::Agent,
                online,
                ..
            } => Some(*online),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agent_whose_connection_drops_during_a_call_keeps_it_for_its_grace_period() {
    let mut w = World::new();
    let call = w.answered();
    let (_, agent) = w.media_up();
    w.input(Input::SessionClosed { session: 100 }).unwrap();
    assert_eq!(agent_signalling(&w, 1), [false], "the kiosk is told");
    // The reloaded console's peer is gone; the call waits for the agent, not for the media.
    w.lost(agent, MediaLossReason::ConsentExpired);
    w.advance(secs(25));
    assert!(matches!(
        w.core.call(call).unwrap().state,
        relais_call::CallState::Connected { .. }
    ));
    w.open(101, Role::Agent, "alice");
    assert_eq!(agent_signalling(&w, 1), [false, true]);
    // Back, the agent offers again on its new session and the call goes on.
    w.advance(secs(10));
    let (_, again) = w.negotiate(101);
    w.connected(again);
    w.advance(secs(60));
    assert!(w.record_of(call).is_none(), "{:?}", w.records);
    w.input(Input::Hangup { session: 101 }).unwrap();
    assert_eq!(w.record_of(call).unwrap().outcome, Outcome::Answered);
}

#[test]
fn an_agent_not_back_in_time_sends_the_call_back_to_its_queue() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    w.input(Input::SessionClosed { session: 100 }).unwrap();
    w.advance(secs(29));
    assert!(matches!(
        w.core.call(call).unwrap().state,
        relais_call::CallState::Connected { .. }
    ));
    w.advance(secs(2));
    assert!(
        matches!(
            w.core.call(call).unwrap().state,
            relais_call::CallState::Waiting { .. }
        ),
        "back in its queue after the agent's grace period"
    );
    assert!(w.record_of(call).is_none(), "the call goes on");
}

#[test]
fn without_an_agent_grace_period_the_call_goes_back_to_its_queue_at_once() {
    let mut w = World::with_call_config(|c| c.agent_grace = secs(0));
    let call = w.answered();
    w.input(Input::SessionClosed { session: 100 }).unwrap();
    assert!(matches!(
        w.core.call(call).unwrap().state,
        relais_call::CallState::Waiting { .. }
    ));
}
