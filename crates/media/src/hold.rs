//! Audio the server itself sends a peer: hold music (a loop) with spoken announcements put in
//! between, as Opus packets of 20 ms encoded beforehand, paced by the shard's clock into the
//! audio of the peer's first receive slot (where its agent's voice comes later, so the switch
//! needs no new negotiation).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One Opus packet's duration: every clip is made of 20 ms packets.
pub const FRAME: Duration = Duration::from_millis(20);
/// RTP timestamp units (48 kHz) per packet.
pub const FRAME_TICKS: u32 = 960;
/// The SSRC the rewriter knows the server's own audio by (it never leaves the shard: the
/// packets go out with the slot's SSRC).
pub(crate) const HOLD_SSRC: u32 = 0x484f_4c44;

/// Opus packets of 20 ms, 48 kHz, played in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpusClip {
    frames: Vec<Bytes>,
}

impl OpusClip {
    /// A clip of these packets (each one 20 ms of Opus).
    pub fn new(frames: Vec<Bytes>) -> Self {
        Self { frames }
    }

    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        FRAME * self.frames.len() as u32
    }
}

/// What a peer on hold hears: `music` in a loop, interrupted by the announcements queued.
#[derive(Debug)]
pub(crate) struct HoldPlayer {
    music: Option<Arc<OpusClip>>,
    music_at: usize,
    speech: VecDeque<Arc<OpusClip>>,
    speech_at: usize,
    pub(crate) next_due: Instant,
    seq: u16,
    ts: u32,
    /// The next packet starts a talk spurt (RTP marker bit).
    pub(crate) spurt: bool,
}

impl HoldPlayer {
    pub(crate) fn new(now: Instant, music: Option<Arc<OpusClip>>) -> Self {
        Self {
            music,
            music_at: 0,
            speech: VecDeque::new(),
            speech_at: 0,
            next_due: now,
            seq: 0,
            ts: 0,
            spurt: true,
        }
    }

    pub(crate) fn set_music(&mut self, music: Option<Arc<OpusClip>>) {
        if self.music != music {
            self.music = music;
            self.music_at = 0;
        }
    }

    /// Queues an announcement; one still waiting to start is replaced (its news is old).
    pub(crate) fn announce(&mut self, clip: Arc<OpusClip>) {
        if clip.is_empty() {
            return;
        }
        if self.speech_at == 0 {
            self.speech.clear();
        } else {
            self.speech.truncate(1);
        }
        self.speech.push_back(clip);
    }

    /// The next packet due: its payload, sequence number and timestamp in the player's own
    /// numbering. `None` when there is nothing to play (the clock still runs, so the
    /// timestamps keep the real time between two clips).
    pub(crate) fn next_packet(&mut self) -> Option<(Bytes, u16, u32)> {
        let payload = loop {
            if let Some(clip) = self.speech.front() {
                if let Some(frame) = clip.frames().get(self.speech_at) {
                    self.speech_at += 1;
                    break Some(frame.clone());
                }
                self.speech.pop_front();
                self.speech_at = 0;
                continue;
            }
            break match &self.music {
                Some(music) if !music.is_empty() => {
                    let frame = music.frames()[self.music_at % music.len()].clone();
                    self.music_at = (self.music_at + 1) % music.len();
                    Some(frame)
                }
                _ => None,
            };
        };
        let out = payload.map(|p| (p, self.seq, self.ts));
        if out.is_some() {
            self.seq = self.seq.wrapping_add(1);
        } else {
            self.spurt = true;
        }
        self.ts = self.ts.wrapping_add(FRAME_TICKS);
        self.next_due += FRAME;
        out
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the tests start their virtual time from the clock
mod tests {
    use super::*;

    fn clip(tag: u8, n: usize) -> Arc<OpusClip> {
        Arc::new(OpusClip::new(
            (0..n).map(|i| Bytes::from(vec![tag, i as u8])).collect(),
        ))
    }

    #[test]
    fn music_loops_and_an_announcement_interrupts_it_then_the_music_goes_on() {
        let now = Instant::now();
        let mut player = HoldPlayer::new(now, Some(clip(1, 3)));
        let mut played = Vec::new();
        for i in 0..10 {
            if i == 4 {
                player.announce(clip(2, 2));
            }
            let (payload, seq, ts) = player.next_packet().unwrap();
            assert_eq!((seq, ts), (i as u16, i * FRAME_TICKS));
            played.push((payload[0], payload[1]));
        }
        assert_eq!(
            played,
            vec![
                (1, 0),
                (1, 1),
                (1, 2),
                (1, 0),
                (2, 0),
                (2, 1),
                (1, 1),
                (1, 2),
                (1, 0),
                (1, 1)
            ]
        );
        assert_eq!(player.next_due, now + FRAME * 10);
    }

    #[test]
    fn without_music_only_announcements_play_and_time_runs_between_them() {
        let now = Instant::now();
        let mut player = HoldPlayer::new(now, None);
        assert!(player.next_packet().is_none());
        player.announce(clip(3, 1));
        let (_, seq, ts) = player.next_packet().unwrap();
        assert_eq!((seq, ts), (0, FRAME_TICKS));
        assert!(player.next_packet().is_none());
    }

    #[test]
    fn a_newer_announcement_replaces_one_not_started_and_follows_one_playing() {
        let now = Instant::now();
        let mut player = HoldPlayer::new(now, None);
        player.announce(clip(4, 2));
        player.announce(clip(5, 2));
        assert_eq!(player.next_packet().unwrap().0[0], 5);
        player.announce(clip(6, 1));
        player.announce(clip(7, 1));
        let rest: Vec<u8> = std::iter::from_fn(|| player.next_packet().map(|p| p.0[0])).collect();
        assert_eq!(rest, vec![5, 7]);
    }
}
