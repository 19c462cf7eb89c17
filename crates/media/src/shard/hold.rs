//! The server's own audio toward a peer (hold music, announcements) and the metering of a
//! publisher's input: both run on the shard's clock, next to the peers' timers.

use super::*;
use crate::hold::{HOLD_SSRC, HoldPlayer, OpusClip};
use crate::meter::InputMeter;

/// A player this far behind its clock (the thread was held up) starts again from now rather
/// than sending a burst.
const MAX_LAG: Duration = Duration::from_millis(100);

impl Shard {
    /// `peer` hears the server's hold audio in its first receive slot: `music` in a loop (none:
    /// silence between announcements). While it plays, no publisher's audio reaches that peer.
    pub fn play_hold(
        &mut self,
        now: Instant,
        peer: PeerId,
        music: Option<Arc<OpusClip>>,
    ) -> Result<(), MediaError> {
        let entry = self.peers.get(&peer).ok_or(MediaError::UnknownPeer(peer))?;
        if entry.slots.is_empty() {
            return Err(MediaError::NoFreeSlot(peer, 0));
        }
        match self.holds.get_mut(&peer) {
            Some(player) => player.set_music(music),
            None => {
                self.holds.insert(peer, HoldPlayer::new(now, music));
                self.refresh_media_due();
            }
        }
        Ok(())
    }

    /// Ends the hold audio of `peer` (the next packet it gets is its publisher's).
    pub fn stop_hold(&mut self, peer: PeerId) {
        if self.holds.remove(&peer).is_some() {
            self.refresh_media_due();
        }
    }

    /// Whether `peer` hears hold audio.
    pub fn holding(&self, peer: PeerId) -> bool {
        self.holds.contains_key(&peer)
    }

    /// Puts an announcement into the hold audio of `peer` (ignored when it is not on hold).
    pub fn announce(&mut self, peer: PeerId, clip: Arc<OpusClip>) -> bool {
        match self.holds.get_mut(&peer) {
            Some(player) => {
                player.announce(clip);
                true
            }
            None => false,
        }
    }

    /// Measures what `peer` publishes (its audio level, its video frames) and reports it
    /// every second as [`MediaEvent::InputReport`]; `false` stops.
    pub fn meter(&mut self, now: Instant, peer: PeerId, on: bool) -> Result<(), MediaError> {
        let entry = self
            .peers
            .get_mut(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        if !on {
            entry.meter = None;
            self.metered.remove(&peer);
        } else if entry.meter.is_none() {
            entry.meter = Some(InputMeter::new(now));
            self.metered.insert(peer);
        }
        self.refresh_media_due();
        Ok(())
    }

    /// Works out when the next hold packet or meter report is due, after a change of the
    /// players or meters (kept, so that the shard's timeout costs nothing per datagram).
    pub(super) fn refresh_media_due(&mut self) {
        let holds = self.holds.values().map(|p| p.next_due).min();
        let meters = self
            .metered
            .iter()
            .filter_map(|id| self.peers.get(id)?.meter.as_ref().map(|m| m.window_end))
            .min();
        self.media_due = holds.into_iter().chain(meters).min();
    }

    /// Sends the hold packets due and the meter reports due at `now`.
    pub(super) fn media_tick(&mut self, now: Instant) {
        if self.media_due.is_none_or(|due| due > now) {
            return;
        }
        if !self.holds.is_empty() {
            let due: Vec<PeerId> = self
                .holds
                .iter()
                .filter(|(_, p)| p.next_due <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in due {
                self.play_due(now, id);
            }
        }
        let mut reports: Vec<(PeerId, RoomId, crate::InputReport)> = Vec::new();
        for id in &self.metered {
            let Some(peer) = self.peers.get_mut(id) else {
                continue;
            };
            if let Some(meter) = peer.meter.as_mut()
                && meter.window_end <= now
            {
                reports.push((peer.id, peer.room, meter.report(now)));
            }
        }
        for (peer, room, report) in reports {
            self.events
                .push_back(MediaEvent::InputReport { peer, room, report });
        }
        self.refresh_media_due();
    }

    fn play_due(&mut self, now: Instant, id: PeerId) {
        let Some(player) = self.holds.get_mut(&id) else {
            return;
        };
        if now.saturating_duration_since(player.next_due) > MAX_LAG {
            player.next_due = now;
        }
        let mut sent = false;
        while player.next_due <= now {
            let spurt = player.spurt;
            let Some((payload, seq, ts)) = player.next_packet() else {
                continue;
            };
            player.spurt = false;
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            if !peer.connected {
                continue;
            }
            let Some(slot) = peer.slots.first_mut() else {
                continue;
            };
            let leg = &mut slot.audio;
            leg.read_negotiated(&mut peer.pc);
            let Some(payload_type) = leg
                .negotiated
                .as_ref()
                .and_then(|n| n.payload_type_of(name_key("audio/opus")))
            else {
                continue;
            };
            let (seq, ts) = leg.rewriter.rewrite(now, HOLD_SSRC, seq, ts);
            let size = payload.len() as u64 + 12;
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: spurt,
                    payload_type,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc: leg.ssrc,
                    ..Default::default()
                },
                payload,
            };
            let sender_id = leg.sender;
            let written = peer
                .pc
                .rtp_sender(sender_id)
                .map(|mut sender| sender.write_rtp(now, packet).is_ok())
                .unwrap_or(false);
            if written {
                peer.stats.rtp_out += 1;
                peer.stats.rtp_bytes_out += size;
                self.stats.hold_packets += 1;
                sent = true;
            }
        }
        if sent {
            self.flush(now, id);
        }
    }
}
