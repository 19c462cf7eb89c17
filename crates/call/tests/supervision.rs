//! Supervision as the call core carries it: monitor, whisper and barge as policies over the
//! legs of a call, switching between them, several supervisors, leaving, who is told what,
//! and the chat of a call.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::World;
use relais_call::{CallError, Input, Kinds, MediaLink, SupervisionEnd, Verdict};
use relais_proto::messages::Participant;
use relais_proto::{CallId, LegRole, Role, ServerMessage, SupervisionMode};

const KIOSK: u64 = 1;
const AGENT: u64 = 100;

fn supervise(w: &mut World, call: CallId, session: u64, mode: SupervisionMode) {
    let verdict = w
        .input(Input::Supervise {
            call,
            session,
            name: format!("Responsable {session}"),
            mode,
        })
        .unwrap();
    assert!(matches!(verdict, Verdict::Done), "{verdict:?}");
}

/// A supervisor signed in on `session`, supervising the call in `mode` with its peer up.
fn supervisor(w: &mut World, call: CallId, session: u64, mode: SupervisionMode) -> MediaLink {
    w.open(session, Role::Supervisor, &format!("sup-{session}"));
    supervise(w, call, session, mode);
    let (plan, link) = w.negotiate(session);
    assert!(
        plan.publish,
        "a supervisor's peer always publishes: {plan:?}"
    );
    w.connected(link);
    link
}

/// The `participants` pushes to `session`, in order.
fn participants(w: &World, session: u64) -> Vec<Vec<Participant>> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Participants { participants, .. } => Some(participants.clone()),
            _ => None,
        })
        .collect()
}

/// Answers every server offer waiting at `session` (a slot added for a new publisher).
fn answer_offer(w: &mut World, session: u64) {
    match w.input(Input::Answer { session }).unwrap() {
        Verdict::AcceptAnswer { call, leg, .. } => {
            w.input(Input::Answered { call, leg }).unwrap();
        }
        other => panic!("an answer to accept: {other:?}"),
    }
}

fn subscribed(w: &World, from: usize, subscriber: MediaLink, publisher: MediaLink) -> Vec<Kinds> {
    w.subscriptions[from..]
        .iter()
        .filter(|(s, p, _)| *s == subscriber && *p == publisher)
        .map(|(_, _, kinds)| *kinds)
        .collect()
}

#[test]
fn a_monitor_receives_both_sides_nobody_receives_it_and_neither_side_is_told() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    let before = w.subscriptions.len();
    let sup = supervisor(&mut w, call, 300, SupervisionMode::Monitor);
    assert_eq!(subscribed(&w, before, sup, kiosk), vec![Kinds::BOTH]);
    assert_eq!(subscribed(&w, before, sup, agent), vec![Kinds::BOTH]);
    assert!(
        !w.subscriptions[before..].iter().any(|(_, p, _)| *p == sup),
        "nobody receives a monitor"
    );
    assert!(
        w.slot_offers.is_empty(),
        "kiosk and agent are not renegotiated"
    );
    assert!(participants(&w, KIOSK).is_empty(), "the kiosk is not told");
    assert!(participants(&w, AGENT).is_empty(), "the agent is not told");
    let seen = participants(&w, 300);
    let last = seen.last().unwrap();
    let roles: Vec<LegRole> = last.iter().map(|p| p.role).collect();
    assert_eq!(roles, vec![LegRole::Kiosk, LegRole::Agent]);

    // A second supervisor monitors the same call; the first sees it, kiosk and agent do not.
    let other = supervisor(&mut w, call, 301, SupervisionMode::Monitor);
    assert!(participants(&w, KIOSK).is_empty() && participants(&w, AGENT).is_empty());
    let seen = participants(&w, 300);
    assert!(
        seen.last()
            .unwrap()
            .iter()
            .any(|p| p.name == "Responsable 301" && p.mode == Some(SupervisionMode::Monitor)),
        "{seen:?}"
    );
    assert!(!w.subscriptions.iter().any(|(_, p, _)| *p == other));
}

#[test]
fn whisper_reaches_the_agent_only_and_the_agent_sees_who_coaches() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    let sup = supervisor(&mut w, call, 300, SupervisionMode::Monitor);
    let before = w.subscriptions.len();
    supervise(&mut w, call, 300, SupervisionMode::Whisper);
    // The agent needs a slot for the coach: offered, answered, then subscribed to its audio.
    assert_eq!(w.slot_offers, vec![(call, agent, 1)]);
    answer_offer(&mut w, AGENT);
    assert_eq!(subscribed(&w, before, agent, sup), vec![Kinds::AUDIO]);
    assert!(subscribed(&w, before, kiosk, sup).is_empty());
    assert!(participants(&w, KIOSK).is_empty(), "the kiosk never knows");
    let coached = participants(&w, AGENT);
    assert_eq!(
        coached.last().unwrap(),
        &vec![
            Participant {
                role: LegRole::Kiosk,
                name: "borne-1".into(),
                mode: None
            },
            Participant {
                role: LegRole::Supervisor,
                name: "Responsable 300".into(),
                mode: Some(SupervisionMode::Whisper)
            },
        ]
    );

    // Back to monitor: the agent's subscription goes and the agent is told.
    supervise(&mut w, call, 300, SupervisionMode::Monitor);
    assert_eq!(w.unsubscriptions, vec![(agent, sup)]);
    assert_eq!(participants(&w, AGENT).last().unwrap().len(), 1);
}

#[test]
fn a_barge_makes_three_full_participants_and_back_to_monitor_removes_it() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    let sup = supervisor(&mut w, call, 300, SupervisionMode::Monitor);
    let before = w.subscriptions.len();
    supervise(&mut w, call, 300, SupervisionMode::Barge);
    assert_eq!(w.slot_offers, vec![(call, kiosk, 1), (call, agent, 1)]);
    answer_offer(&mut w, KIOSK);
    answer_offer(&mut w, AGENT);
    assert_eq!(subscribed(&w, before, kiosk, sup), vec![Kinds::BOTH]);
    assert_eq!(subscribed(&w, before, agent, sup), vec![Kinds::BOTH]);
    let kiosk_view = participants(&w, KIOSK);
    assert_eq!(kiosk_view.len(), 1, "{kiosk_view:?}");
    assert!(
        kiosk_view[0]
            .iter()
            .any(|p| p.role == LegRole::Supervisor && p.name == "Responsable 300"),
        "the kiosk sees who joined: {kiosk_view:?}"
    );

    // The supervisor may now write in the chat; a monitor may not.
    let chat = Input::Chat {
        session: 300,
        text: "Bonjour, je suis la responsable.".into(),
        at_ms: 1,
    };
    w.input(chat).unwrap();
    assert!(w.pushed(KIOSK).iter().any(|m| matches!(
        m,
        ServerMessage::Chat {
            from: LegRole::Supervisor,
            ..
        }
    )));

    supervise(&mut w, call, 300, SupervisionMode::Monitor);
    assert!(w.unsubscriptions.contains(&(kiosk, sup)));
    assert!(w.unsubscriptions.contains(&(agent, sup)));
    assert_eq!(participants(&w, KIOSK).last().unwrap().len(), 1);
    let refused = w.input(Input::Chat {
        session: 300,
        text: "encore".into(),
        at_ms: 2,
    });
    assert!(
        matches!(refused, Err(CallError::WrongState(_))),
        "{refused:?}"
    );

    // Barging again reuses the kiosk's free slot: no new offer.
    let offers = w.slot_offers.len();
    let before = w.subscriptions.len();
    supervise(&mut w, call, 300, SupervisionMode::Barge);
    assert_eq!(w.slot_offers.len(), offers);
    assert_eq!(subscribed(&w, before, kiosk, sup), vec![Kinds::BOTH]);
}

#[test]
fn leaving_removes_the_peer_and_tells_those_who_saw_it_and_ends_are_noted() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let sup = supervisor(&mut w, call, 300, SupervisionMode::Barge);
    answer_offer(&mut w, KIOSK);
    answer_offer(&mut w, AGENT);
    let refused = w.input(Input::Leave { session: AGENT });
    assert!(refused.is_err(), "the agent hangs up instead: {refused:?}");
    w.input(Input::Leave { session: 300 }).unwrap();
    assert!(w.removed.contains(&sup));
    assert_eq!(participants(&w, KIOSK).last().unwrap().len(), 1);
    assert!(
        w.supervision_ends.is_empty(),
        "a requested stop is audited by the session"
    );
    // It may supervise again, and the call goes on.
    supervise(&mut w, call, 300, SupervisionMode::Monitor);

    // A second supervisor disconnects; then the call ends with the first still in it.
    supervisor(&mut w, call, 301, SupervisionMode::Whisper);
    w.input(Input::SessionClosed { session: 301 }).unwrap();
    assert_eq!(
        w.supervision_ends,
        vec![(
            call,
            "sup-301".into(),
            Some(SupervisionMode::Whisper),
            SupervisionEnd::Disconnected
        )]
    );
    w.input(Input::Hangup { session: KIOSK }).unwrap();
    assert!(
        w.pushed(300)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { .. }))
    );
    assert_eq!(
        w.supervision_ends.last().unwrap(),
        &(
            call,
            "sup-300".into(),
            Some(SupervisionMode::Monitor),
            SupervisionEnd::CallEnded
        )
    );
    assert!(w.record_of(call).is_some());
}

#[test]
fn only_a_supervisor_supervises_one_call_at_a_time_and_only_a_connected_one() {
    let mut w = World::new();
    let call = w.answered();
    let not_a_supervisor = w.input(Input::Supervise {
        call,
        session: AGENT,
        name: "alice".into(),
        mode: SupervisionMode::Monitor,
    });
    assert!(not_a_supervisor.is_err(), "{not_a_supervisor:?}");
    w.open(300, Role::Supervisor, "sup");
    let missing = w.input(Input::Supervise {
        call: CallId(999),
        session: 300,
        name: "sup".into(),
        mode: SupervisionMode::Monitor,
    });
    assert!(matches!(missing, Err(CallError::NoCall(_))), "{missing:?}");

    // A waiting call cannot be supervised.
    let waiting = w.queued(2, "borne-2");
    let refused = w.input(Input::Supervise {
        call: waiting,
        session: 300,
        name: "sup".into(),
        mode: SupervisionMode::Monitor,
    });
    assert!(
        matches!(refused, Err(CallError::WrongState(_))),
        "{refused:?}"
    );
    supervise(&mut w, call, 300, SupervisionMode::Monitor);
    let elsewhere = w.input(Input::Supervise {
        call: waiting,
        session: 300,
        name: "sup".into(),
        mode: SupervisionMode::Monitor,
    });
    assert_eq!(elsewhere.unwrap_err(), CallError::InAnotherCall(call));
}

#[test]
fn chat_reaches_the_other_participants_is_kept_with_the_call_and_needs_a_call() {
    let mut w = World::new();
    let alone = w.input(Input::Chat {
        session: KIOSK,
        text: "allo".into(),
        at_ms: 1,
    });
    assert!(alone.is_err(), "no call: {alone:?}");
    let call = w.answered();
    w.media_up();
    w.input(Input::Chat {
        session: KIOSK,
        text: "Mon numéro d'allocataire est 1234567".into(),
        at_ms: 10,
    })
    .unwrap();
    let at_agent: Vec<_> = w
        .pushed(AGENT)
        .into_iter()
        .filter(|m| matches!(m, ServerMessage::Chat { .. }))
        .cloned()
        .collect();
    assert_eq!(
        at_agent,
        vec![ServerMessage::Chat {
            call,
            from: LegRole::Kiosk,
            name: "borne-1".into(),
            text: "Mon numéro d'allocataire est 1234567".into(),
            at_ms: 10,
        }]
    );
    assert!(
        !w.pushed(KIOSK)
            .iter()
            .any(|m| matches!(m, ServerMessage::Chat { .. })),
        "not echoed to its sender"
    );
    let blank = w.input(Input::Chat {
        session: AGENT,
        text: "   ".into(),
        at_ms: 11,
    });
    assert!(blank.is_err());
    for n in 0..(relais_call::CHAT_LINES_KEPT + 5) {
        w.input(Input::Chat {
            session: AGENT,
            text: format!("ligne {n}"),
            at_ms: 20 + n as i64,
        })
        .unwrap();
    }
    let kept = &w.core.call(call).unwrap().chat;
    assert_eq!(kept.len(), relais_call::CHAT_LINES_KEPT);
    assert_eq!(
        kept.last().unwrap().text,
        format!("ligne {}", relais_call::CHAT_LINES_KEPT + 4)
    );
}

#[test]
fn a_browser_offer_with_one_pair_of_sections_gets_the_other_side_by_a_server_offer() {
    let mut w = World::new();
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    w.open(300, Role::Supervisor, "sup-300");
    supervise(&mut w, call, 300, SupervisionMode::Monitor);
    let (plan, sup) = w.negotiate_with_slots(300, 1);
    assert_eq!(plan.receive_slots, 2);
    assert_eq!(
        w.slot_offers,
        vec![(call, sup, 1)],
        "one more slot is offered"
    );
    let before = w.subscriptions.len();
    answer_offer(&mut w, 300);
    let now: BTreeSet<MediaLink> = w.subscriptions[before..]
        .iter()
        .filter(|(s, _, _)| *s == sup)
        .map(|(_, p, _)| *p)
        .collect();
    assert_eq!(now, BTreeSet::from([kiosk, agent]));
}

#[test]
fn the_chat_is_kept_in_the_record_only_for_a_service_that_asks_for_it() {
    for keep in [false, true] {
        let mut w = World::with_call_config(|config| {
            if keep {
                config.chat_retention.insert("caf".into());
            }
        });
        let call = w.answered();
        w.media_up();
        w.input(Input::Chat {
            session: KIOSK,
            text: "Dossier 2026-1042".into(),
            at_ms: 5,
        })
        .unwrap();
        w.input(Input::Hangup { session: AGENT }).unwrap();
        let chat = &w.record_of(call).unwrap().chat;
        if keep {
            assert_eq!(chat.len(), 1);
            assert_eq!(
                (chat[0].role, chat[0].name.as_str(), chat[0].text.as_str()),
                (LegRole::Kiosk, "borne-1", "Dossier 2026-1042")
            );
        } else {
            assert!(chat.is_empty(), "off by default");
        }
    }
}

#[test]
fn a_monitor_also_receives_a_participant_who_joins_after_it() {
    let mut w = World::new();
    let call = w.answered();
    w.media_up();
    let monitor = supervisor(&mut w, call, 300, SupervisionMode::Monitor);
    let before = w.subscriptions.len();
    let barging = supervisor(&mut w, call, 301, SupervisionMode::Barge);
    let got: Vec<Kinds> = w.subscriptions[before..]
        .iter()
        .filter(|(s, p, _)| *s == monitor && *p == barging)
        .map(|(_, _, k)| *k)
        .collect();
    // The monitor has two slots (kiosk, agent): it is offered a third, then subscribed.
    if got.is_empty() {
        answer_offer(&mut w, 300);
    }
    assert!(
        w.subscriptions[before..]
            .iter()
            .any(|(s, p, k)| *s == monitor && *p == barging && *k == Kinds::BOTH),
        "the monitor sees and hears the supervisor who barged in"
    );
}
