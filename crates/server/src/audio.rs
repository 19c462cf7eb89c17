//! The audio of the wait, made once at start: each service's hold audio (a WAV or Ogg/Opus file,
//! or a soft tone loop made here) and the spoken announcements of the place in the queue and
//! the estimated wait, assembled from prompt files. Everything is encoded to Opus packets of
//! 20 ms that the shards pace out.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use relais_media::OpusClip;

use crate::config::Config;

/// Samples per second of everything here.
const RATE: u32 = 48_000;
/// Samples per 20 ms packet.
const FRAME_SAMPLES: usize = 960;
/// Longest hold audio kept (a longer file is cut): 10 minutes.
const MAX_HOLD_SECS: usize = 600;
/// Places in the queue with a prompt of their own; further back is "more than that".
pub const MAX_SPOKEN_POSITION: usize = 20;
/// Minutes of estimated wait with a prompt of their own; longer is "more than that".
pub const MAX_SPOKEN_MINUTES: u64 = 30;

/// The wait's audio of every service.
#[derive(Debug, Default)]
pub struct WaitAudio {
    default_music: Option<Arc<OpusClip>>,
    music: HashMap<String, Arc<OpusClip>>,
    /// Each prompt encoded once, with its pause after it.
    prompts: HashMap<String, OpusClip>,
}

impl WaitAudio {
    /// Loads and encodes what the configuration names; a file that cannot be read is an error
    /// (`check-config` says so before a start).
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        if !config.waiting.hold {
            return Ok(Self {
                prompts: load_prompts(config.waiting.prompts_dir.as_deref())?,
                ..Self::default()
            });
        }
        let default_music = Arc::new(match &config.waiting.hold_audio {
            Some(path) => encode(&read_audio(path)?, 24_000)?,
            None => encode(&tone_loop(), 16_000)?,
        });
        let mut music = HashMap::new();
        for service in &config.services {
            if let Some(path) = &service.hold_audio {
                let clip = encode(&read_audio(path)?, 24_000)
                    .with_context(|| format!("service {}", service.id))?;
                music.insert(service.id.clone(), Arc::new(clip));
            }
        }
        Ok(Self {
            default_music: Some(default_music),
            music,
            prompts: load_prompts(config.waiting.prompts_dir.as_deref())?,
        })
    }

    /// The hold audio of `service`'s waiting calls (`None`: silence between announcements).
    pub fn music(&self, service: &str) -> Option<Arc<OpusClip>> {
        self.music
            .get(service)
            .or(self.default_music.as_ref())
            .cloned()
    }

    /// "Vous êtes la 3e personne en attente. Temps d'attente estimé : 5 minutes.", the
    /// prompts' packets one after the other (nothing is encoded here: announcements are made
    /// on the call task); `None` when a prompt it needs is missing.
    pub fn announcement(&self, position: usize, eta_secs: Option<u64>) -> Option<OpusClip> {
        let mut frames = Vec::new();
        for name in announcement_prompts(position, eta_secs) {
            frames.extend_from_slice(self.prompts.get(name.as_str())?.frames());
        }
        Some(OpusClip::new(frames))
    }
}

/// The prompt files an announcement is made of, in order.
pub fn announcement_prompts(position: usize, eta_secs: Option<u64>) -> Vec<String> {
    let mut names = Vec::new();
    if position <= MAX_SPOKEN_POSITION {
        names.push("vous-etes".to_owned());
        names.push(format!("position-{position}"));
        names.push("personne-en-attente".to_owned());
    } else {
        names.push(format!("plus-de-{MAX_SPOKEN_POSITION}-personnes"));
    }
    match eta_secs {
        None => names.push("aucun-conseiller".to_owned()),
        Some(secs) if secs < 60 => names.push("bientot".to_owned()),
        Some(secs) => {
            names.push("temps-estime".to_owned());
            let minutes = secs.div_ceil(60);
            if minutes > MAX_SPOKEN_MINUTES {
                names.push(format!("plus-de-{MAX_SPOKEN_MINUTES}-minutes"));
            } else {
                names.push(format!("minutes-{minutes}"));
            }
        }
    }
    names
}

/// Every prompt name an announcement may need (what `scripts/make-prompts.sh` makes).
pub fn all_prompt_names() -> Vec<String> {
    let mut names = vec![
        "vous-etes".to_owned(),
        "personne-en-attente".to_owned(),
        format!("plus-de-{MAX_SPOKEN_POSITION}-personnes"),
        "aucun-conseiller".to_owned(),
        "bientot".to_owned(),
        "temps-estime".to_owned(),
        format!("plus-de-{MAX_SPOKEN_MINUTES}-minutes"),
    ];
    names.extend((1..=MAX_SPOKEN_POSITION).map(|p| format!("position-{p}")));
    names.extend((1..=MAX_SPOKEN_MINUTES).map(|m| format!("minutes-{m}")));
    names
}

/// One prompt encoded with a short pause after it, so that parts join in silence (each part is
/// a stream of its own for the decoder).
fn prompt_clip(pcm: &[i16]) -> anyhow::Result<OpusClip> {
    let mut padded = pcm.to_vec();
    padded.extend(std::iter::repeat_n(0, RATE as usize / 10));
    encode(&padded, 24_000)
}

/// The prompts of a directory (`name.wav` each), encoded.
fn load_prompts(dir: Option<&Path>) -> anyhow::Result<HashMap<String, OpusClip>> {
    let Some(dir) = dir else {
        return Ok(HashMap::new());
    };
    let mut prompts = HashMap::new();
    for name in all_prompt_names() {
        let path = dir.join(format!("{name}.wav"));
        if path.exists() {
            let clip =
                prompt_clip(&read_audio(&path)?).with_context(|| format!("{}", path.display()))?;
            prompts.insert(name, clip);
        }
    }
    if prompts.is_empty() {
        bail!(
            "no prompt in {} (run scripts/make-prompts.sh)",
            dir.display()
        );
    }
    Ok(prompts)
}

/// A WAV (PCM 8/16/24/32-bit or float) or Ogg/Opus file as 48 kHz mono samples.
pub fn read_audio(path: &Path) -> anyhow::Result<Vec<i16>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let pcm = if bytes.starts_with(b"RIFF") {
        read_wav(&bytes)
    } else if bytes.starts_with(b"OggS") {
        read_ogg_opus(&bytes)
    } else {
        bail!("not a WAV or Ogg file")
    }
    .with_context(|| format!("cannot read the audio of {}", path.display()))?;
    let max = MAX_HOLD_SECS * RATE as usize;
    Ok(if pcm.len() > max {
        pcm[..max].to_vec()
    } else {
        pcm
    })
}

fn read_wav(bytes: &[u8]) -> anyhow::Result<Vec<i16>> {
    if bytes.len() < 12 || &bytes[8..12] != b"WAVE" {
        bail!("not a WAVE file");
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut data: Option<&[u8]> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = &bytes[at + 8..(at + 8).saturating_add(size).min(bytes.len())];
        match id {
            b"fmt " if body.len() >= 16 => {
                let tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                // WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format.
                let tag = if tag == 0xfffe && body.len() >= 26 {
                    u16::from_le_bytes([body[24], body[25]])
                } else {
                    tag
                };
                format = Some((tag, channels, rate, bits));
            }
            b"data" => data = Some(body),
            _ => {}
        }
        // Chunks are padded to an even size.
        at += 8 + size + (size & 1);
    }
    let (tag, channels, rate, bits) = format.context("no fmt chunk")?;
    let data = data.context("no data chunk")?;
    if channels == 0 || rate == 0 || !(4_000..=192_000).contains(&rate) {
        bail!("unsupported channels {channels} or rate {rate}");
    }
    let width = usize::from(bits / 8);
    let sample = |b: &[u8]| -> Option<f32> {
        Some(match (tag, bits) {
            (1, 8) => (f32::from(b[0]) - 128.0) / 128.0,
            (1, 16) => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
            (1, 24) => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0,
            (1, 32) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            (3, 32) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => return None,
        })
    };
    let frame = width * usize::from(channels);
    if !matches!((tag, bits), (1, 8 | 16 | 24 | 32) | (3, 32)) {
        bail!("unsupported sample format (tag {tag}, {bits} bits)");
    }
    let mut mono = Vec::with_capacity(data.len() / frame);
    for chunk in data.chunks_exact(frame) {
        let mut sum = 0.0;
        for c in 0..usize::from(channels) {
            sum +=
                sample(&chunk[c * width..(c + 1) * width]).context("unsupported sample format")?;
        }
        mono.push(sum / f32::from(channels));
    }
    Ok(resample(&mono, rate))
}

/// Linear interpolation to 48 kHz, then to 16-bit.
fn resample(mono: &[f32], rate: u32) -> Vec<i16> {
    let to_i16 = |v: f32| (v.clamp(-1.0, 1.0) * 32767.0) as i16;
    if rate == RATE {
        return mono.iter().map(|&v| to_i16(v)).collect();
    }
    let out_len = (mono.len() as u64 * u64::from(RATE) / u64::from(rate)) as usize;
    let step = f64::from(rate) / f64::from(RATE);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let j = pos as usize;
            let frac = (pos - j as f64) as f32;
            let a = mono.get(j).copied().unwrap_or(0.0);
            let b = mono.get(j + 1).copied().unwrap_or(a);
            to_i16(a + (b - a) * frac)
        })
        .collect()
}

/// The Opus packets of an Ogg/Opus file (RFC 7845), decoded to 48 kHz mono.
fn read_ogg_opus(bytes: &[u8]) -> anyhow::Result<Vec<i16>> {
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut at = 0;
    while at + 27 <= bytes.len() {
        if &bytes[at..at + 4] != b"OggS" {
            bail!("broken Ogg page at byte {at}");
        }
        let segments = usize::from(bytes[at + 26]);
        let table = bytes
            .get(at + 27..at + 27 + segments)
            .context("truncated Ogg page")?;
        let mut body = at + 27 + segments;
        for &lace in table {
            let end = body + usize::from(lace);
            partial.extend_from_slice(bytes.get(body..end).context("truncated Ogg page")?);
            body = end;
            if lace < 255 {
                packets.push(std::mem::take(&mut partial));
            }
        }
        at = body;
    }
    let mut packets = packets.into_iter();
    let head = packets.next().context("no OpusHead")?;
    if !head.starts_with(b"OpusHead") || head.len() < 19 {
        bail!("not an Ogg/Opus file");
    }
    let channels = match head[9] {
        1 => opus::Channels::Mono,
        2 => opus::Channels::Stereo,
        n => bail!("{n} channels are not supported"),
    };
    let pre_skip = usize::from(u16::from_le_bytes([head[10], head[11]]));
    let tags = packets.next().context("no OpusTags")?;
    if !tags.starts_with(b"OpusTags") {
        bail!("no OpusTags");
    }
    let mut decoder = opus::Decoder::new(RATE, channels)?;
    let width = if channels == opus::Channels::Stereo {
        2
    } else {
        1
    };
    let mut buffer = vec![0i16; 5760 * width];
    let mut mono = Vec::new();
    for packet in packets {
        let n = decoder.decode(&packet, &mut buffer, false)?;
        for frame in buffer[..n * width].chunks_exact(width) {
            let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
            mono.push((sum / width as i32) as i16);
        }
        if mono.len() > MAX_HOLD_SECS * RATE as usize + pre_skip {
            break;
        }
    }
    Ok(mono.split_off(pre_skip.min(mono.len())))
}

/// 48 kHz mono samples as Opus packets of 20 ms at `bitrate` bit/s (the last one padded
/// with silence).
pub fn encode(pcm: &[i16], bitrate: i32) -> anyhow::Result<OpusClip> {
    let mut encoder = opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Audio)?;
    encoder.set_bitrate(opus::Bitrate::Bits(bitrate))?;
    let mut frames = Vec::with_capacity(pcm.len() / FRAME_SAMPLES + 1);
    let mut last = [0i16; FRAME_SAMPLES];
    for chunk in pcm.chunks(FRAME_SAMPLES) {
        let frame: &[i16] = if chunk.len() == FRAME_SAMPLES {
            chunk
        } else {
            last[..chunk.len()].copy_from_slice(chunk);
            &last
        };
        frames.push(Bytes::from(encoder.encode_vec(frame, 1500)?));
    }
    Ok(OpusClip::new(frames))
}

/// The default hold audio, made here: a slow, soft arpeggio of sine tones (C major pentatonic,
/// each note fading in and out) lasting 12.8 s and looping without a click.
pub fn tone_loop() -> Vec<i16> {
    const NOTES: [f64; 8] = [261.63, 329.63, 392.0, 440.0, 392.0, 329.63, 293.66, 329.63];
    let note_len = (RATE as usize * 8) / 5; // 1.6 s
    let mut out = Vec::with_capacity(note_len * NOTES.len());
    for &freq in &NOTES {
        for i in 0..note_len {
            let t = i as f64 / f64::from(RATE);
            let x = i as f64 / note_len as f64;
            // A smooth rise and a long fall: silent at both ends, so notes join cleanly.
            let envelope = (std::f64::consts::PI * x).sin().powi(2);
            let tone = (std::f64::consts::TAU * freq * t).sin()
                + 0.3 * (std::f64::consts::TAU * freq * 2.0 * t).sin();
            out.push((tone * envelope * 0.12 * 32767.0 / 1.3) as i16);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn a_stereo_22050_wav_becomes_48k_mono() {
        let samples: Vec<i16> = (0..22050 * 2)
            .map(|i| if i % 2 == 0 { 1000 } else { 3000 })
            .collect();
        let pcm = read_wav(&wav(22050, 2, &samples)).unwrap();
        assert!((47_990..=48_000).contains(&pcm.len()), "{}", pcm.len());
        assert!(pcm[100..200].iter().all(|&s| (1990..=2010).contains(&s)));
        assert!(read_wav(b"RIFF\0\0\0\0WAVEjunk").is_err());
    }

    #[test]
    fn the_tone_loop_encodes_to_valid_opus_of_20_ms_packets() {
        let pcm = tone_loop();
        let clip = encode(&pcm, 16_000).unwrap();
        assert_eq!(clip.len(), pcm.len().div_ceil(FRAME_SAMPLES));
        let mut decoder = opus::Decoder::new(RATE, opus::Channels::Mono).unwrap();
        let mut out = vec![0i16; 5760];
        let mut energy = 0.0f64;
        for frame in clip.frames() {
            let n = decoder.decode(frame, &mut out, false).unwrap();
            assert_eq!(n, FRAME_SAMPLES);
            energy += out[..n].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
        }
        let rms = (energy / pcm.len() as f64).sqrt() / 32768.0;
        let dbfs = 20.0 * rms.log10();
        assert!((-35.0..-15.0).contains(&dbfs), "{dbfs}");
    }

    #[test]
    fn announcements_name_their_prompts_and_need_them_all() {
        assert_eq!(
            announcement_prompts(3, Some(270)),
            [
                "vous-etes",
                "position-3",
                "personne-en-attente",
                "temps-estime",
                "minutes-5"
            ]
        );
        assert_eq!(
            announcement_prompts(25, Some(20)),
            ["plus-de-20-personnes", "bientot"]
        );
        assert_eq!(
            announcement_prompts(1, None),
            [
                "vous-etes",
                "position-1",
                "personne-en-attente",
                "aucun-conseiller"
            ]
        );
        let names = all_prompt_names();
        for p in [1, 20, 21] {
            for eta in [None, Some(10), Some(60), Some(1800), Some(1801)] {
                for name in announcement_prompts(p, eta) {
                    assert!(names.contains(&name), "{name}");
                }
            }
        }
        let mut audio = WaitAudio::default();
        assert!(audio.announcement(1, None).is_none());
        for name in announcement_prompts(1, None) {
            audio
                .prompts
                .insert(name, prompt_clip(&[1000; 4800]).unwrap());
        }
        let clip = audio.announcement(1, None).unwrap();
        // Four parts of 0.1 s, each followed by 0.1 s of pause: 0.8 s.
        assert_eq!(clip.len(), 40);
    }
}
