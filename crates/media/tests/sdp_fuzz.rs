//! Mutated SDP offers, as a hostile client would send them: lines dropped, duplicated,
//! swapped, truncated and bytes flipped in a real offer. `check_offer` and `Shard::join` never
//! panic; an offer `join` refuses leaves the room and the shard as they were, and one it takes
//! is a peer that can be removed.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // virtual time starts at a real instant

mod common;

use std::time::Instant;

use common::TestClient;
use proptest::prelude::*;
use relais_media::{JoinSpec, RoomId, check_offer};

/// A real offer of an in-memory client, split into lines.
fn offer_lines() -> Vec<String> {
    let (_, offer) = TestClient::new(Instant::now(), "10.0.1.2:5000".parse().unwrap(), 1);
    offer.split("\r\n").map(str::to_owned).collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Truncate(usize, usize),
    Flip(usize, usize, u8),
    Insert(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Truncate(a, b)),
        (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(a, b, c)| Mutation::Flip(a, b, c)),
        (any::<usize>(), "[ -~]{0,40}").prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

fn apply(lines: &mut Vec<String>, mutation: &Mutation) {
    if lines.is_empty() {
        return;
    }
    let at = |i: usize| i % lines.len();
    match mutation {
        Mutation::Drop(i) => {
            let i = at(*i);
            lines.remove(i);
        }
        Mutation::Duplicate(i) => {
            let i = at(*i);
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        Mutation::Swap(a, b) => {
            let (a, b) = (at(*a), at(*b));
            lines.swap(a, b);
        }
        Mutation::Truncate(i, keep) => {
            let i = at(*i);
            let keep = keep % (lines[i].len() + 1);
            let cut: String = lines[i].chars().take(keep).collect();
            lines[i] = cut;
        }
        Mutation::Flip(i, byte, value) => {
            let i = at(*i);
            let mut bytes = lines[i].clone().into_bytes();
            if !bytes.is_empty() {
                let b = byte % bytes.len();
                bytes[b] ^= value;
            }
            lines[i] = String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Insert(i, text) => {
            let i = at(*i);
            lines.insert(i, text.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_offers_never_panic_and_a_refused_one_leaves_nothing(
        mutations in prop::collection::vec(mutation(), 1..8)
    ) {
        let mut lines = offer_lines();
        for m in &mutations {
            apply(&mut lines, m);
        }
        let sdp = lines.join("\r\n");
        let _ = check_offer(&sdp);
        let mut shard = common::shard(RoomId(1));
        let now = Instant::now();
        if let Ok((peer, answer)) = shard.join(now, RoomId(1), &JoinSpec::one_to_one("kiosk"), &sdp) {
            prop_assert!(answer.starts_with("v=0"));
            shard.remove_peer(now, peer).unwrap();
        }
        prop_assert_eq!(shard.room_members(RoomId(1)), Some(vec![]));
        prop_assert_eq!(shard.stats().peers, 0);
    }
}
