//! The server's handle on one media shard thread: starting it, and the commands the rest of
//! the server sends it (rooms, joins, subscriptions, renegotiation, statistics), each answered
//! over a oneshot channel.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::eventfd::{EfdFlags, EventFd};
use relais_media::{
    JoinSpec, MediaError, MediaEvent, MediaKinds, PeerId, PeerStats, RoomId, Shard, ShardConfig,
    ShardStats,
};
use tokio::sync::oneshot;

use super::driver::{ShardMetrics, run};
use super::udp;
use crate::metrics::MediaMetrics;

/// A request to the shard thread.
pub(super) enum Command {
    CreateRoom(RoomId, oneshot::Sender<Result<(), MediaError>>),
    CloseRoom(RoomId, oneshot::Sender<Result<(), MediaError>>),
    Join(
        RoomId,
        JoinSpec,
        String,
        oneshot::Sender<Result<(PeerId, String), MediaError>>,
    ),
    AddCandidate(PeerId, String, oneshot::Sender<Result<(), MediaError>>),
    RemovePeer(PeerId, oneshot::Sender<Result<(), MediaError>>),
    Subscribe(
        PeerId,
        PeerId,
        MediaKinds,
        oneshot::Sender<Result<(), MediaError>>,
    ),
    Unsubscribe(PeerId, PeerId, oneshot::Sender<Result<(), MediaError>>),
    AddReceiveSlots(PeerId, usize, oneshot::Sender<Result<String, MediaError>>),
    AcceptAnswer(PeerId, String, oneshot::Sender<Result<(), MediaError>>),
    Stats(oneshot::Sender<DriverStats>),
    PeerStats(PeerId, oneshot::Sender<Option<PeerStats>>),
    /// Hold audio on (with this music, or silence) or off.
    Hold(
        PeerId,
        Option<Option<std::sync::Arc<relais_media::OpusClip>>>,
    ),
    Announce(PeerId, std::sync::Arc<relais_media::OpusClip>),
    Meter(PeerId, bool),
    Stop,
}

/// Counters of the shard and of its socket.
#[derive(Debug, Clone, Default)]
pub struct DriverStats {
    pub shard: ShardStats,
    /// Datagrams the kernel refused to send.
    pub send_dropped: u64,
    /// recvmmsg calls that returned datagrams, and the datagrams they returned.
    pub receive_batches: u64,
    pub send_batches: u64,
    /// ICE-over-TCP connections open now, and packets dropped because one's queue was full.
    pub tcp_connections: usize,
    pub tcp_dropped: u64,
}

/// Why a command could not reach the shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("media shard {0} is not running")]
    Stopped(usize),
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// The server's handle on one shard thread.
#[derive(Clone)]
pub struct ShardHandle {
    index: usize,
    local_addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    wake: Arc<EventFd>,
}

impl std::fmt::Debug for ShardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardHandle")
            .field("index", &self.index)
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl ShardHandle {
    /// Binds the socket and starts the shard's thread. Events go to `events` tagged with the
    /// shard's index.
    pub fn start(
        index: usize,
        bind: SocketAddr,
        media: &crate::config::MediaConfig,
        credential_seed: [u8; 32],
        events: tokio::sync::mpsc::UnboundedSender<(usize, MediaEvent)>,
        metrics: MediaMetrics,
    ) -> anyhow::Result<Self> {
        let advertised_ips = &media.public_ips;
        let consent_timeout = Duration::from_secs(media.consent_timeout_secs);
        let ice_tcp = media.ice_tcp;
        let socket = UdpSocket::bind(bind)
            .map_err(|err| anyhow::anyhow!("cannot bind media shard {index} to {bind}: {err}"))?;
        socket.set_nonblocking(true)?;
        let tcp = if ice_tcp {
            let at = socket.local_addr()?;
            Some(super::tcp::TcpSide::bind(at).map_err(|err| {
                anyhow::anyhow!(
                    "cannot listen for ICE over TCP on media shard {index} at {at}: {err}"
                )
            })?)
        } else {
            None
        };
        if let Err(err) = udp::enable_receive_reports(&socket) {
            tracing::warn!(shard = index, error = %err, "no kernel receive timestamps or drop counts: residence time and receive overflows are not measured");
        }
        let (receive_buffer, send_buffer) = udp::size_buffers(&socket);
        if receive_buffer < udp::SOCKET_BUFFER {
            tracing::warn!(
                shard = index,
                receive_buffer,
                wanted = udp::SOCKET_BUFFER,
                "the media socket's receive buffer is smaller than wanted; raise net.core.rmem_max"
            );
        }
        let local_addr = socket.local_addr()?;
        let advertised = if advertised_ips.is_empty() {
            vec![local_addr]
        } else {
            advertised_ips
                .iter()
                .map(|ip| SocketAddr::new(*ip, local_addr.port()))
                .collect()
        };
        let mut config = ShardConfig::new(
            advertised,
            credential_seed,
            relais_media::DtlsCertificate::generate()?,
        );
        config.consent_timeout = consent_timeout;
        let shard = Shard::new(config)?;
        let wake = Arc::new(EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK)?);
        let (commands, inbox) = mpsc::channel();
        let thread_wake = Arc::clone(&wake);
        std::thread::Builder::new()
            .name(format!("media-shard-{index}"))
            .spawn(move || {
                let metrics = ShardMetrics::new(&metrics, index);
                run(
                    index,
                    socket,
                    tcp,
                    shard,
                    inbox,
                    thread_wake,
                    events,
                    metrics,
                )
            })?;
        tracing::info!(shard = index, %local_addr, receive_buffer, send_buffer, ice_tcp, "media shard started");
        Ok(Self {
            index,
            local_addr,
            commands,
            wake,
        })
    }

    /// The shard's UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shard's position among the server's shards.
    pub fn index(&self) -> usize {
        self.index
    }

    fn send(&self, command: Command) -> Result<(), ShardError> {
        self.commands
            .send(command)
            .map_err(|_| ShardError::Stopped(self.index))?;
        let _ = self.wake.write(1);
        Ok(())
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ShardError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.map_err(|_| ShardError::Stopped(self.index))
    }

    pub async fn create_room(&self, room: RoomId) -> Result<(), ShardError> {
        Ok(self.ask(|tx| Command::CreateRoom(room, tx)).await??)
    }

    pub async fn close_room(&self, room: RoomId) -> Result<(), ShardError> {
        Ok(self.ask(|tx| Command::CloseRoom(room, tx)).await??)
    }

    /// Adds a participant from its SDP offer; returns its peer id and the SDP answer.
    pub async fn join(
        &self,
        room: RoomId,
        spec: JoinSpec,
        offer: String,
    ) -> Result<(PeerId, String), ShardError> {
        Ok(self
            .ask(|tx| Command::Join(room, spec, offer, tx))
            .await??)
    }

    pub async fn add_candidate(&self, peer: PeerId, candidate: String) -> Result<(), ShardError> {
        Ok(self
            .ask(|tx| Command::AddCandidate(peer, candidate, tx))
            .await??)
    }

    pub async fn remove_peer(&self, peer: PeerId) -> Result<(), ShardError> {
        Ok(self.ask(|tx| Command::RemovePeer(peer, tx)).await??)
    }

    /// `subscriber` receives `kinds` of `publisher`'s media (both peers of this shard).
    pub async fn subscribe(
        &self,
        subscriber: PeerId,
        publisher: PeerId,
        kinds: MediaKinds,
    ) -> Result<(), ShardError> {
        Ok(self
            .ask(|tx| Command::Subscribe(subscriber, publisher, kinds, tx))
            .await??)
    }

    /// `subscriber` no longer receives `publisher`.
    pub async fn unsubscribe(
        &self,
        subscriber: PeerId,
        publisher: PeerId,
    ) -> Result<(), ShardError> {
        Ok(self
            .ask(|tx| Command::Unsubscribe(subscriber, publisher, tx))
            .await??)
    }

    /// Offers a connected peer `more` receive slots: the SDP offer for its client.
    pub async fn add_receive_slots(&self, peer: PeerId, more: usize) -> Result<String, ShardError> {
        Ok(self
            .ask(|tx| Command::AddReceiveSlots(peer, more, tx))
            .await??)
    }

    /// The client's answer to an offer of [`ShardHandle::add_receive_slots`].
    pub async fn accept_answer(&self, peer: PeerId, answer: String) -> Result<(), ShardError> {
        Ok(self
            .ask(|tx| Command::AcceptAnswer(peer, answer, tx))
            .await??)
    }

    pub async fn stats(&self) -> Result<DriverStats, ShardError> {
        self.ask(Command::Stats).await
    }

    pub async fn peer_stats(&self, peer: PeerId) -> Result<Option<PeerStats>, ShardError> {
        self.ask(|tx| Command::PeerStats(peer, tx)).await
    }

    /// `peer` hears hold audio (`Some(music)`; `Some(None)`: silence between announcements) or
    /// no longer (`None`).
    pub fn hold(
        &self,
        peer: PeerId,
        music: Option<Option<std::sync::Arc<relais_media::OpusClip>>>,
    ) -> Result<(), ShardError> {
        self.send(Command::Hold(peer, music))
    }

    /// Speaks `clip` into the hold audio of `peer`.
    pub fn announce(
        &self,
        peer: PeerId,
        clip: std::sync::Arc<relais_media::OpusClip>,
    ) -> Result<(), ShardError> {
        self.send(Command::Announce(peer, clip))
    }

    /// Measures what `peer` publishes (reported as input reports), or stops.
    pub fn meter(&self, peer: PeerId, on: bool) -> Result<(), ShardError> {
        self.send(Command::Meter(peer, on))
    }

    /// Asks the thread to stop (peers are dropped without goodbye).
    pub fn stop(&self) {
        let _ = self.send(Command::Stop);
    }
}
