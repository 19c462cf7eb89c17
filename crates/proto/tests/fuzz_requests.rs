//! Structured fuzzing of what the signalling parser takes from the network: any JSON text,
//! mutations of every documented request, and oversized fields. Reading a frame into a
//! `Request` and checking its field caps never panic, and a request that passes the caps
//! re-encodes to JSON that reads back as the same request.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use relais_proto::Request;

/// Real frames, as the consoles send them: the seeds that mutations start from.
const SEEDS: &[&str] = &[
    r#"{"type":"hello","id":1,"protocol":1,"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}"#,
    r#"{"type":"call","id":2,"service":"caf"}"#,
    r#"{"type":"set_state","id":3,"state":"not_ready","reason":"pause"}"#,
    r#"{"type":"wrap_up_done","id":4,"disposition":"renseignement"}"#,
    r#"{"type":"accept","id":5,"call":1042}"#,
    r#"{"type":"sdp_offer","id":6,"sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:1 cname:x\r\n"}"#,
    r#"{"type":"ice_candidate","id":7,"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"}"#,
    r#"{"type":"subscribe_kpis","id":8}"#,
];

fn read(text: &str) {
    if let Ok(request) = serde_json::from_str::<Request>(text)
        && request.check_lengths().is_ok()
    {
        let again = serde_json::to_string(&request).unwrap();
        let back: Request = serde_json::from_str(&again).unwrap();
        assert_eq!(back, request);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,300}") {
        read(&text);
    }

    #[test]
    fn mutated_real_frames_are_read_or_refused_without_panicking(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = SEEDS[seed].as_bytes().to_vec();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = usize::from(at) % bytes.len();
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            read(text);
        }
    }

    #[test]
    fn oversized_fields_are_refused_by_the_caps(len in 121usize..5000, pick in 0usize..3) {
        let long = "é".repeat(len);
        let text = match pick {
            0 => format!(r#"{{"type":"set_state","id":1,"state":"not_ready","reason":"{long}"}}"#),
            1 => format!(r#"{{"type":"wrap_up_done","id":1,"disposition":"{long}"}}"#),
            _ => format!(r#"{{"type":"call","id":1,"service":"{long}"}}"#),
        };
        let request: Request = serde_json::from_str(&text).unwrap();
        prop_assert!(request.check_lengths().is_err());
    }
}
