//! The check of a publisher's camera and microphone: its Opus audio decoded and its level
//! measured, its video frames counted and their size read from VP8 keyframes, reported once a
//! second.

use std::time::{Duration, Instant};

/// How often a metered peer's input is reported.
pub const METER_WINDOW: Duration = Duration::from_secs(1);

/// What a metered publisher sent during one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputReport {
    /// Audio packets received.
    pub audio_packets: u32,
    /// The decoded audio's level in dB below full scale (RMS), `None` without audio; -127 for
    /// digital silence.
    pub audio_dbfs: Option<i16>,
    /// Video frames completed (packets with the marker bit).
    pub video_frames: u32,
    /// The size of the last VP8 keyframe seen.
    pub width: u16,
    pub height: u16,
}

pub(crate) struct InputMeter {
    decoder: Option<opus::Decoder>,
    pcm: Vec<i16>,
    sum_squares: f64,
    samples: u64,
    audio_packets: u32,
    video_frames: u32,
    width: u16,
    height: u16,
    pub(crate) window_end: Instant,
}

impl std::fmt::Debug for InputMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputMeter")
            .field("audio_packets", &self.audio_packets)
            .field("video_frames", &self.video_frames)
            .finish_non_exhaustive()
    }
}

impl InputMeter {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            decoder: opus::Decoder::new(48_000, opus::Channels::Mono).ok(),
            // The longest Opus packet: 120 ms at 48 kHz.
            pcm: vec![0; 5760],
            sum_squares: 0.0,
            samples: 0,
            audio_packets: 0,
            video_frames: 0,
            width: 0,
            height: 0,
            window_end: now + METER_WINDOW,
        }
    }

    /// One Opus packet of the publisher.
    pub(crate) fn audio(&mut self, payload: &[u8]) {
        self.audio_packets += 1;
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        // A packet the decoder refuses counts as received, not as sound.
        if let Ok(n) = decoder.decode(payload, &mut self.pcm, false) {
            for &sample in &self.pcm[..n] {
                let v = f64::from(sample) / 32768.0;
                self.sum_squares += v * v;
            }
            self.samples += n as u64;
        }
    }

    /// One VP8 packet of the publisher.
    pub(crate) fn video(&mut self, marker: bool, payload: &[u8]) {
        if marker {
            self.video_frames += 1;
        }
        if let Some((width, height)) = vp8_keyframe_size(payload) {
            self.width = width;
            self.height = height;
        }
    }

    /// The report of the window that ended, and a new window from `now`.
    pub(crate) fn report(&mut self, now: Instant) -> InputReport {
        let audio_dbfs = (self.audio_packets > 0).then(|| {
            if self.samples == 0 || self.sum_squares <= 0.0 {
                -127
            } else {
                let rms = (self.sum_squares / self.samples as f64).sqrt();
                (20.0 * rms.log10()).round().clamp(-127.0, 0.0) as i16
            }
        });
        let report = InputReport {
            audio_packets: self.audio_packets,
            audio_dbfs,
            video_frames: self.video_frames,
            width: self.width,
            height: self.height,
        };
        self.sum_squares = 0.0;
        self.samples = 0;
        self.audio_packets = 0;
        self.video_frames = 0;
        self.window_end = now + METER_WINDOW;
        report
    }
}

/// The size of a VP8 keyframe from the first packet of its frame (RFC 7741 payload descriptor,
/// RFC 6386 frame header); `None` for any other packet.
pub fn vp8_keyframe_size(payload: &[u8]) -> Option<(u16, u16)> {
    let first = *payload.first()?;
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start || partition != 0 {
        return None;
    }
    let mut at = 1;
    if extended {
        let x = *payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            let m = *payload.get(at)?;
            at += if m & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    let frame = payload.get(at..at + 10)?;
    // Bit 0 of the frame tag clear: a keyframe, followed by its start code.
    if frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((width, height))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the tests start their virtual time from the clock
mod tests {
    use super::*;

    fn encoded(samples: impl Fn(usize) -> i16, packets: usize) -> Vec<Vec<u8>> {
        let mut encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        (0..packets)
            .map(|p| {
                let pcm: Vec<i16> = (0..960).map(|i| samples(p * 960 + i)).collect();
                encoder.encode_vec(&pcm, 4000).unwrap()
            })
            .collect()
    }

    #[test]
    fn silence_and_a_tone_are_told_apart() {
        let now = Instant::now();
        let mut meter = InputMeter::new(now);
        for packet in encoded(|_| 0, 50) {
            meter.audio(&packet);
        }
        let silent = meter.report(now);
        assert_eq!(silent.audio_packets, 50);
        assert!(silent.audio_dbfs.unwrap() <= -90, "{silent:?}");
        // A 440 Hz tone at half scale: about -9 dBFS RMS.
        let tone = |i: usize| {
            ((i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin() * 16_000.0) as i16
        };
        for packet in encoded(tone, 50) {
            meter.audio(&packet);
        }
        let loud = meter.report(now);
        let level = loud.audio_dbfs.unwrap();
        assert!((-14..=-5).contains(&level), "{loud:?}");
        assert_eq!(meter.report(now).audio_dbfs, None);
    }

    #[test]
    fn vp8_keyframes_give_their_size_and_other_packets_nothing() {
        // Descriptor with a 15-bit picture id, then a keyframe header of 640x480.
        let key = [
            0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
        ];
        assert_eq!(vp8_keyframe_size(&key), Some((640, 480)));
        let mut delta = key;
        delta[4] |= 0x01;
        assert_eq!(vp8_keyframe_size(&delta), None);
        let mut middle = key;
        middle[0] &= !0x10;
        assert_eq!(vp8_keyframe_size(&middle), None);
        assert_eq!(vp8_keyframe_size(&[0x10]), None);
        assert_eq!(vp8_keyframe_size(&[]), None);
        let mut meter = InputMeter::new(Instant::now());
        meter.video(false, &key);
        meter.video(true, &[0x00, 1, 2]);
        let report = meter.report(Instant::now());
        assert_eq!(
            (report.video_frames, report.width, report.height),
            (1, 640, 480)
        );
    }
}
