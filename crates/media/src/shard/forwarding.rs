//! Forwarding: an RTP packet of a publisher rewritten for each subscribed slot and written
//! to the subscriber's sender.

use super::*;

impl Shard {
    /// Forwards one RTP packet published by `from` to every subscriber bound to it.
    pub(super) fn forward(
        &mut self,
        now: Instant,
        from: PeerId,
        track_id: &str,
        packet: rtc::rtp::Packet,
        dirty: &mut Vec<PeerId>,
    ) {
        let ssrc = packet.header.ssrc;
        let size = (packet.payload.len() + 12) as u64;
        let Some(publisher) = self.peers.get_mut(&from) else {
            return;
        };
        if !publisher.publish {
            return;
        }
        publisher.stats.rtp_in += 1;
        publisher.stats.rtp_bytes_in += size;
        if !publisher.inbound.contains_key(&ssrc) {
            let Some(receiver_id) = publisher.receivers.get(track_id).copied() else {
                return;
            };
            let Some(mut receiver) = publisher.pc.rtp_receiver(receiver_id) else {
                return;
            };
            let kind = match receiver.track().kind() {
                RtpCodecKind::Video => MediaKind::Video,
                _ => MediaKind::Audio,
            };
            let negotiated = Arc::new(negotiated_from(&receiver.get_parameters().rtp_parameters));
            publisher.inbound.insert(
                ssrc,
                Inbound {
                    kind,
                    receiver: receiver_id,
                    negotiated,
                    keyframe: KeyframeGate::default(),
                },
            );
            self.events.push_back(MediaEvent::TrackPublished {
                peer: from,
                room: publisher.room,
                kind,
            });
        }
        let Some(inbound) = publisher.inbound.get(&ssrc) else {
            return;
        };
        let kind = inbound.kind;
        if let Some(meter) = publisher.meter.as_mut() {
            match kind {
                MediaKind::Audio => meter.audio(&packet.payload),
                MediaKind::Video => meter.video(packet.header.marker, &packet.payload),
            }
        }
        let from_negotiated = Arc::clone(&inbound.negotiated);
        let room = publisher.room;
        // Borrow the room's member list in place: no copy per packet.
        let Some(members) = self.rooms.get(&room).map(|r| &r.members) else {
            return;
        };
        for &member in members {
            if member == from {
                continue;
            }
            let Some(subscriber) = self.peers.get_mut(&member) else {
                continue;
            };
            if !subscriber.connected {
                continue;
            }
            let Some(slot) = subscriber
                .slots
                .iter_mut()
                .find(|slot| slot.source == Some(from))
            else {
                continue;
            };
            if !slot.kinds.has(kind) {
                continue;
            }
            // A peer on hold hears the server's audio, nobody else's.
            if kind == MediaKind::Audio && self.holds.contains_key(&member) {
                continue;
            }
            let leg = slot.leg_mut(kind);
            leg.read_negotiated(&mut subscriber.pc);
            let Some(to_negotiated) = leg.negotiated.as_ref() else {
                continue;
            };
            let mut out = packet.clone();
            if !translate_header(
                &mut out.header,
                &from_negotiated,
                to_negotiated,
                leg.ssrc,
                &self.forwarded_extensions,
            ) {
                subscriber.stats.forward_failures += 1;
                continue;
            }
            let (seq, ts) =
                leg.rewriter
                    .rewrite(now, ssrc, out.header.sequence_number, out.header.timestamp);
            out.header.sequence_number = seq;
            out.header.timestamp = ts;
            let sender_id = leg.sender;
            let written = subscriber
                .pc
                .rtp_sender(sender_id)
                .map(|mut sender| sender.write_rtp(now, out).is_ok())
                .unwrap_or(false);
            if written {
                subscriber.stats.rtp_out += 1;
                subscriber.stats.rtp_bytes_out += size;
                self.stats.rtp_forwarded += 1;
                dirty.push(member);
            } else {
                subscriber.stats.forward_failures += 1;
            }
        }
    }
}
