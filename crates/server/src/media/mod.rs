//! Media shards of the server: one thread and one UDP port each, started from the `[media]`
//! configuration, with rooms placed on the least loaded shard.

mod driver;
mod handle;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use handle::{DriverStats, ShardError, ShardHandle};
use relais_media::MediaEvent;

use crate::config::MediaConfig;
use crate::metrics::MediaMetrics;

/// Every media shard of the server.
#[derive(Debug)]
pub struct MediaShards {
    shards: Vec<ShardHandle>,
    rooms: Vec<AtomicUsize>,
    /// The wait's audio (hold audio, announcements) the shards play to waiting kiosks.
    audio: std::sync::Arc<crate::audio::WaitAudio>,
}

impl MediaShards {
    /// Starts `media.shards` shards (one per core when 0) on consecutive ports from
    /// `media.port` (each an ephemeral port when it is 0).
    pub fn start(
        config: &MediaConfig,
        events: tokio::sync::mpsc::UnboundedSender<(usize, MediaEvent)>,
        metrics: &MediaMetrics,
    ) -> anyhow::Result<Self> {
        let count = if config.shards == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            config.shards
        };
        let mut shards = Vec::with_capacity(count);
        for index in 0..count {
            let port = if config.port == 0 {
                0
            } else {
                u16::try_from(usize::from(config.port) + index)
                    .map_err(|_| anyhow::anyhow!("media.port + shard index exceeds 65535"))?
            };
            let seed = random_seed()?;
            shards.push(ShardHandle::start(
                index,
                SocketAddr::new(config.bind, port),
                config,
                seed,
                events.clone(),
                metrics.clone(),
            )?);
        }
        let rooms = (0..count).map(|_| AtomicUsize::new(0)).collect();
        Ok(Self {
            shards,
            rooms,
            audio: std::sync::Arc::default(),
        })
    }

    /// With this audio for the wait (none by default: no hold audio, no announcements).
    pub fn with_wait_audio(mut self, audio: crate::audio::WaitAudio) -> Self {
        self.audio = std::sync::Arc::new(audio);
        self
    }

    /// The wait's audio.
    pub fn wait_audio(&self) -> &crate::audio::WaitAudio {
        &self.audio
    }

    /// The shards.
    pub fn shards(&self) -> &[ShardHandle] {
        &self.shards
    }

    /// The shard with the fewest rooms, counted as one more room.
    pub fn place_room(&self) -> &ShardHandle {
        let (index, _) = self
            .rooms
            .iter()
            .enumerate()
            .min_by_key(|(_, rooms)| rooms.load(Ordering::Relaxed))
            .unwrap_or((0, &self.rooms[0]));
        self.rooms[index].fetch_add(1, Ordering::Relaxed);
        &self.shards[index]
    }

    /// Rooms placed on each shard now, by shard index.
    pub fn placed_rooms(&self) -> Vec<usize> {
        self.rooms
            .iter()
            .map(|rooms| rooms.load(Ordering::Relaxed))
            .collect()
    }

    /// A room of shard `index` closed.
    pub fn room_closed(&self, index: usize) {
        if let Some(rooms) = self.rooms.get(index) {
            let _ = rooms.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        }
    }

    /// Stops every shard thread.
    pub fn stop(&self) {
        for shard in &self.shards {
            shard.stop();
        }
    }
}

/// 32 bytes from the operating system's random source, for a shard's ICE credentials.
fn random_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom_fill(&mut seed)?;
    Ok(seed)
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open("/dev/urandom")?;
    file.read_exact(buf)?;
    Ok(())
}
