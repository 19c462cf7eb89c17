//! Per-leg RTP rewriting: sequence numbers and timestamps stay continuous for the receiver
//! when the source behind a leg changes, and payload types and header-extension ids are
//! translated from what the publisher negotiated to what the subscriber negotiated.

use std::time::Instant;

/// Keeps one outgoing stream's sequence numbers and timestamps continuous across sources.
///
/// The first source passes through unchanged. When another source (a different incoming SSRC)
/// takes over, its packets are shifted to follow the last packet sent: sequence numbers by one,
/// timestamps by the wall-clock time elapsed in the codec's clock rate. Retransmissions of the
/// current source map with the same offsets, so NACK recovery keeps working.
#[derive(Debug, Clone)]
pub struct SeqTsRewriter {
    clock_rate: u32,
    source: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last: Option<Sent>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u16,
    ts: u32,
    at: Instant,
}

impl SeqTsRewriter {
    /// A rewriter for a codec with `clock_rate` ticks per second.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            source: None,
            seq_offset: 0,
            ts_offset: 0,
            last: None,
        }
    }

    /// The outgoing sequence number and timestamp for an incoming packet of `ssrc`.
    pub fn rewrite(&mut self, now: Instant, ssrc: u32, seq: u16, ts: u32) -> (u16, u32) {
        if self.source != Some(ssrc) {
            if let Some(last) = self.last {
                let elapsed = now.saturating_duration_since(last.at);
                let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)).round() as u64;
                let ticks = u32::try_from(ticks.max(1)).unwrap_or(u32::MAX);
                self.seq_offset = last.seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_offset = last.ts.wrapping_add(ticks).wrapping_sub(ts);
            }
            self.source = Some(ssrc);
        }
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        let newer = match self.last {
            None => true,
            Some(last) => seq_newer(out_seq, last.seq),
        };
        if newer {
            self.last = Some(Sent {
                seq: out_seq,
                ts: out_ts,
                at: now,
            });
        }
        (out_seq, out_ts)
    }
}

/// Whether `a` comes after `b` in RTP sequence order (modulo 2^16).
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// A stable key for a codec or extension name, compared case-insensitively.
pub fn name_key(name: &str) -> u64 {
    // FNV-1a over the lowercase bytes: tiny, deterministic, no allocation.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Header extensions worth carrying from publisher to subscriber. The others are per hop
/// (transport-wide sequence numbers, send times) or per leg (MID, RID) and must not cross.
pub const FORWARDED_EXTENSIONS: &[&str] = &[
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:3gpp:video-orientation",
];

/// What one side negotiated: payload type → codec, extension id → URI, as keys.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// `(payload type, codec key, clock rate)`.
    pub codecs: Vec<(u8, u64, u32)>,
    /// `(extension id, uri key)`.
    pub extensions: Vec<(u8, u64)>,
}

impl Negotiated {
    /// The codec key of a payload type.
    pub fn codec_of(&self, payload_type: u8) -> Option<(u64, u32)> {
        self.codecs
            .iter()
            .find(|(pt, _, _)| *pt == payload_type)
            .map(|&(_, key, rate)| (key, rate))
    }

    /// The payload type of a codec key.
    pub fn payload_type_of(&self, codec: u64) -> Option<u8> {
        self.codecs
            .iter()
            .find(|(_, key, _)| *key == codec)
            .map(|&(pt, _, _)| pt)
    }

    /// The URI key of an extension id.
    pub fn uri_of(&self, id: u8) -> Option<u64> {
        self.extensions
            .iter()
            .find(|(ext, _)| *ext == id)
            .map(|&(_, uri)| uri)
    }

    /// The extension id of a URI key.
    pub fn id_of(&self, uri: u64) -> Option<u8> {
        self.extensions
            .iter()
            .find(|(_, key)| *key == uri)
            .map(|&(id, _)| id)
    }
}

/// Rewrites a packet's header in place for a subscriber leg: SSRC, payload type, header
/// extensions (translated or dropped). Returns false when the subscriber did not negotiate the
/// publisher's codec (the packet cannot be forwarded). The payload is untouched.
pub fn translate_header(
    header: &mut rtc::rtp::header::Header,
    from: &Negotiated,
    to: &Negotiated,
    out_ssrc: u32,
    forwarded: &[u64],
) -> bool {
    let Some((codec, _)) = from.codec_of(header.payload_type) else {
        return false;
    };
    let Some(out_pt) = to.payload_type_of(codec) else {
        return false;
    };
    header.payload_type = out_pt;
    header.ssrc = out_ssrc;
    header.extensions.retain_mut(|ext| {
        let Some(uri) = from.uri_of(ext.id) else {
            return false;
        };
        if !forwarded.contains(&uri) {
            return false;
        }
        match to.id_of(uri) {
            Some(id) => {
                ext.id = id;
                true
            }
            None => false,
        }
    });
    header.extension = !header.extensions.is_empty();
    if !header.extension {
        header.extension_profile = 0;
        header.extensions_padding = 0;
    } else {
        let one_byte = header
            .extensions
            .iter()
            .all(|ext| ext.id <= 14 && ext.payload.len() <= 16 && !ext.payload.is_empty());
        header.extension_profile = if one_byte {
            rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE
        } else {
            rtc::rtp::header::EXTENSION_PROFILE_TWO_BYTE
        };
        // The padding the publisher's extensions needed is not ours: recompute it, or the
        // extension block's length field disagrees with its bytes.
        let len = header.get_extension_payload_len();
        header.extensions_padding = (4 - len % 4) % 4;
    }
    true
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // virtual time starts at a real instant
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use rtc::rtp::header::{Extension, Header};

    use super::*;

    #[test]
    fn first_source_passes_through_unchanged() {
        let mut rw = SeqTsRewriter::new(90_000);
        let t0 = Instant::now();
        assert_eq!(rw.rewrite(t0, 1, 100, 5000), (100, 5000));
        assert_eq!(rw.rewrite(t0, 1, 101, 8000), (101, 8000));
    }

    #[test]
    fn a_new_source_continues_the_sequence_and_timeline() {
        let mut rw = SeqTsRewriter::new(90_000);
        let t0 = Instant::now();
        rw.rewrite(t0, 1, 65535, 1000);
        let later = t0 + Duration::from_millis(100);
        // Source 2 starts anywhere; the receiver sees 0 (= 65535 + 1) and +9000 ticks.
        assert_eq!(rw.rewrite(later, 2, 40000, 777), (0, 1000 + 9000));
        assert_eq!(
            rw.rewrite(later, 2, 40001, 777 + 3000),
            (1, 1000 + 9000 + 3000)
        );
    }

    #[test]
    fn retransmissions_keep_their_mapping_and_do_not_move_the_high_mark() {
        let mut rw = SeqTsRewriter::new(48_000);
        let t0 = Instant::now();
        rw.rewrite(t0, 9, 10, 0);
        rw.rewrite(t0, 9, 11, 960);
        rw.rewrite(t0, 9, 12, 1920);
        assert_eq!(rw.rewrite(t0, 9, 11, 960), (11, 960));
        // A switch continues after 12, not after the retransmitted 11.
        assert_eq!(rw.rewrite(t0 + Duration::from_millis(20), 3, 500, 0).0, 13);
    }

    #[test]
    fn sequence_order_wraps() {
        assert!(seq_newer(0, 65535));
        assert!(seq_newer(5, 3));
        assert!(!seq_newer(3, 5));
        assert!(!seq_newer(7, 7));
    }

    fn negotiated(codecs: &[(u8, &str)], exts: &[(u8, &str)]) -> Negotiated {
        Negotiated {
            codecs: codecs
                .iter()
                .map(|&(pt, name)| (pt, name_key(name), 90_000))
                .collect(),
            extensions: exts.iter().map(|&(id, uri)| (id, name_key(uri))).collect(),
        }
    }

    #[test]
    fn header_is_translated_to_the_subscribers_ids() {
        let from = negotiated(
            &[(96, "video/VP8"), (111, "audio/opus")],
            &[
                (3, "urn:3gpp:video-orientation"),
                (
                    5,
                    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                ),
                (9, "urn:ietf:params:rtp-hdrext:sdes:mid"),
            ],
        );
        let to = negotiated(
            &[(120, "video/vp8")],
            &[
                (11, "urn:3gpp:video-orientation"),
                (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
            ],
        );
        let forwarded: Vec<u64> = FORWARDED_EXTENSIONS.iter().map(|u| name_key(u)).collect();
        let mut header = Header {
            version: 2,
            payload_type: 96,
            ssrc: 1234,
            extension: true,
            extension_profile: rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE,
            extensions: vec![
                Extension {
                    id: 3,
                    payload: Bytes::from_static(&[1]),
                },
                Extension {
                    id: 5,
                    payload: Bytes::from_static(&[0, 1]),
                },
                Extension {
                    id: 9,
                    payload: Bytes::from_static(b"0"),
                },
            ],
            ..Default::default()
        };
        assert!(translate_header(&mut header, &from, &to, 777, &forwarded));
        assert_eq!(header.payload_type, 120);
        assert_eq!(header.ssrc, 777);
        assert_eq!(header.extensions.len(), 1);
        assert_eq!(header.extensions[0].id, 11);
        assert_eq!(&header.extensions[0].payload[..], &[1]);
    }

    #[test]
    fn a_translated_header_marshals_to_a_parseable_packet() {
        use rtc::shared::marshal::{Marshal, Unmarshal};
        // Chrome-like audio: four extensions, 11 bytes, one byte of padding.
        let raw_header = Header {
            version: 2,
            payload_type: 111,
            ssrc: 5,
            extension: true,
            extension_profile: rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE,
            extensions: vec![
                Extension {
                    id: 1,
                    payload: Bytes::from_static(&[0x90]),
                },
                Extension {
                    id: 2,
                    payload: Bytes::from_static(&[1, 2, 3]),
                },
                Extension {
                    id: 3,
                    payload: Bytes::from_static(&[0, 7]),
                },
                Extension {
                    id: 4,
                    payload: Bytes::from_static(b"0"),
                },
            ],
            ..Default::default()
        };
        let wire = rtc::rtp::Packet {
            header: raw_header,
            payload: Bytes::from_static(b"opus-frame"),
        }
        .marshal()
        .unwrap();
        let mut packet = rtc::rtp::Packet::unmarshal(&mut &wire[..]).unwrap();
        let from = negotiated(
            &[(111, "audio/opus")],
            &[
                (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
                (2, "abs-send-time"),
                (3, "transport-cc"),
                (4, "mid"),
            ],
        );
        let to = negotiated(
            &[(109, "audio/opus")],
            &[(7, "urn:ietf:params:rtp-hdrext:ssrc-audio-level")],
        );
        let forwarded: Vec<u64> = FORWARDED_EXTENSIONS.iter().map(|u| name_key(u)).collect();
        assert!(translate_header(
            &mut packet.header,
            &from,
            &to,
            99,
            &forwarded
        ));
        // The engine's transport-wide congestion control adds its own extension on the way out.
        packet
            .header
            .set_extension(3, Bytes::from_static(&[0, 9]))
            .unwrap();
        let rewired = packet.marshal().unwrap();
        let parsed = rtc::rtp::Packet::unmarshal(&mut &rewired[..]).unwrap();
        assert_eq!(parsed.header.extensions.len(), 2);
        assert_eq!(parsed.header.extensions[0].id, 7);
        assert_eq!(&parsed.header.extensions[0].payload[..], &[0x90]);
        assert_eq!(parsed.header.extensions[1].id, 3);
        assert_eq!(&parsed.payload[..], b"opus-frame");
        // 12 fixed + 4 extension header + 8 (5 bytes of extensions, 3 of padding) + payload.
        assert_eq!(rewired.len(), 12 + 4 + 8 + 10);
    }

    #[test]
    fn a_codec_the_subscriber_lacks_is_not_forwarded() {
        let from = negotiated(&[(100, "video/H264")], &[]);
        let to = negotiated(&[(96, "video/VP8")], &[]);
        let mut header = Header {
            payload_type: 100,
            ..Default::default()
        };
        assert!(!translate_header(&mut header, &from, &to, 1, &[]));
        // An unknown payload type is refused too.
        let mut header = Header {
            payload_type: 55,
            ..Default::default()
        };
        assert!(!translate_header(&mut header, &from, &to, 1, &[]));
    }
}
