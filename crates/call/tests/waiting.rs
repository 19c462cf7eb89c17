//! The wait with media: a queued kiosk connects its peer at once, hears hold audio with its
//! place spoken until the agent's leg is connected, and has its microphone and camera checked.
#![allow(clippy::unwrap_used)]

mod common;

use common::{GRACE, World, secs};
use relais_call::{Input, MediaCommand, MediaInput, MediaLink, Verdict};
use relais_dispatch::Event;
use relais_proto::{
    AgentId, CallId, CallerWarning, InputHealth, LegRole, MediaLossReason, Role, ServerMessage,
};

fn waiting_world() -> World {
    World::with_call_config(|c| {
        c.waiting_media = true;
        c.announce_every = Some(secs(60));
        c.check_after = secs(5);
    })
}

fn holds(w: &World) -> Vec<(MediaLink, bool)> {
    w.waiting_log
        .iter()
        .filter_map(|c| match c {
            MediaCommand::Hold { link, on, .. } => Some((*link, *on)),
            _ => None,
        })
        .collect()
}

fn announcements(w: &World) -> Vec<(MediaLink, usize)> {
    w.waiting_log
        .iter()
        .filter_map(|c| match c {
            MediaCommand::Announce { link, position, .. } => Some((*link, *position)),
            _ => None,
        })
        .collect()
}

fn meters(w: &World) -> Vec<(MediaLink, bool)> {
    w.waiting_log
        .iter()
        .filter_map(|c| match c {
            MediaCommand::Meter { link, on } => Some((*link, *on)),
            _ => None,
        })
        .collect()
}

/// One second of what the shard measured of `link`'s input.
fn report(w: &mut World, link: MediaLink, dbfs: Option<i16>, frames: u32) {
    w.input(Input::Media {
        shard: link.shard,
        event: MediaInput::InputReport {
            peer: link.peer,
            audio_packets: if dbfs.is_some() { 50 } else { 0 },
            audio_dbfs: dbfs,
            video_frames: frames,
            width: if frames > 0 { 640 } else { 0 },
            height: if frames > 0 { 480 } else { 0 },
        },
    })
    .unwrap();
}

fn input_checks(w: &World, session: u64) -> Vec<(InputHealth, InputHealth)> {
    w.pushed(session)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::InputCheck {
                microphone, camera, ..
            } => Some((*microphone, *camera)),
            _ => None,
        })
        .collect()
}

/// Kiosk session 1 waits in `caf` with its peer connected: (call, kiosk peer).
fn waiting_connected(w: &mut World) -> (CallId, MediaLink) {
    let call = w.queued(1, "borne-1");
    let (plan, kiosk) = w.negotiate(1);
    assert_eq!(plan.call, call);
    w.connected(kiosk);
    (call, kiosk)
}

#[test]
fn a_queued_kiosk_is_told_to_connect_its_media_at_once() {
    let mut w = waiting_world();
    let call = w.queued(1, "borne-1");
    assert_eq!(w.rooms.len(), 1, "the room exists from enqueue");
    assert!(
        w.pushed(1).iter().any(|m| matches!(m,
            ServerMessage::MediaReady { call: c, peer_role: Role::Agent, waiting: true } if *c == call)),
        "{:?}",
        w.pushed(1)
    );
    let (plan, _) = w.negotiate(1);
    assert_eq!(plan.role, LegRole::Kiosk);
    assert!(
        plan.publish,
        "the kiosk publishes while it waits (it is checked)"
    );
    assert!(
        plan.receive_slots >= 1,
        "one slot for the hold audio and the agent"
    );
}

#[test]
fn without_waiting_media_the_room_opens_at_the_answer() {
    let mut w = World::new();
    w.queued(1, "borne-1");
    assert!(w.rooms.is_empty());
    assert!(
        !w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::MediaReady { .. }))
    );
}

#[test]
fn hold_audio_plays_from_the_connection_with_the_place_spoken_and_is_metered() {
    let mut w = waiting_world();
    let call = w.queued(1, "borne-1");
    let (_, kiosk) = w.negotiate(1);
    assert!(
        holds(&w).is_empty(),
        "nothing to play to a peer not connected"
    );
    w.connected(kiosk);
    assert_eq!(holds(&w), vec![(kiosk, true)]);
    assert_eq!(
        announcements(&w),
        vec![(kiosk, 1)],
        "the place, when the wait is heard"
    );
    assert_eq!(meters(&w), vec![(kiosk, true)]);
    assert!(w.core.call(call).is_some());
}

#[test]
fn the_agents_answer_uses_the_connected_kiosk_peer_and_hold_stops_when_the_agent_connects() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    let media_ready_before = w
        .pushed(1)
        .iter()
        .filter(|m| matches!(m, ServerMessage::MediaReady { .. }))
        .count();
    w.ready_agent(100, "alice");
    assert!(w.offered.iter().any(|(c, _)| *c == call));
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    assert_eq!(w.rooms.len(), 1, "no second room");
    assert_eq!(
        w.pushed(1)
            .iter()
            .filter(|m| matches!(m, ServerMessage::MediaReady { .. }))
            .count(),
        media_ready_before,
        "the kiosk negotiates nothing again"
    );
    assert!(w.pushed(100).iter().any(|m| matches!(m,
        ServerMessage::MediaReady { call: c, peer_role: Role::Kiosk, waiting: false } if *c == call)));
    assert_eq!(
        meters(&w),
        vec![(kiosk, true), (kiosk, false)],
        "no metering once answered"
    );
    let (_, agent) = w.negotiate(100);
    assert!(
        w.receives(kiosk, agent),
        "the agent goes into the kiosk's slot"
    );
    assert!(w.receives(agent, kiosk));
    assert!(
        w.slot_offers.is_empty(),
        "the kiosk had its slot already: {:?}",
        w.slot_offers
    );
    assert_eq!(
        holds(&w),
        vec![(kiosk, true)],
        "hold plays until the agent's leg is connected"
    );
    w.connected(agent);
    assert_eq!(
        holds(&w),
        vec![(kiosk, true), (kiosk, false)],
        "and stops within the input that connects it"
    );
}

#[test]
fn a_change_of_place_is_announced_at_once_and_repeated_at_the_interval() {
    let mut w = waiting_world();
    let (first, _) = waiting_connected(&mut w);
    w.open(2, Role::Kiosk, "borne-2");
    let second = match w.place(2, "borne-2", "caf").unwrap() {
        relais_call::Verdict::Queued(call) => call,
        other => panic!("{other:?}"),
    };
    let (_, kiosk2) = w.negotiate(2);
    w.connected(kiosk2);
    assert!(
        announcements(&w).contains(&(kiosk2, 2)),
        "{:?}",
        w.waiting_log
    );
    // The first call is answered: the second moves up, and hears it.
    w.ready_agent(100, "alice");
    assert!(w.dispatch(Event::Accept {
        call: first,
        agent: AgentId::from("alice"),
    }));
    w.advance(secs(3));
    assert!(
        w.pushed(2).iter().any(|m| matches!(m,
            ServerMessage::QueuePosition { call, position: 1, .. } if *call == second)),
        "{:?}",
        w.pushed(2)
    );
    assert_eq!(announcements(&w).last(), Some(&(kiosk2, 1)));
    let before = announcements(&w).iter().filter(|a| a.0 == kiosk2).count();
    w.advance(secs(59));
    let after = announcements(&w).iter().filter(|a| a.0 == kiosk2).count();
    assert_eq!(
        after,
        before + 1,
        "repeated after 60 s: {:?}",
        w.waiting_log
    );
}

#[test]
fn a_silent_microphone_is_told_to_the_kiosk_and_shown_on_the_offer() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    // Speech and a picture: the kiosk hears that all is well.
    report(&mut w, kiosk, Some(-35), 25);
    assert_eq!(
        input_checks(&w, 1),
        vec![(InputHealth::Ok, InputHealth::Ok)]
    );
    // Digital silence: told once it lasted `check_after`, not before.
    for _ in 0..3 {
        w.advance(secs(1));
        report(&mut w, kiosk, Some(-120), 25);
    }
    assert_eq!(input_checks(&w, 1).len(), 1, "three seconds are not enough");
    for _ in 0..3 {
        w.advance(secs(1));
        report(&mut w, kiosk, Some(-120), 25);
    }
    assert_eq!(
        input_checks(&w, 1).last(),
        Some(&(InputHealth::Missing, InputHealth::Ok))
    );
    let pushes = w.pushed(1).len();
    w.advance(secs(1));
    report(&mut w, kiosk, Some(-120), 25);
    assert_eq!(w.pushed(1).len(), pushes, "told once, not every second");
    // The agent it is offered to sees the warning.
    w.ready_agent(100, "alice");
    let warnings = w
        .pushed(100)
        .iter()
        .find_map(|m| match m {
            ServerMessage::Offered {
                call: c,
                caller_warnings,
                ..
            } if *c == call => Some(caller_warnings.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(warnings, vec![CallerWarning::MicrophoneSilent]);
}

#[test]
fn a_camera_that_sends_nothing_is_missing_and_coming_back_is_told() {
    let mut w = waiting_world();
    let (_, kiosk) = waiting_connected(&mut w);
    for _ in 0..6 {
        report(&mut w, kiosk, Some(-40), 0);
        w.advance(secs(1));
    }
    assert_eq!(
        input_checks(&w, 1).last(),
        Some(&(InputHealth::Ok, InputHealth::Missing))
    );
    report(&mut w, kiosk, Some(-40), 24);
    assert_eq!(
        input_checks(&w, 1).last(),
        Some(&(InputHealth::Ok, InputHealth::Ok))
    );
    let fps = w.pushed(1).iter().rev().find_map(|m| match m {
        ServerMessage::InputCheck { width, fps, .. } => Some((*width, *fps)),
        _ => None,
    });
    assert_eq!(fps, Some((Some(640), Some(24))));
}

#[test]
fn a_report_of_a_peer_not_metered_changes_nothing() {
    let mut w = waiting_world();
    let (_, kiosk) = waiting_connected(&mut w);
    let stranger = MediaLink {
        shard: kiosk.shard,
        peer: 999,
    };
    report(&mut w, stranger, None, 0);
    assert!(input_checks(&w, 1).is_empty());
}

#[test]
fn a_waiting_kiosk_that_loses_its_media_keeps_its_place_and_hears_the_wait_again() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    w.lost(kiosk, MediaLossReason::ConsentExpired);
    // The shard dropped the peer with its hold; the call knows it plays nothing now.
    assert_eq!(w.core.call(call).unwrap().waiting.hold, None);
    assert_eq!(w.core.call(call).unwrap().waiting.meter, None);
    w.advance(GRACE + secs(5));
    assert!(
        w.core.call(call).is_some(),
        "the call waits on: the media of the wait is a comfort, not the call"
    );
    assert!(w.record_of(call).is_none());
    // It negotiates again and hears the wait again.
    let (_, again) = w.negotiate(1);
    w.connected(again);
    assert_eq!(holds(&w).last(), Some(&(again, true)));
}

#[test]
fn a_caller_who_leaves_while_waiting_has_its_room_closed() {
    let mut w = waiting_world();
    let (call, _) = waiting_connected(&mut w);
    w.input(Input::Cancel { session: 1 }).unwrap();
    assert!(w.core.call(call).is_none());
    assert!(w.rooms.is_empty(), "the wait's room is closed");
    assert!(w.record_of(call).is_some());
}

#[test]
fn a_consultation_holds_the_answered_kiosk_with_the_wait_audio_but_never_its_old_place() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    w.ready_agent(100, "alice");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    let (_, agent) = w.negotiate(100);
    w.connected(agent);
    assert_eq!(holds(&w), vec![(kiosk, true), (kiosk, false)]);
    let spoken = announcements(&w).len();
    // Alice consults bob: the kiosk hears nobody, so it hears the wait's audio again.
    w.ready_agent(101, "bob");
    w.input(Input::Consult {
        session: 100,
        call: CallId(500),
        agent: "bob".to_owned(),
    })
    .unwrap();
    assert_eq!(holds(&w).last(), Some(&(kiosk, true)));
    w.advance(secs(61));
    assert_eq!(
        announcements(&w).len(),
        spoken,
        "an answered call has no place in a queue to speak: {:?}",
        w.waiting_log
    );
}

/// Kiosk session 1 (resume token `t1`) calls `caf`.
fn queued_with_token(w: &mut World) -> CallId {
    w.open(1, Role::Kiosk, "borne-1");
    w.input(Input::Resume {
        session: 1,
        token: "t1".to_owned(),
        previous: None,
    })
    .unwrap();
    match w.place(1, "borne-1", "caf").unwrap() {
        Verdict::Queued(call) => call,
        other => panic!("queued: {other:?}"),
    }
}

/// Session 1's page reloads: its websocket drops and session 2 resumes its call.
fn reloaded(w: &mut World) -> relais_proto::messages::ResumedCall {
    w.input(Input::SessionClosed { session: 1 }).unwrap();
    w.open(2, Role::Kiosk, "borne-1");
    let verdict = w
        .input(Input::Resume {
            session: 2,
            token: "t2".to_owned(),
            previous: Some("t1".to_owned()),
        })
        .unwrap();
    match verdict {
        Verdict::Resumed { call, .. } => call,
        other => panic!("resumed: {other:?}"),
    }
}

#[test]
fn a_kiosk_page_reloaded_while_waiting_is_told_to_connect_its_media_again_and_the_answer_joins_it()
{
    let mut w = waiting_world();
    let call = queued_with_token(&mut w);
    let (_, old) = w.negotiate(1);
    w.connected(old);

    // The page reloads: its websocket drops, a new one resumes the call; the old peer is
    // still up at the shard (its consent has not expired yet).
    let resumed = reloaded(&mut w);
    assert_eq!(resumed.call, call);
    assert!(!resumed.connected);
    assert!(resumed.media, "the new page must negotiate its media again");

    // It does: the new peer replaces the old one and hears the wait.
    let (plan, again) = w.negotiate(2);
    assert_eq!(plan.replaces, Some(old));
    w.connected(again);
    assert_eq!(holds(&w).last(), Some(&(again, true)));

    // The agent's answer joins the new peer, with no renegotiation of the kiosk.
    w.ready_agent(100, "alice");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    assert!(
        !w.pushed(2)
            .iter()
            .any(|m| matches!(m, ServerMessage::MediaReady { .. })),
        "{:?}",
        w.pushed(2)
    );
    let (_, agent) = w.negotiate(100);
    assert!(w.receives(again, agent));
    assert!(w.receives(agent, again));
    w.connected(agent);
    assert_eq!(holds(&w).last(), Some(&(again, false)));
}

#[test]
fn a_kiosk_waiting_without_media_resumes_without_it() {
    let mut w = World::new();
    queued_with_token(&mut w);
    assert!(!reloaded(&mut w).media);
}

/// The agent's pushes of `media_ready` for `call`, as (waiting) flags.
fn media_ready_flags(w: &World, session: u64, call: CallId) -> Vec<bool> {
    w.pushed(session)
        .iter()
        .filter_map(|m| match m {
            ServerMessage::MediaReady {
                call: c, waiting, ..
            } if *c == call => Some(*waiting),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agent_connects_its_media_while_the_offer_rings_and_its_answer_needs_no_handshake() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    w.ready_agent(100, "alice");
    assert_eq!(
        media_ready_flags(&w, 100, call),
        vec![true],
        "the offer comes with its media"
    );
    let (plan, agent) = w.negotiate(100);
    assert_eq!(plan.role, LegRole::Agent);
    assert_eq!(plan.receive_slots, 1);
    assert!(plan.publish);
    w.connected(agent);
    // Nothing flows while it rings: the agent sees and hears nothing, and is seen by nobody.
    assert!(!w.receives(agent, kiosk) && !w.receives(kiosk, agent));
    assert_eq!(
        holds(&w).last(),
        Some(&(kiosk, true)),
        "the kiosk still hears the wait"
    );
    assert_eq!(
        w.core.call(call).unwrap().legs.len(),
        1,
        "a ringing peer is no leg"
    );

    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    assert_eq!(
        media_ready_flags(&w, 100, call),
        vec![true],
        "no new negotiation at the answer"
    );
    assert!(
        w.receives(kiosk, agent),
        "the kiosk receives the agent at once"
    );
    assert!(w.receives(agent, kiosk), "and the agent the kiosk");
    assert_eq!(
        holds(&w).last(),
        Some(&(kiosk, false)),
        "the wait stops with the answer: the agent's peer is connected"
    );
    w.input(Input::Hangup { session: 100 }).unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(record.legs.len(), 2, "{:?}", record.legs);
}

#[test]
fn a_ringing_peer_goes_with_its_offer_and_its_loss_touches_nothing() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    w.ready_agent(100, "alice");
    let (_, first) = w.negotiate(100);
    w.connected(first);
    // Its peer drops while it rings: the call waits on, untouched.
    w.lost(first, MediaLossReason::ConsentExpired);
    assert!(w.core.call(call).is_some());
    assert!(
        !w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::PeerMediaLost { .. }))
    );
    let (_, second) = w.negotiate(100);
    w.connected(second);
    // The offer runs out: the peer goes; the next agent rings with its own.
    w.advance(secs(11));
    assert!(w.removed.contains(&second), "{:?}", w.removed);
    w.ready_agent(101, "bruno");
    assert_eq!(media_ready_flags(&w, 101, call), vec![true]);
    let (_, third) = w.negotiate(101);
    w.connected(third);
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("bruno"),
    }));
    assert!(w.receives(kiosk, third) && w.receives(third, kiosk));
    assert!(!w.receives(kiosk, second));
    // Alice, refused or missed, is offered nothing more of it and negotiates nothing.
    assert!(matches!(
        w.input(Input::Negotiate { session: 100 }),
        Err(relais_call::CallError::NoCall(_))
    ));
}

#[test]
fn an_agent_who_answers_before_its_ringing_peer_is_up_negotiates_as_before() {
    let mut w = waiting_world();
    let (call, kiosk) = waiting_connected(&mut w);
    w.ready_agent(100, "alice");
    assert!(w.dispatch(Event::Accept {
        call,
        agent: AgentId::from("alice"),
    }));
    assert_eq!(media_ready_flags(&w, 100, call), vec![true, false]);
    let (_, agent) = w.negotiate(100);
    w.connected(agent);
    assert!(w.receives(kiosk, agent) && w.receives(agent, kiosk));
}
