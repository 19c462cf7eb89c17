//! Demultiplexing: a datagram to its peer, by ICE username fragment for an authenticated
//! first binding request, then by source address.

use super::*;

impl Shard {
    /// One datagram from the socket. Never fails: what cannot be routed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: BytesMut) {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        let mut is_check = false;
        let id = match self.by_addr.get(&from) {
            Some(id) => *id,
            None => {
                let routed = stun::binding_request_local_ufrag(&data)
                    .and_then(|ufrag| self.by_ufrag.get(ufrag).copied());
                match routed {
                    Some(id) => {
                        // Learn the address only from a check that proves it knows the peer's
                        // password; a forged check leaves nothing behind.
                        let Some(peer) = self.peers.get_mut(&id) else {
                            self.stats.dropped_unknown += 1;
                            return;
                        };
                        if !stun::has_valid_integrity(&data, &peer.pwd) {
                            self.stats.dropped_unknown += 1;
                            tracing::trace!(%from, "binding request failed integrity: dropped");
                            return;
                        }
                        is_check = true;
                        if peer.addrs.len() >= MAX_ADDRS_PER_PEER {
                            // The oldest address gives way (a client that changed network).
                            let oldest = peer.addrs.remove(0);
                            if self.by_addr.get(&oldest) == Some(&id) {
                                self.by_addr.remove(&oldest);
                            }
                        }
                        peer.addrs.push(from);
                        self.by_addr.insert(from, id);
                        id
                    }
                    None => {
                        self.stats.dropped_unknown += 1;
                        tracing::trace!(%from, "datagram from an unknown source dropped");
                        return;
                    }
                }
            }
        };
        let local = self.stamp_for(from);
        let Some(peer) = self.peers.get_mut(&id) else {
            self.stats.dropped_unknown += 1;
            return;
        };
        // Only an authenticated check counts as a sign of life.
        is_check =
            is_check || (stun::is_stun(&data) && stun::has_valid_integrity(&data, &peer.pwd));
        let message = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: data,
        };
        // The engine logs and swallows what it cannot authenticate or parse.
        let _ = peer.pc.handle_read(message);
        let count = peer.liveness.count();
        if count > peer.seen || is_check {
            peer.stats.authenticated_packets += count - peer.seen;
            peer.seen = count;
            peer.last_alive = now;
        }
        self.service(now, id);
    }

    /// The local address the engine expects on datagrams from `from`: the advertised address
    /// of the same family.
    pub(super) fn stamp_for(&self, from: SocketAddr) -> SocketAddr {
        self.config
            .advertised
            .iter()
            .find(|addr| addr.is_ipv4() == from.is_ipv4())
            .or_else(|| self.config.advertised.first())
            .copied()
            .unwrap_or(from)
    }
}
