//! The IO shell of one media shard: a thread that owns the UDP socket and the sans-IO
//! [`relais_media::Shard`], reads and writes datagrams in batches, runs the shard's timers, and
//! takes commands from the rest of the server over a channel (woken through an eventfd).

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use relais_media::{
    BytesMut, JoinSpec, MediaError, MediaEvent, MediaKinds, PeerId, PeerStats, RoomId, Shard,
    ShardConfig, ShardStats,
};
use tokio::sync::oneshot;

use super::udp;
use crate::metrics::MediaMetrics;

/// Longest the loop sleeps without a timer (commands and datagrams wake it earlier).
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// A request to the shard thread.
enum Command {
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
        advertised_ips: &[std::net::IpAddr],
        credential_seed: [u8; 32],
        consent_timeout: Duration,
        events: tokio::sync::mpsc::UnboundedSender<(usize, MediaEvent)>,
        metrics: MediaMetrics,
    ) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind(bind)
            .map_err(|err| anyhow::anyhow!("cannot bind media shard {index} to {bind}: {err}"))?;
        socket.set_nonblocking(true)?;
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
                run(index, socket, shard, inbox, thread_wake, events, metrics)
            })?;
        tracing::info!(shard = index, %local_addr, receive_buffer, send_buffer, "media shard started");
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

    /// Asks the thread to stop (peers are dropped without goodbye).
    pub fn stop(&self) {
        let _ = self.send(Command::Stop);
    }
}

/// Longest a batch's outgoing datagrams wait while the rest of the batch is processed.
const FLUSH_EVERY: Duration = Duration::from_micros(200);

/// How often the shard's counters are copied to Prometheus.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// The Prometheus series of one shard, updated from its thread.
struct ShardMetrics {
    residence: prometheus::local::LocalHistogram,
    datagrams_received: prometheus::IntCounter,
    datagrams_sent: prometheus::IntCounter,
    bytes_received: prometheus::IntCounter,
    bytes_sent: prometheus::IntCounter,
    rtp_forwarded: prometheus::IntCounter,
    send_dropped: prometheus::IntCounter,
    receive_overflow: prometheus::IntCounter,
    unknown_dropped: prometheus::IntCounter,
    consent_expired: prometheus::IntCounter,
    peers: prometheus::IntGauge,
    rooms: prometheus::IntGauge,
    /// What was published last, to add only the difference to the counters.
    last: ShardStats,
    last_send_dropped: u64,
    last_overflowed: u32,
    published_at: Instant,
}

impl ShardMetrics {
    fn new(metrics: &MediaMetrics, index: usize) -> Self {
        let label = index.to_string();
        let labels = [label.as_str()];
        Self {
            residence: metrics.residence_seconds.with_label_values(&labels).local(),
            datagrams_received: metrics.datagrams_received.with_label_values(&labels),
            datagrams_sent: metrics.datagrams_sent.with_label_values(&labels),
            bytes_received: metrics.bytes_received.with_label_values(&labels),
            bytes_sent: metrics.bytes_sent.with_label_values(&labels),
            rtp_forwarded: metrics.rtp_forwarded.with_label_values(&labels),
            send_dropped: metrics.send_dropped.with_label_values(&labels),
            receive_overflow: metrics.receive_overflow.with_label_values(&labels),
            unknown_dropped: metrics.unknown_dropped.with_label_values(&labels),
            consent_expired: metrics.consent_expired.with_label_values(&labels),
            peers: metrics.peers.with_label_values(&labels),
            rooms: metrics.rooms.with_label_values(&labels),
            last: ShardStats::default(),
            last_send_dropped: 0,
            last_overflowed: 0,
            published_at: Instant::now(),
        }
    }

    /// Records the residence of the datagrams that arrived at `arrivals` and whose every
    /// consequence was sent by `sent_at` (Unix time); empties `arrivals`.
    fn observe_sent(&self, arrivals: &mut Vec<Duration>, sent_at: Duration) {
        for arrival in arrivals.drain(..) {
            self.residence
                .observe(sent_at.saturating_sub(arrival).as_secs_f64());
        }
    }

    /// Copies the counters to Prometheus at most every [`PUBLISH_EVERY`] (always with `force`).
    fn publish(
        &mut self,
        now: Instant,
        stats: &DriverStats,
        shard: &Shard,
        overflowed: u32,
        force: bool,
    ) {
        if !force && now.duration_since(self.published_at) < PUBLISH_EVERY {
            return;
        }
        self.published_at = now;
        let current = shard.stats();
        let last = &self.last;
        // Each counter moves by what its source counted since the last publication.
        let pairs = [
            (
                &self.datagrams_received,
                current.datagrams_in,
                last.datagrams_in,
            ),
            (
                &self.datagrams_sent,
                current.datagrams_out,
                last.datagrams_out,
            ),
            (&self.bytes_received, current.bytes_in, last.bytes_in),
            (&self.bytes_sent, current.bytes_out, last.bytes_out),
            (
                &self.rtp_forwarded,
                current.rtp_forwarded,
                last.rtp_forwarded,
            ),
            (
                &self.unknown_dropped,
                current.dropped_unknown,
                last.dropped_unknown,
            ),
            (
                &self.consent_expired,
                current.consent_expired,
                last.consent_expired,
            ),
        ];
        for (counter, now, before) in pairs {
            counter.inc_by(now.saturating_sub(before));
        }
        self.send_dropped
            .inc_by(stats.send_dropped.saturating_sub(self.last_send_dropped));
        self.peers
            .set(i64::try_from(current.peers).unwrap_or(i64::MAX));
        self.rooms
            .set(i64::try_from(current.rooms).unwrap_or(i64::MAX));
        self.residence.flush();
        self.last = current;
        self.last_send_dropped = stats.send_dropped;
        self.receive_overflow
            .inc_by(u64::from(overflowed.wrapping_sub(self.last_overflowed)));
        self.last_overflowed = overflowed;
    }
}

fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn run(
    index: usize,
    socket: UdpSocket,
    mut shard: Shard,
    inbox: mpsc::Receiver<Command>,
    wake: Arc<EventFd>,
    events: tokio::sync::mpsc::UnboundedSender<(usize, MediaEvent)>,
    mut metrics: ShardMetrics,
) {
    let mut receiver = udp::Receiver::new();
    let mut sender = udp::Sender::new();
    let mut outgoing: Vec<(SocketAddr, BytesMut)> = Vec::with_capacity(udp::BATCH * 4);
    let mut stats = DriverStats::default();
    // Arrival times of the datagrams handled since the last send.
    let mut waiting: Vec<Duration> = Vec::with_capacity(udp::BATCH);
    loop {
        // Commands first: they are rare and someone awaits each reply.
        loop {
            match inbox.try_recv() {
                Ok(Command::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                    metrics.publish(Instant::now(), &stats, &shard, receiver.overflowed(), true);
                    tracing::info!(shard = index, "media shard stopped");
                    return;
                }
                Ok(command) => handle_command(&mut shard, command, &stats),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        // Datagrams: read batches until the socket is empty (bounded, so timers still run).
        // What a batch causes is sent as it goes, at least every FLUSH_EVERY, so the first
        // datagrams of a burst do not wait for the last ones to be processed.
        for _ in 0..16 {
            let mut flushed_at = Instant::now();
            let result = receiver.receive(&socket, |from, data, arrival| {
                let now = Instant::now();
                shard.handle_datagram(now, from, data);
                if let Some(arrival) = arrival {
                    waiting.push(arrival);
                }
                if now.duration_since(flushed_at) >= FLUSH_EVERY {
                    drain(&mut shard, &socket, &mut sender, &mut outgoing, &mut stats);
                    metrics.observe_sent(&mut waiting, unix_now());
                    flushed_at = Instant::now();
                }
            });
            let read = match result {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) => {
                    tracing::warn!(shard = index, error = %err, "media socket receive failed");
                    break;
                }
            };
            stats.receive_batches += 1;
            drain(&mut shard, &socket, &mut sender, &mut outgoing, &mut stats);
            metrics.observe_sent(&mut waiting, unix_now());
            // A short batch emptied the socket: what arrived since wakes `poll` at once, and
            // an idle socket costs no extra `recvmmsg` that would only say EAGAIN.
            if read < udp::BATCH {
                break;
            }
        }
        let now = Instant::now();
        if shard.poll_timeout().is_some_and(|due| due <= now) {
            shard.handle_timeout(now);
        }
        drain(&mut shard, &socket, &mut sender, &mut outgoing, &mut stats);
        metrics.publish(now, &stats, &shard, receiver.overflowed(), false);
        while let Some(event) = shard.poll_event() {
            tracing::debug!(shard = index, ?event, "media event");
            let _ = events.send((index, event));
        }
        // Sleep until a datagram, a command or the next timer.
        let wait = shard
            .poll_timeout()
            .map(|due| due.saturating_duration_since(Instant::now()))
            .unwrap_or(IDLE_WAIT)
            .min(IDLE_WAIT);
        if wait.is_zero() {
            continue;
        }
        let millis = u16::try_from(wait.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(_) => {
                let woken = fds[1]
                    .revents()
                    .is_some_and(|flags| flags.contains(PollFlags::POLLIN));
                if woken {
                    let _ = wake.read();
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => {
                tracing::error!(shard = index, error = %err, "media poll failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn handle_command(shard: &mut Shard, command: Command, stats: &DriverStats) {
    let now = Instant::now();
    match command {
        Command::CreateRoom(room, reply) => {
            let _ = reply.send(shard.create_room(room));
        }
        Command::CloseRoom(room, reply) => {
            let _ = reply.send(shard.close_room(now, room));
        }
        Command::Join(room, spec, offer, reply) => {
            let _ = reply.send(shard.join(now, room, &spec, &offer));
        }
        Command::AddCandidate(peer, candidate, reply) => {
            let _ = reply.send(shard.add_remote_candidate(peer, &candidate));
        }
        Command::RemovePeer(peer, reply) => {
            let _ = reply.send(shard.remove_peer(now, peer));
        }
        Command::Subscribe(subscriber, publisher, kinds, reply) => {
            let _ = reply.send(shard.subscribe(now, subscriber, publisher, kinds));
        }
        Command::Unsubscribe(subscriber, publisher, reply) => {
            let _ = reply.send(shard.unsubscribe(subscriber, publisher));
        }
        Command::AddReceiveSlots(peer, more, reply) => {
            let _ = reply.send(shard.add_receive_slots(now, peer, more));
        }
        Command::AcceptAnswer(peer, answer, reply) => {
            let _ = reply.send(shard.accept_answer(now, peer, &answer));
        }
        Command::Stats(reply) => {
            let mut out = stats.clone();
            out.shard = shard.stats();
            let _ = reply.send(out);
        }
        Command::PeerStats(peer, reply) => {
            let _ = reply.send(shard.peer_stats(now, peer));
        }
        Command::Stop => {}
    }
}

fn drain(
    shard: &mut Shard,
    socket: &UdpSocket,
    sender: &mut udp::Sender,
    outgoing: &mut Vec<(SocketAddr, BytesMut)>,
    stats: &mut DriverStats,
) {
    while let Some(transmit) = shard.poll_transmit() {
        outgoing.push((transmit.to, transmit.payload));
    }
    if outgoing.is_empty() {
        return;
    }
    let (_, dropped) = sender.send(socket, outgoing);
    stats.send_dropped += dropped as u64;
    stats.send_batches += 1;
    outgoing.clear();
}
