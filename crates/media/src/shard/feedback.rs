//! Feedback: keyframe requests of subscribers relayed to the publisher, throttled, and the
//! keyframe asked for when a subscriber joins.

use super::*;

impl Shard {
    /// A subscriber asked for a keyframe (PLI or FIR): pass it on to the publisher behind the
    /// stream, throttled.
    pub(super) fn relay_keyframe_requests(
        &mut self,
        now: Instant,
        subscriber: PeerId,
        packets: &[Box<dyn rtc::rtcp::packet::Packet>],
        dirty: &mut Vec<PeerId>,
    ) {
        let mut media_ssrcs: Vec<u32> = Vec::new();
        for packet in packets {
            let any = packet.as_any();
            if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                media_ssrcs.push(pli.media_ssrc);
            } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                media_ssrcs.extend(fir.fir.iter().map(|entry| entry.ssrc));
                media_ssrcs.push(fir.media_ssrc);
            }
        }
        let Some(peer) = self.peers.get_mut(&subscriber) else {
            return;
        };
        let mut sources = Vec::new();
        for ssrc in media_ssrcs {
            if let Some(slot) = peer.slots.iter().find(|slot| slot.video.ssrc == ssrc)
                && let Some(source) = slot.source
            {
                peer.stats.keyframe_requests_received += 1;
                sources.push(source);
            }
        }
        sources.sort_unstable();
        sources.dedup();
        for source in sources {
            self.request_keyframe(now, source, dirty);
        }
    }

    /// Asks `publisher` for a keyframe on each of its video streams (throttled per stream).
    pub(super) fn request_keyframe(
        &mut self,
        now: Instant,
        publisher: PeerId,
        dirty: &mut Vec<PeerId>,
    ) {
        let interval = self.config.keyframe_min_interval;
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let due: Vec<u32> = peer
            .inbound
            .iter_mut()
            .filter(|(_, inbound)| inbound.kind == MediaKind::Video)
            .filter_map(|(ssrc, inbound)| inbound.keyframe.request(now, interval).then_some(*ssrc))
            .collect();
        for ssrc in due {
            send_pli(now, peer, ssrc);
        }
        dirty.push(publisher);
    }
}

pub(super) fn send_pli(now: Instant, peer: &mut Peer, media_ssrc: u32) {
    let Some(inbound) = peer.inbound.get(&media_ssrc) else {
        return;
    };
    let receiver_id = inbound.receiver;
    if let Some(mut receiver) = peer.pc.rtp_receiver(receiver_id) {
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        if receiver.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
            peer.stats.keyframe_requests_sent += 1;
        }
    }
}
