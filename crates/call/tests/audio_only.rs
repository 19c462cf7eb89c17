//! A leg whose link is too poor for video: it receives audio only, the others are told, and
//! video comes back when its link is better.
#![allow(clippy::unwrap_used)]

mod common;

use common::World;
use relais_call::{Input, Kinds, MediaLink, Verdict};
use relais_proto::{LegRole, Role, ServerMessage, SupervisionMode};

/// What `subscriber` was last asked to receive of `publisher`.
fn last_kinds(w: &World, subscriber: MediaLink, publisher: MediaLink) -> Option<Kinds> {
    w.subscriptions
        .iter()
        .rev()
        .find(|(s, p, _)| *s == subscriber && *p == publisher)
        .map(|(_, _, kinds)| *kinds)
}

fn audio_only_pushes(w: &World, session: u64) -> Vec<(LegRole, bool)> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::PeerAudioOnly { role, on, .. } => Some((*role, *on)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_leg_whose_link_is_too_poor_for_video_receives_audio_only_until_it_is_better() {
    let mut w = World::new();
    assert!(
        w.input(Input::AudioOnly {
            session: 1,
            on: true
        })
        .is_err(),
        "no call"
    );
    let call = w.answered();
    let (kiosk, agent) = w.media_up();
    assert_eq!(last_kinds(&w, kiosk, agent), Some(Kinds::BOTH));

    w.input(Input::AudioOnly {
        session: 1,
        on: true,
    })
    .unwrap();
    assert_eq!(
        last_kinds(&w, kiosk, agent),
        Some(Kinds::AUDIO),
        "the kiosk gets the voice only"
    );
    assert_eq!(
        last_kinds(&w, agent, kiosk),
        Some(Kinds::BOTH),
        "the agent's side is unchanged"
    );
    assert_eq!(
        audio_only_pushes(&w, 100),
        vec![(LegRole::Kiosk, true)],
        "the agent is told"
    );
    assert!(audio_only_pushes(&w, 1).is_empty());
    let asked = w.subscriptions.len();
    w.input(Input::AudioOnly {
        session: 1,
        on: true,
    })
    .unwrap();
    assert_eq!(
        w.subscriptions.len(),
        asked,
        "saying it twice changes nothing"
    );
    assert_eq!(audio_only_pushes(&w, 100).len(), 1);

    // Someone who joins meanwhile reaches it by voice only too.
    w.open(300, Role::Supervisor, "sup-300");
    w.input(Input::Supervise {
        call,
        session: 300,
        name: "Responsable".into(),
        mode: SupervisionMode::Barge,
    })
    .unwrap();
    let (_, sup) = w.negotiate(300);
    w.connected(sup);
    // The kiosk's peer gets a slot more (a server offer it answers), then the supervisor.
    for session in [1, 100] {
        if w.slot_offers
            .iter()
            .any(|(_, link, _)| *link == if session == 1 { kiosk } else { agent })
        {
            match w.input(Input::Answer { session }).unwrap() {
                Verdict::AcceptAnswer { call, leg, .. } => {
                    w.input(Input::Answered { call, leg }).unwrap();
                }
                other => panic!("an answer to accept: {other:?}"),
            }
        }
    }
    assert_eq!(last_kinds(&w, kiosk, sup), Some(Kinds::AUDIO));
    assert_eq!(last_kinds(&w, agent, sup), Some(Kinds::BOTH));
    assert_eq!(
        audio_only_pushes(&w, 300),
        Vec::<(LegRole, bool)>::new(),
        "told only of changes that come after it joined"
    );

    w.input(Input::AudioOnly {
        session: 1,
        on: false,
    })
    .unwrap();
    assert_eq!(
        last_kinds(&w, kiosk, agent),
        Some(Kinds::BOTH),
        "video again"
    );
    assert_eq!(last_kinds(&w, kiosk, sup), Some(Kinds::BOTH));
    assert_eq!(
        audio_only_pushes(&w, 100),
        vec![(LegRole::Kiosk, true), (LegRole::Kiosk, false)]
    );
    assert_eq!(audio_only_pushes(&w, 300), vec![(LegRole::Kiosk, false)]);
}
