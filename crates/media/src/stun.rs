//! Just enough STUN (RFC 8489) to route a datagram: recognise a STUN message and read the
//! USERNAME of a binding request without allocating. The engine validates everything else
//! (MESSAGE-INTEGRITY, FINGERPRINT) once the datagram reaches the right peer.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;

/// Whether `datagram` is shaped like a STUN message (RFC 7983 demultiplexing plus the cookie
/// and a length that matches the datagram).
pub fn is_stun(datagram: &[u8]) -> bool {
    if datagram.len() < HEADER_LEN || datagram[0] > 3 || datagram[4..8] != MAGIC_COOKIE {
        return false;
    }
    let body = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    body % 4 == 0 && HEADER_LEN + body == datagram.len()
}

/// The local part of the USERNAME of a binding request (`"<ours>:<theirs>"` → `ours`), or
/// `None` when the datagram is not a well-formed binding request carrying one.
pub fn binding_request_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let kind = u16::from_be_bytes([datagram[0], datagram[1]]);
    if kind != BINDING_REQUEST {
        return None;
    }
    let mut at = HEADER_LEN;
    while at + 4 <= datagram.len() {
        let attr = u16::from_be_bytes([datagram[at], datagram[at + 1]]);
        let len = usize::from(u16::from_be_bytes([datagram[at + 2], datagram[at + 3]]));
        let value_start = at + 4;
        let value_end = value_start.checked_add(len)?;
        if value_end > datagram.len() {
            return None;
        }
        if attr == ATTR_USERNAME {
            let username = std::str::from_utf8(&datagram[value_start..value_end]).ok()?;
            let (local, _remote) = username.split_once(':')?;
            return (!local.is_empty()).then_some(local);
        }
        at = value_start + len.div_ceil(4) * 4;
    }
    None
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
