//! Callbacks: a waiting caller leaves a phone number; its call ends `callback_requested` (not
//! an abandon) and a callback task takes its place with the original enqueue time; an agent
//! takes the task, phones, says what came of it, and wraps up.
#![allow(clippy::unwrap_used)]

mod common;

use common::{World, secs};
use relais_call::{CallError, CallbackChange, Input, Phone, Verdict};
use relais_dispatch::Event;
use relais_proto::{AgentId, CallId, CallbackResult, Outcome, ServerMessage};

fn world() -> World {
    World::with_call_config(|c| {
        c.callbacks.insert("caf".to_owned(), secs(0));
    })
}

const AT_MS: i64 = 1_767_600_000_000;

fn request(w: &mut World, session: u64, task: u64, phone: &str) -> Result<Verdict, CallError> {
    let call = w.core.call_of_session(session).map_or(CallId(0), |c| c.id);
    w.input(Input::RequestCallback {
        session,
        call,
        task: CallId(task),
        phone: phone.to_owned(),
        not_before: None,
        at_ms: AT_MS,
    })
}

fn offered_callback(w: &World, session: u64, call: CallId) -> Option<String> {
    w.pushed(session).into_iter().find_map(|m| match m {
        ServerMessage::Offered {
            call: c,
            callback: Some(offer),
            ..
        } if *c == call => Some(offer.phone.clone()),
        _ => None,
    })
}

#[test]
fn phone_numbers_are_read_as_people_type_them_and_never_shown_in_debug() {
    assert_eq!(
        Phone::parse("06 12 34 56 78").unwrap().as_str(),
        "0612345678"
    );
    assert_eq!(
        Phone::parse("06.12.34.56.78").unwrap().display(),
        "06 12 34 56 78"
    );
    assert_eq!(
        Phone::parse("+33 6 12 34 56 78").unwrap().as_str(),
        "+33612345678"
    );
    assert_eq!(
        Phone::parse("0033612345678").unwrap().as_str(),
        "+33612345678"
    );
    for bad in [
        "",
        "112",
        "3646",
        "06 12 34 56",
        "0812345678",
        "06-12-34-56-7a",
        "++3361234",
    ] {
        assert!(
            Phone::parse(bad).is_none(),
            "{bad:?} is not a number to call back"
        );
    }
    let debug = format!("{:?}", Phone::parse("0612345678").unwrap());
    assert!(!debug.contains("12345678"), "{debug}");
}

#[test]
fn a_long_wait_offers_a_callback_to_the_kiosk_of_a_service_that_calls_back() {
    let mut w = world();
    w.queued(1, "borne-1");
    assert!(
        w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::QueuePosition { callback: true, .. })),
        "{:?}",
        w.pushed(1)
    );
    let mut w = World::new();
    w.queued(1, "borne-1");
    assert!(
        !w.pushed(1)
            .iter()
            .any(|m| matches!(m, ServerMessage::QueuePosition { callback: true, .. })),
        "a service that does not call back never offers it"
    );
    let err = request(&mut w, 1, 100, "0612345678").unwrap_err();
    assert_eq!(
        err,
        CallError::WrongState("this service does not call back")
    );
}

#[test]
fn a_callback_ends_the_call_as_callback_requested_and_an_agent_phones_the_caller_back() {
    let mut w = world();
    let call = w.queued(1, "borne-1");
    w.advance(secs(40));

    // Bad numbers are refused and change nothing.
    let err = request(&mut w, 1, 100, "112").unwrap_err();
    assert_eq!(err.code(), relais_proto::codes::BAD_REQUEST);
    assert!(w.core.call(call).is_some());

    request(&mut w, 1, 100, "06 12 34 56 78").unwrap();
    let record = w.record_of(call).unwrap();
    assert_eq!(record.outcome, Outcome::CallbackRequested);
    assert_eq!(record.summary.wait, secs(40));
    assert!(w.pushed(1).iter().any(|m| matches!(m,
        ServerMessage::CallEnded { call: c, outcome: Outcome::CallbackRequested, .. } if *c == call)));
    let placed = record.summary.enqueued_at;
    match &w.callbacks[..] {
        [
            CallbackChange::Requested {
                task,
                service,
                placed_at,
                callback,
                ..
            },
        ] => {
            assert_eq!(*task, CallId(100));
            assert_eq!(service, "caf");
            assert_eq!(
                *placed_at, placed,
                "the task keeps the original enqueue time"
            );
            assert_eq!(callback.of, call);
            assert_eq!(callback.phone.as_str(), "0612345678");
        }
        other => panic!("{other:?}"),
    }
    let today = w.dispatcher.queue_kpis(&"caf".into(), w.now).unwrap().today;
    assert_eq!(today.counters.abandoned + today.counters.short_abandoned, 0);
    assert_eq!(today.counters.callback_requested, 1);

    // The kiosk is free: it may call again.
    assert!(matches!(
        w.place(1, "borne-1", "caf").unwrap(),
        Verdict::Queued(_)
    ));
    w.input(Input::Cancel { session: 1 }).unwrap();

    // The task is offered with the number to phone; the agent takes it: no room, no media.
    w.ready_agent(200, "alice");
    assert_eq!(
        offered_callback(&w, 200, CallId(100)).as_deref(),
        Some("06 12 34 56 78")
    );
    let rooms = w.rooms.len();
    assert!(w.dispatch(Event::Accept {
        call: CallId(100),
        agent: AgentId::from("alice"),
    }));
    assert_eq!(w.rooms.len(), rooms, "a callback opens no media room");
    assert!(
        !w.pushed(200)
            .iter()
            .any(|m| matches!(m, ServerMessage::MediaReady { call: c, .. } if *c == CallId(100)))
    );

    // Only its agent says what came of it.
    let err = w
        .input(Input::CallbackDone {
            session: 1,
            call: CallId(100),
            result: CallbackResult::Reached,
        })
        .unwrap_err();
    assert!(matches!(err, CallError::NoCall(_)), "{err:?}");
    w.input(Input::CallbackDone {
        session: 200,
        call: CallId(100),
        result: CallbackResult::Reached,
    })
    .unwrap();
    let record = w.record_of(CallId(100)).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert!(record.summary.callback);
    assert_eq!(record.summary.enqueued_at, placed);
    assert!(matches!(
        w.callbacks.last(),
        Some(CallbackChange::Done {
            task: CallId(100),
            agent: Some(agent),
            result: Some(CallbackResult::Reached),
            outcome: Outcome::Answered,
        }) if agent == "alice"
    ));
    // The agent wraps up as after any call.
    assert!(w.pushed(200).iter().any(|m| matches!(
        m,
        ServerMessage::CallEnded {
            call: CallId(100),
            outcome: Outcome::Answered,
            ..
        }
    )));
    let today = w.dispatcher.queue_kpis(&"caf".into(), w.now).unwrap().today;
    assert_eq!(today.counters.callbacks_answered, 1);
}

#[test]
fn only_a_kiosk_whose_call_waits_asks_for_a_callback() {
    let mut w = world();
    let call = w.answered();
    let err = request(&mut w, 1, 100, "0612345678").unwrap_err();
    assert!(matches!(err, CallError::WrongState(_)), "{err:?}");
    let err = request(&mut w, 100, 101, "0612345678").unwrap_err();
    assert!(matches!(err, CallError::NoCall(_)), "{err:?}");
    assert!(w.core.call(call).is_some());
    assert!(w.callbacks.is_empty());
}

#[test]
fn a_time_later_today_is_kept_and_one_too_far_is_refused() {
    let mut w = world();
    let call = w.queued(1, "borne-1");
    let later = w.now + secs(3600);
    let err = w
        .input(Input::RequestCallback {
            session: 1,
            call,
            task: CallId(100),
            phone: "0612345678".to_owned(),
            not_before: Some((w.now + secs(17 * 3600), AT_MS + 17 * 3_600_000)),
            at_ms: AT_MS,
        })
        .unwrap_err();
    assert_eq!(err.code(), relais_proto::codes::BAD_REQUEST);
    w.input(Input::RequestCallback {
        session: 1,
        call,
        task: CallId(100),
        phone: "0612345678".to_owned(),
        not_before: Some((later, AT_MS + 3_600_000)),
        at_ms: AT_MS,
    })
    .unwrap();
    assert!(
        matches!(&w.callbacks[..], [CallbackChange::Requested { callback, .. }]
        if callback.not_before_ms == Some(AT_MS + 3_600_000))
    );
    w.ready_agent(200, "alice");
    assert!(
        offered_callback(&w, 200, CallId(100)).is_none(),
        "not before its time"
    );
    w.advance(secs(3600));
    assert!(offered_callback(&w, 200, CallId(100)).is_some());
}

#[test]
fn a_task_kept_by_the_store_is_offered_again_after_a_restart() {
    let mut w = world();
    let since = w.now;
    w.advance(secs(120));
    w.input(Input::RestoreCallback(Box::new(
        relais_call::StoredCallback {
            task: CallId(100),
            service: "caf".to_owned(),
            kiosk: "borne-1".to_owned(),
            site: "mairie".to_owned(),
            since,
            not_before: None,
            callback: relais_call::Callback {
                of: CallId(7),
                phone: Phone::parse("0612345678").unwrap(),
                requested_at_ms: AT_MS,
                not_before_ms: None,
                result: None,
            },
        },
    )))
    .unwrap();
    w.dispatcher
        .admit_callback(
            w.now,
            since,
            CallId(100),
            &"caf".into(),
            "borne-1".into(),
            "mairie".into(),
            None,
        )
        .unwrap();
    w.ready_agent(200, "alice");
    assert_eq!(
        offered_callback(&w, 200, CallId(100)).as_deref(),
        Some("06 12 34 56 78")
    );
    let waited = w.pushed(200).into_iter().find_map(|m| match m {
        ServerMessage::Offered { waited_secs, .. } => Some(*waited_secs),
        _ => None,
    });
    assert_eq!(waited, Some(120), "the wait counts from the original call");
    // An agent who hangs up without a result still ends the task.
    assert!(w.dispatch(Event::Accept {
        call: CallId(100),
        agent: AgentId::from("alice"),
    }));
    w.input(Input::Hangup { session: 200 }).unwrap();
    assert!(matches!(
        w.callbacks.last(),
        Some(CallbackChange::Done {
            task: CallId(100),
            result: None,
            ..
        })
    ));
}

#[test]
fn a_wait_below_the_threshold_offers_no_callback_but_no_agent_at_all_does() {
    let mut w = World::with_call_config(|c| {
        c.callbacks.insert("caf".to_owned(), secs(3600));
    });
    // Nobody signed in: no estimate, the wait is as long as can be.
    w.queued(1, "borne-1");
    let offered = |w: &World, session| {
        w.pushed(session).iter().rev().find_map(|m| match m {
            ServerMessage::QueuePosition { callback, .. } => Some(*callback),
            _ => None,
        })
    };
    assert_eq!(offered(&w, 1), Some(true));
    // An agent signed in and busy: an estimate well under an hour.
    w.ready_agent(100, "alice");
    assert!(w.dispatch(Event::Accept {
        call: CallId(1),
        agent: AgentId::from("alice"),
    }));
    w.queued(2, "borne-2");
    let eta = w.pushed(2).iter().rev().find_map(|m| match m {
        ServerMessage::QueuePosition { eta_secs, .. } => Some(*eta_secs),
        _ => None,
    });
    assert!(matches!(eta, Some(Some(s)) if s < 3600), "{eta:?}");
    assert_eq!(offered(&w, 2), Some(false));
}
