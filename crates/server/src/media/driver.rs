//! The IO shell of one media shard: the thread that owns the UDP socket and the sans-IO
//! [`relais_media::Shard`], reads and writes datagrams in batches, runs the shard's timers, and
//! carries out the commands of its handle (`handle.rs`, woken through an eventfd).

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use relais_media::{BytesMut, MediaEvent, Shard, ShardStats};

use super::handle::{Command, DriverStats};
use super::tcp::{TcpSide, with_tcp_candidates};
use super::udp;
use crate::metrics::MediaMetrics;

/// Longest the loop sleeps without a timer (commands and datagrams wake it earlier).
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Longest a batch's outgoing datagrams wait while the rest of the batch is processed.
const FLUSH_EVERY: Duration = Duration::from_micros(200);

/// How often the shard's counters are copied to Prometheus.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// The Prometheus series of one shard, updated from its thread.
pub(super) struct ShardMetrics {
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
    hold_packets: prometheus::IntCounter,
    peers: prometheus::IntGauge,
    rooms: prometheus::IntGauge,
    /// What was published last, to add only the difference to the counters.
    last: ShardStats,
    last_send_dropped: u64,
    last_overflowed: u32,
    published_at: Instant,
}

impl ShardMetrics {
    pub(super) fn new(metrics: &MediaMetrics, index: usize) -> Self {
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
            hold_packets: metrics.hold_packets.with_label_values(&labels),
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
            (&self.hold_packets, current.hold_packets, last.hold_packets),
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

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    index: usize,
    socket: UdpSocket,
    mut tcp: Option<TcpSide>,
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
                Ok(command) => handle_command(&mut shard, command, &stats, tcp.as_ref()),
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
                    drain(
                        &mut shard,
                        &socket,
                        &mut tcp,
                        &mut sender,
                        &mut outgoing,
                        &mut stats,
                    );
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
            drain(
                &mut shard,
                &socket,
                &mut tcp,
                &mut sender,
                &mut outgoing,
                &mut stats,
            );
            metrics.observe_sent(&mut waiting, unix_now());
            // A short batch emptied the socket: what arrived since wakes `poll` at once, and
            // an idle socket costs no extra `recvmmsg` that would only say EAGAIN.
            if read < udp::BATCH {
                break;
            }
        }
        if let Some(side) = tcp.as_mut() {
            let now = Instant::now();
            side.service(now, |from, data| shard.handle_datagram(now, from, data));
        }
        let now = Instant::now();
        if shard.poll_timeout().is_some_and(|due| due <= now) {
            shard.handle_timeout(now);
        }
        drain(
            &mut shard,
            &socket,
            &mut tcp,
            &mut sender,
            &mut outgoing,
            &mut stats,
        );
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
        let mut fds = vec![
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake.as_fd(), PollFlags::POLLIN),
        ];
        if let Some(side) = tcp.as_ref() {
            for (fd, writing) in side.descriptors() {
                let flags = if writing {
                    PollFlags::POLLIN | PollFlags::POLLOUT
                } else {
                    PollFlags::POLLIN
                };
                fds.push(PollFd::new(fd, flags));
            }
        }
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

fn handle_command(shard: &mut Shard, command: Command, stats: &DriverStats, tcp: Option<&TcpSide>) {
    let now = Instant::now();
    // With ICE over TCP, what the shard writes into an SDP also names its TCP candidate.
    let tcp_port = tcp
        .and_then(|side| side.local_addr().ok())
        .map(|a| a.port());
    let add_tcp = |sdp: String| match tcp_port {
        Some(port) => with_tcp_candidates(&sdp, port),
        None => sdp,
    };
    match command {
        Command::CreateRoom(room, reply) => {
            let _ = reply.send(shard.create_room(room));
        }
        Command::CloseRoom(room, reply) => {
            let _ = reply.send(shard.close_room(now, room));
        }
        Command::Join(room, spec, offer, reply) => {
            let joined = shard.join(now, room, &spec, &offer);
            let _ = reply.send(joined.map(|(peer, answer)| (peer, add_tcp(answer))));
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
            let _ = reply.send(shard.add_receive_slots(now, peer, more).map(add_tcp));
        }
        Command::AcceptAnswer(peer, answer, reply) => {
            let _ = reply.send(shard.accept_answer(now, peer, &answer));
        }
        Command::Stats(reply) => {
            let mut out = stats.clone();
            out.shard = shard.stats();
            out.tcp_connections = tcp.map_or(0, TcpSide::connections);
            let _ = reply.send(out);
        }
        Command::PeerStats(peer, reply) => {
            let _ = reply.send(shard.peer_stats(now, peer));
        }
        Command::Hold(peer, Some(music)) => {
            if let Err(err) = shard.play_hold(now, peer, music) {
                tracing::debug!(error = %err, "no hold audio for this peer");
            }
        }
        Command::Hold(peer, None) => shard.stop_hold(peer),
        Command::Announce(peer, clip) => {
            let _ = shard.announce(peer, clip);
        }
        Command::Meter(peer, on) => {
            if let Err(err) = shard.meter(now, peer, on) {
                tracing::debug!(error = %err, "cannot meter this peer");
            }
        }
        Command::Stop => {}
    }
}

fn drain(
    shard: &mut Shard,
    socket: &UdpSocket,
    tcp: &mut Option<TcpSide>,
    sender: &mut udp::Sender,
    outgoing: &mut Vec<(SocketAddr, BytesMut)>,
    stats: &mut DriverStats,
) {
    while let Some(transmit) = shard.poll_transmit() {
        if let Some(side) = tcp.as_mut()
            && side.send(transmit.to, &transmit.payload)
        {
            continue;
        }
        outgoing.push((transmit.to, transmit.payload));
    }
    if let Some(side) = tcp.as_mut() {
        side.flush();
        stats.tcp_dropped = side.dropped;
    }
    if outgoing.is_empty() {
        return;
    }
    let (_, dropped) = sender.send(socket, outgoing);
    stats.send_dropped += dropped as u64;
    stats.send_batches += 1;
    outgoing.clear();
}
