//! The call core against a small reference model, over random sequences of what kiosks,
//! agents, the media shards and time do: every call ends exactly once with one record, no
//! room outlives its call, no session hears of a call it is not part of, and a lost leg never
//! leaves the other side waiting past the grace period.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{GRACE, World, secs};
use proptest::prelude::*;
use relais_call::{Input, MediaLink, Verdict};
use relais_dispatch::{AgentState, Event};
use relais_proto::{AgentId, CallId, MediaLossReason, Role, ServerMessage};

/// Kiosk sessions 1–3; sessions 1 and 3 share the identity `k1`.
const KIOSKS: [(u64, &str); 3] = [(1, "k1"), (2, "k2"), (3, "k1")];
/// Agent sessions: alice on 100 or 101 (a reconnect), bob on 200.
const AGENTS: [(u64, &str); 3] = [(100, "alice"), (101, "alice"), (200, "bob")];

#[derive(Debug, Clone)]
enum Op {
    OpenKiosk(usize),
    CloseKiosk(usize),
    Place(usize, bool),
    Cancel(usize),
    Hangup(u64),
    SignIn(usize),
    SignOut(usize),
    Ready(usize),
    Pause(usize),
    Accept(usize),
    Reject(usize),
    WrapUpDone(usize),
    Negotiate(u64),
    Connect(u64),
    Lose(u64, u8),
    Advance(u64),
    RoomsFail(bool),
    /// The agent on session `AGENTS[a]` consults agent `AGENTS[b]`.
    Consult(usize, usize),
    /// The agent of some connected call (searched from `AGENTS[n]` on) consults the other
    /// agent, who accepts at once.
    ConsultAnswered(usize),
    CompleteTransfer(usize),
    CancelConsult(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let session = prop_oneof![
        Just(1u64),
        Just(2),
        Just(3),
        Just(100),
        Just(101),
        Just(200)
    ];
    prop_oneof![
        1 => (0..3usize).prop_map(Op::OpenKiosk),
        1 => (0..3usize).prop_map(Op::CloseKiosk),
        3 => (0..3usize, any::<bool>()).prop_map(|(k, open)| Op::Place(k, open)),
        1 => (0..3usize).prop_map(Op::Cancel),
        1 => session.clone().prop_map(Op::Hangup),
        1 => (0..3usize).prop_map(Op::SignIn),
        1 => (0..3usize).prop_map(Op::SignOut),
        2 => (0..3usize).prop_map(Op::Ready),
        1 => (0..3usize).prop_map(Op::Pause),
        4 => (0..3usize).prop_map(Op::Accept),
        1 => (0..3usize).prop_map(Op::Reject),
        1 => (0..3usize).prop_map(Op::WrapUpDone),
        4 => session.clone().prop_map(Op::Negotiate),
        2 => session.clone().prop_map(Op::Connect),
        3 => (session, 0..3u8).prop_map(|(s, r)| Op::Lose(s, r)),
        3 => (1..40u64).prop_map(Op::Advance),
        1 => (0..8u8).prop_map(|n| Op::RoomsFail(n == 0)),
        2 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Consult(a, b)),
        3 => (0..3usize).prop_map(Op::ConsultAnswered),
        2 => (0..3usize).prop_map(Op::CompleteTransfer),
        1 => (0..3usize).prop_map(Op::CancelConsult),
    ]
}

/// What the model knows: who placed each call, the peers each session joined.
#[derive(Default)]
struct Model {
    placed_by: BTreeMap<CallId, u64>,
    refused: BTreeSet<CallId>,
    links: BTreeMap<u64, MediaLink>,
    open_kiosks: BTreeSet<u64>,
    /// Consultation → the call it is about.
    consults: BTreeMap<CallId, CallId>,
}

fn agent(index: usize) -> AgentId {
    AgentId::from(AGENTS[index].1.to_owned())
}

fn agent_of_session(session: u64) -> Option<&'static str> {
    AGENTS.iter().find(|(s, _)| *s == session).map(|(_, a)| *a)
}

fn apply(w: &mut World, m: &mut Model, op: &Op) {
    match *op {
        Op::OpenKiosk(k) => {
            let (session, kiosk) = KIOSKS[k];
            if m.open_kiosks.insert(session) {
                w.open(session, Role::Kiosk, kiosk);
            }
        }
        Op::CloseKiosk(k) => {
            let session = KIOSKS[k].0;
            if m.open_kiosks.remove(&session) {
                w.input(Input::SessionClosed { session }).unwrap();
            }
        }
        Op::Place(k, open) => {
            let (session, kiosk) = KIOSKS[k];
            if !m.open_kiosks.contains(&session) {
                return;
            }
            let service = if open { "caf" } else { "nuit" };
            let first_record = w.records.len();
            match w.place(session, kiosk, service) {
                Ok(Verdict::Queued(call)) => {
                    m.placed_by.insert(call, session);
                }
                Ok(Verdict::Refused(_)) => {
                    let call = w.records[first_record].call;
                    m.refused.insert(call);
                }
                Ok(other) => panic!("a call is queued or refused: {other:?}"),
                Err(_) => assert_eq!(
                    w.records.len(),
                    first_record,
                    "a refused request records nothing"
                ),
            }
        }
        Op::Cancel(k) => {
            let _ = w.input(Input::Cancel {
                session: KIOSKS[k].0,
            });
        }
        Op::Hangup(session) => {
            let _ = w.input(Input::Hangup { session });
        }
        Op::SignIn(a) => {
            let (session, name) = AGENTS[a];
            let _ = w.dispatcher.handle(
                w.now,
                Event::AgentLogin {
                    agent: agent(a),
                    skills: vec![],
                    queues: None,
                },
            );
            w.open(session, Role::Agent, name);
        }
        Op::SignOut(a) => {
            let _ = w.input(Input::SessionClosed {
                session: AGENTS[a].0,
            });
        }
        Op::Ready(a) => {
            w.dispatch(Event::AgentReady { agent: agent(a) });
        }
        Op::Pause(a) => {
            w.dispatch(Event::AgentNotReady {
                agent: agent(a),
                reason: "pause".into(),
            });
        }
        Op::Accept(a) | Op::Reject(a) => {
            let reserved = w
                .dispatcher
                .agents()
                .find(|view| *view.agent == agent(a))
                .and_then(|view| match view.state {
                    AgentState::Reserved { call, .. } => Some(call),
                    _ => None,
                });
            if let Some(call) = reserved {
                let event = if matches!(op, Op::Accept(_)) {
                    Event::Accept {
                        call,
                        agent: agent(a),
                    }
                } else {
                    Event::Reject {
                        call,
                        agent: agent(a),
                    }
                };
                w.dispatch(event);
            }
        }
        Op::WrapUpDone(a) => {
            let _ = w.input(Input::WrapUpDone {
                session: AGENTS[a].0,
                disposition: Some("code".into()),
            });
        }
        Op::Negotiate(session) => {
            if w.core.call_of_session(session).is_some()
                && let Ok(Verdict::Negotiate(plan)) = w.input(Input::Negotiate { session })
            {
                let link = MediaLink {
                    shard: plan.shard,
                    peer: 1000 + m.links.len() as u64,
                };
                w.input(Input::Joined {
                    call: plan.call,
                    leg: plan.leg,
                    attempt: plan.attempt,
                    link,
                    slots: plan.receive_slots,
                })
                .unwrap();
                m.links.insert(session, link);
            }
        }
        Op::Connect(session) => {
            if let Some(link) = m.links.get(&session).copied() {
                w.connected(link);
            }
        }
        Op::Lose(session, reason) => {
            if let Some(link) = m.links.remove(&session) {
                let reason = [
                    MediaLossReason::ConsentExpired,
                    MediaLossReason::SetupTimeout,
                    MediaLossReason::Failed,
                ][usize::from(reason)];
                w.lost(link, reason);
            }
        }
        Op::Advance(s) => w.advance(secs(s)),
        Op::RoomsFail(fail) => w.rooms_fail = fail,
        Op::Consult(a, b) => {
            let session = AGENTS[a].0;
            let Some(parent) = w.core.call_of_session(session).map(|c| c.id) else {
                return;
            };
            let aux = CallId(10_000 + m.consults.len() as u64);
            m.consults.insert(aux, parent);
            let _ = w.input(Input::Consult {
                session,
                call: aux,
                agent: AGENTS[b].1.to_owned(),
            });
        }
        Op::ConsultAnswered(a) => {
            // The agent of some connected call consults the other agent, who accepts.
            let Some(from) = (0..3)
                .map(|i| (a + i) % 3)
                .find(|&i| w.core.call_of_session(AGENTS[i].0).is_some())
            else {
                return;
            };
            let other = if AGENTS[from].1 == "bob" { 0 } else { 2 };
            apply(w, m, &Op::Consult(from, other));
            apply(w, m, &Op::Accept(other));
        }
        Op::CompleteTransfer(a) => {
            let _ = w.input(Input::CompleteTransfer {
                session: AGENTS[a].0,
            });
        }
        Op::CancelConsult(a) => {
            let _ = w.input(Input::CancelConsult {
                session: AGENTS[a].0,
            });
        }
    }
}

fn call_of(message: &ServerMessage) -> Option<CallId> {
    match message {
        ServerMessage::QueuePosition { call, .. }
        | ServerMessage::Offered { call, .. }
        | ServerMessage::OfferWithdrawn { call, .. }
        | ServerMessage::MediaReady { call, .. }
        | ServerMessage::CallEnded { call, .. }
        | ServerMessage::PeerMediaLost { call, .. }
        | ServerMessage::PeerMediaRestored { call, .. } => Some(*call),
        _ => None,
    }
}

fn check(w: &World, m: &Model) {
    // Each call has at most one record.
    let mut seen = BTreeSet::new();
    for record in &w.records {
        assert!(seen.insert(record.call), "two records for {}", record.call);
        assert!(
            w.core.call(record.call).is_none(),
            "{} recorded but live",
            record.call
        );
    }
    // No room outlives its call.
    for room in &w.rooms {
        assert!(w.core.call(*room).is_some(), "room of ended call {room}");
    }
    // Pushes reach only the sessions of a call's parts.
    for (session, message) in &w.pushes {
        let Some(call) = call_of(message) else {
            continue;
        };
        assert!(
            !m.refused.contains(&call),
            "push for a refused call: {message:?}"
        );
        match agent_of_session(*session) {
            None => assert_eq!(
                m.placed_by.get(&call),
                Some(session),
                "{message:?} to kiosk {session}"
            ),
            Some(name) => {
                let agent = AgentId::from(name.to_owned());
                // An offer rings with its media (the agent may connect its peer meanwhile).
                let part = match message {
                    ServerMessage::Offered { .. }
                    | ServerMessage::OfferWithdrawn { .. }
                    | ServerMessage::MediaReady { waiting: true, .. } => &w.offered,
                    _ => &w.answered,
                };
                // A colleague who answered a consultation takes part in the call it is about.
                let consulted = m.consults.iter().any(|(aux, parent)| {
                    *parent == call && w.answered.contains(&(*aux, agent.clone()))
                });
                assert!(
                    part.contains(&(call, agent.clone())) || consulted,
                    "{message:?} to agent session {session}"
                );
            }
        }
    }
    // The journal mirrors every live call: its last entry says whether it is connected and to
    // whom, and in which queue it is.
    for call in w.core.calls().filter(|c| c.admitted) {
        let last = w
            .journal
            .iter()
            .rev()
            .find(|j| j.call == call.id)
            .unwrap_or_else(|| panic!("live call {} never journalled", call.id));
        let connected = matches!(call.state, relais_call::CallState::Connected { .. });
        assert_eq!(last.agent.is_some(), connected, "journal of {}", call.id);
        assert_eq!(last.queue, call.handled_by, "journal of {}", call.id);
    }
    // A lost leg never waits past the grace period (after its agent's, when the agent's
    // connection dropped too: the call waits for the agent first).
    // A kiosk waiting for its first agent keeps its place without media: its grace runs from
    // the answer.
    for call in w
        .core
        .calls()
        .filter(|c| c.was_answered() || !matches!(c.state, relais_call::CallState::Waiting { .. }))
    {
        if let Some(since) = call.lost_since() {
            assert!(
                w.now.saturating_duration_since(since) <= GRACE + AGENT_GRACE,
                "{} lost for too long",
                call.id
            );
        }
    }
}

/// The call core's default grace period for an agent whose connection dropped.
const AGENT_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_call_ends_once_and_nothing_is_left_behind(ops in prop::collection::vec(op(), 1..80), waiting_media in any::<bool>()) {
        let mut w = World::with_call_config(|c| c.waiting_media = waiting_media);
        let mut m = Model::default();
        // Two kiosks and two ready agents to start with, so calls get far.
        let setup = [Op::OpenKiosk(0), Op::OpenKiosk(1), Op::SignIn(0), Op::SignIn(2), Op::Ready(0), Op::Ready(2)];
        for op in setup.iter().chain(&ops) {
            apply(&mut w, &mut m, op);
            check(&w, &m);
        }
        // Everyone leaves; time passes.
        for (session, _) in KIOSKS.iter().chain(AGENTS.iter()) {
            let _ = w.input(Input::SessionClosed { session: *session });
        }
        w.advance(secs(3600));
        check(&w, &m);
        prop_assert_eq!(w.core.calls().count(), 0);
        prop_assert!(w.rooms.is_empty());
        let recorded: BTreeSet<CallId> = w.records.iter().map(|r| r.call).collect();
        let expected: BTreeSet<CallId> = m.placed_by.keys().chain(m.refused.iter()).copied().collect();
        prop_assert_eq!(recorded, expected);
    }
}
