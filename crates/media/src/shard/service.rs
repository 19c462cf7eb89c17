//! Servicing a peer: its engine driven to quiet, its events, its timers, consent and set-up
//! deadlines.

use super::feedback::send_pli;
use super::*;

impl Shard {
    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.media_tick(now);
        while let Some(&(due, id)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, id));
            let consent_timeout = self.config.consent_timeout;
            let setup_timeout = self.config.setup_timeout;
            let keyframe_interval = self.config.keyframe_min_interval;
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            peer.deadline = None;
            if peer.connected && now.saturating_duration_since(peer.last_alive) >= consent_timeout {
                self.stats.consent_expired += 1;
                self.remove(now, id, GoneReason::ConsentExpired);
                continue;
            }
            if !peer.connected && now.saturating_duration_since(peer.created_at) >= setup_timeout {
                self.remove(now, id, GoneReason::SetupTimeout);
                continue;
            }
            let _ = peer.pc.handle_timeout(now);
            let due_keyframes: Vec<u32> = peer
                .inbound
                .iter_mut()
                .filter_map(|(ssrc, inbound)| {
                    inbound
                        .keyframe
                        .poll(now, keyframe_interval)
                        .then_some(*ssrc)
                })
                .collect();
            for ssrc in due_keyframes {
                send_pli(now, peer, ssrc);
            }
            self.service(now, id);
        }
    }

    /// Drains a peer's engine after input: events, media to forward, datagrams to send; then
    /// re-arms its timer.
    pub(super) fn service(&mut self, now: Instant, id: PeerId) {
        let mut dirty: Vec<PeerId> = vec![id];
        let mut gone: Option<GoneReason> = None;
        loop {
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let mut progressed = false;
            while let Some(event) = peer.pc.poll_event() {
                progressed = true;
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                        RTCPeerConnectionState::Connected if !peer.connected => {
                            peer.connected = true;
                            peer.stats.connected = true;
                            peer.last_alive = now;
                            self.events.push_back(MediaEvent::PeerConnected {
                                peer: id,
                                room: peer.room,
                            });
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            gone = Some(GoneReason::Failed);
                        }
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        peer.receivers.insert(init.track_id, init.receiver_id);
                    }
                    _ => {}
                }
            }
            if peer.connected && !peer.slots.is_empty() && !peer.keyframes_asked {
                peer.keyframes_asked = true;
                let sources: Vec<PeerId> =
                    peer.slots.iter().filter_map(|slot| slot.source).collect();
                for source in sources {
                    self.request_keyframe(now, source, &mut dirty);
                }
            }
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let mut messages = Vec::new();
            while let Some(TaggedRTCMessage { message, .. }) = peer.pc.poll_read() {
                messages.push(message);
            }
            progressed |= !messages.is_empty();
            for message in messages {
                match message {
                    RTCMessage::RtpPacket(track_id, packet) => {
                        self.forward(now, id, &track_id, packet, &mut dirty)
                    }
                    RTCMessage::RtcpPacket(_, packets) => {
                        self.relay_keyframe_requests(now, id, &packets, &mut dirty)
                    }
                    _ => {}
                }
            }
            if !progressed {
                break;
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        for peer_id in dirty {
            self.flush(now, peer_id);
        }
        if let Some(reason) = gone {
            self.remove(now, id, reason);
        }
    }

    /// Moves a peer's outgoing datagrams to the transmit queue and re-arms its timer.
    pub(super) fn flush(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        while let Some(out) = peer.pc.poll_write() {
            self.transmits.push_back(Transmit {
                to: out.transport.peer_addr,
                payload: out.message,
            });
        }
        let liveness_due = if peer.connected {
            peer.last_alive + self.config.consent_timeout
        } else {
            peer.created_at + self.config.setup_timeout
        };
        let mut due = liveness_due;
        if let Some(engine_due) = peer.pc.poll_timeout() {
            due = due.min(engine_due);
        }
        for inbound in peer.inbound.values() {
            if let Some(keyframe_due) = inbound.keyframe.deadline(self.config.keyframe_min_interval)
            {
                due = due.min(keyframe_due);
            }
        }
        let due = due.max(now + MIN_TIMER_STEP);
        if peer.deadline != Some(due) {
            if let Some(old) = peer.deadline.take() {
                self.timers.remove(&(old, id));
            }
            peer.deadline = Some(due);
            self.timers.insert((due, id));
        }
    }
}
