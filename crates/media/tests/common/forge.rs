//! Forged input for the shard: a tiny deterministic generator and STUN binding requests with
//! a real ufrag and a made-up MESSAGE-INTEGRITY.

/// splitmix64: a tiny deterministic generator for reproducible garbage.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A binding request for `username` whose MESSAGE-INTEGRITY is random bytes.
pub fn stun_binding_request(username: &str, rng: &mut Rng) -> Vec<u8> {
    let mut attrs = Vec::new();
    attrs.extend_from_slice(&0x0006u16.to_be_bytes());
    attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attrs.extend_from_slice(username.as_bytes());
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    // A bogus MESSAGE-INTEGRITY: the engine must refuse it.
    attrs.extend_from_slice(&0x0008u16.to_be_bytes());
    attrs.extend_from_slice(&20u16.to_be_bytes());
    attrs.extend_from_slice(&rng.bytes(20));
    let mut message = vec![0x00, 0x01];
    message.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    message.extend_from_slice(&rng.bytes(12));
    message.extend_from_slice(&attrs);
    message
}
