//! Media policy as data: the shapes of a conference are subscriptions, not special cases.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use relais_call::{Call, Kinds, LegLeft, Receive};
use relais_proto::{CallId, LegRole};

#[allow(clippy::disallowed_methods)] // a policy does not depend on time
fn now() -> Instant {
    Instant::now()
}

fn one_to_one() -> (Call, relais_call::LegId, relais_call::LegId) {
    let mut call = Call::new(now(), CallId(1), "caf", "borne-1", "mairie", 1);
    let kiosk = call.legs[0].id;
    let agent = call.add_leg(now(), LegRole::Agent, "alice", Some(2), None);
    call.converse(agent);
    (call, kiosk, agent)
}

fn receives(call: &Call, leg: relais_call::LegId) -> Vec<Receive> {
    call.leg(leg).unwrap().receives.clone()
}

#[test]
fn a_one_to_one_call_is_two_legs_receiving_each_other() {
    let (call, kiosk, agent) = one_to_one();
    assert_eq!(
        receives(&call, kiosk),
        vec![Receive {
            from: agent,
            kinds: Kinds::BOTH
        }]
    );
    assert_eq!(
        receives(&call, agent),
        vec![Receive {
            from: kiosk,
            kinds: Kinds::BOTH
        }]
    );
}

#[test]
fn a_monitoring_supervisor_receives_both_and_nobody_receives_it() {
    let (mut call, kiosk, agent) = one_to_one();
    let supervisor = call.add_leg(now(), LegRole::Supervisor, "sup", Some(3), None);
    call.monitor(supervisor);
    assert_eq!(receives(&call, supervisor).len(), 2);
    assert!(!call.is_published(supervisor));
    assert_eq!(receives(&call, kiosk).len(), 1);
    assert_eq!(receives(&call, agent).len(), 1);
}

#[test]
fn a_whisper_reaches_the_agent_only_and_as_audio() {
    let (mut call, kiosk, agent) = one_to_one();
    let supervisor = call.add_leg(now(), LegRole::Supervisor, "sup", Some(3), None);
    call.whisper(supervisor, agent);
    assert!(receives(&call, agent).contains(&Receive {
        from: supervisor,
        kinds: Kinds::AUDIO
    }));
    assert!(!receives(&call, kiosk).iter().any(|r| r.from == supervisor));
    assert_eq!(receives(&call, supervisor).len(), 2);
}

#[test]
fn a_third_full_participant_sees_and_hears_everyone_and_switching_modes_is_a_change_of_data() {
    let (mut call, kiosk, agent) = one_to_one();
    let supervisor = call.add_leg(now(), LegRole::Supervisor, "sup", Some(3), None);
    call.whisper(supervisor, agent);
    call.converse(supervisor);
    for leg in [kiosk, agent] {
        assert!(receives(&call, leg).contains(&Receive {
            from: supervisor,
            kinds: Kinds::BOTH
        }));
    }
    assert_eq!(receives(&call, supervisor).len(), 2);
    call.monitor(supervisor);
    assert!(!call.is_published(supervisor));
    assert_eq!(
        receives(&call, kiosk),
        vec![Receive {
            from: agent,
            kinds: Kinds::BOTH
        }]
    );
    call.remove_leg(now(), supervisor, LegLeft::Left);
    assert_eq!(call.legs.len(), 2);
}
