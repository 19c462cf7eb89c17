//! Just enough STUN (RFC 8489) to route a datagram: recognise a STUN message, read the
//! USERNAME of a binding request without allocating, and check its MESSAGE-INTEGRITY against
//! the peer's password before the shard learns the sender's address. The engine validates the
//! rest (FINGERPRINT, the response) once the datagram reaches the right peer.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const INTEGRITY_LEN: usize = 20;

/// Whether `datagram` is shaped like a STUN message (RFC 7983 demultiplexing plus the cookie
/// and a length that matches the datagram).
pub fn is_stun(datagram: &[u8]) -> bool {
    if datagram.len() < HEADER_LEN || datagram[0] > 3 || datagram[4..8] != MAGIC_COOKIE {
        return false;
    }
    let body = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    body % 4 == 0 && HEADER_LEN + body == datagram.len()
}

/// The first attribute of type `wanted` in a STUN message: its offset and its value. `None`
/// when it is absent or an attribute before it runs past the end of the datagram.
fn find_attribute(datagram: &[u8], wanted: u16) -> Option<(usize, &[u8])> {
    let mut at = HEADER_LEN;
    while at + 4 <= datagram.len() {
        let attr = u16::from_be_bytes([datagram[at], datagram[at + 1]]);
        let len = usize::from(u16::from_be_bytes([datagram[at + 2], datagram[at + 3]]));
        let value_start = at + 4;
        let value = datagram.get(value_start..value_start.checked_add(len)?)?;
        if attr == wanted {
            return Some((at, value));
        }
        at = value_start + len.div_ceil(4) * 4;
    }
    None
}

/// The local part of the USERNAME of a binding request (`"<ours>:<theirs>"` → `ours`), or
/// `None` when the datagram is not a well-formed binding request carrying one.
pub fn binding_request_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) || u16::from_be_bytes([datagram[0], datagram[1]]) != BINDING_REQUEST {
        return None;
    }
    let (_, value) = find_attribute(datagram, ATTR_USERNAME)?;
    let (local, _remote) = std::str::from_utf8(value).ok()?.split_once(':')?;
    (!local.is_empty()).then_some(local)
}

/// Whether `datagram` is a STUN message whose MESSAGE-INTEGRITY (HMAC-SHA1, short-term
/// credential: the key is `password`) is correct (RFC 8489 §14.5).
pub fn has_valid_integrity(datagram: &[u8], password: &str) -> bool {
    if !is_stun(datagram) {
        return false;
    }
    let Some((at, given)) = find_attribute(datagram, ATTR_MESSAGE_INTEGRITY) else {
        return false;
    };
    if given.len() != INTEGRITY_LEN {
        return false;
    }
    // The HMAC covers the message up to this attribute, with the header's length counting up
    // to the end of it.
    let Ok(covered) = u16::try_from(at + 4 + INTEGRITY_LEN - HEADER_LEN) else {
        return false;
    };
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(&datagram[..2]);
    context.update(&covered.to_be_bytes());
    context.update(&datagram[4..at]);
    let tag = context.sign();
    // Compared without an early exit, so timing does not tell how much matched.
    let difference = tag
        .as_ref()
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut message = Vec::new();
        message.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        message.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        message.extend_from_slice(&MAGIC_COOKIE);
        message.extend_from_slice(&[7; 12]);
        message.extend_from_slice(&attrs);
        message
    }

    /// RFC 5769 §2.1: the sample request and its short-term password.
    const RFC5769_REQUEST: &str = "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573\
        7420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000\
        0800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
    const RFC5769_PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn the_rfc_5769_sample_request_passes_integrity_and_a_wrong_password_fails() {
        let message = hex(RFC5769_REQUEST);
        assert_eq!(message.len(), 108);
        assert_eq!(binding_request_local_ufrag(&message), Some("evtj"));
        assert!(has_valid_integrity(&message, RFC5769_PASSWORD));
        assert!(!has_valid_integrity(&message, "not-the-password"));
        let mut tampered = message.clone();
        tampered[30] ^= 1; // inside SOFTWARE, covered by the HMAC
        assert!(!has_valid_integrity(&tampered, RFC5769_PASSWORD));
        // No MESSAGE-INTEGRITY at all: not authenticated.
        assert!(!has_valid_integrity(
            &binding_request("evtj:h6vY"),
            RFC5769_PASSWORD
        ));
    }

    #[test]
    fn reads_the_local_ufrag_of_a_binding_request() {
        let message = binding_request("rl5abc:Xy9z");
        assert!(is_stun(&message));
        assert_eq!(binding_request_local_ufrag(&message), Some("rl5abc"));
    }

    #[test]
    fn rejects_truncated_and_foreign_datagrams() {
        let message = binding_request("abc:def");
        for cut in 0..message.len() {
            assert_eq!(
                binding_request_local_ufrag(&message[..cut]),
                None,
                "cut at {cut}"
            );
        }
        // An RTP packet (first byte 0x80) is not STUN.
        let mut rtp = message.clone();
        rtp[0] = 0x80;
        assert!(!is_stun(&rtp));
        assert_eq!(binding_request_local_ufrag(b"hello"), None);
        // A username without the colon is not a connectivity check of ours.
        assert_eq!(
            binding_request_local_ufrag(&binding_request("nocolon")),
            None
        );
    }

    #[test]
    fn an_attribute_length_past_the_end_is_refused() {
        let mut message = binding_request("abc:def");
        message[HEADER_LEN + 2] = 0xff;
        assert_eq!(binding_request_local_ufrag(&message), None);
    }
}
