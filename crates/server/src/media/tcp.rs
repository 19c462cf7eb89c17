//! ICE over TCP, passive side (RFC 6544): a shard also listens on TCP at its UDP port number,
//! for browsers that reach the server but may send no UDP. Each connection carries the
//! peer's STUN, DTLS, RTP and RTCP packets framed by a two-byte length (RFC 4571); a frame is
//! handed to the shard as a datagram from the connection's remote address, and what the shard
//! sends to that address goes back framed on the connection. The shard learns a connection's
//! address only from an authenticated binding request, as for UDP, so an unauthenticated
//! connection carries nothing and is closed after `IDLE`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use relais_media::BytesMut;

/// Connections one shard holds at most; more are closed as soon as they are accepted.
pub(super) const MAX_CONNECTIONS: usize = 1024;
/// Bytes waiting to be written on one connection at most; beyond, packets are dropped (as a
/// full UDP send buffer would).
const MAX_PENDING: usize = 1 << 20;
/// A connection that brings nothing for this long is closed (consent checks come every few
/// seconds on a live one).
const IDLE: Duration = Duration::from_secs(30);
/// The largest frame: a length of two bytes.
const MAX_FRAME: usize = u16::MAX as usize;

struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet a whole frame.
    incoming: Vec<u8>,
    /// Framed packets not yet written.
    outgoing: Vec<u8>,
    last_read: Instant,
}

/// The TCP side of a shard: its listener and connections, by remote address.
pub(super) struct TcpSide {
    listener: TcpListener,
    connections: HashMap<SocketAddr, Connection>,
    /// Packets dropped because a connection's queue was full.
    pub(super) dropped: u64,
}

impl TcpSide {
    /// Listens on `addr` (the shard's UDP address: same IP and port number).
    pub(super) fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            connections: HashMap::new(),
            dropped: 0,
        })
    }

    pub(super) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The listener's and every connection's descriptor, with whether it has bytes to write.
    pub(super) fn descriptors(&self) -> Vec<(BorrowedFd<'_>, bool)> {
        let mut out = Vec::with_capacity(1 + self.connections.len());
        out.push((self.listener.as_fd(), false));
        for connection in self.connections.values() {
            out.push((connection.stream.as_fd(), !connection.outgoing.is_empty()));
        }
        out
    }

    /// Accepts what is waiting, reads every connection, hands each whole frame to `deliver`,
    /// writes what is queued, and closes connections that ended, failed or stayed silent.
    pub(super) fn service(&mut self, now: Instant, mut deliver: impl FnMut(SocketAddr, BytesMut)) {
        loop {
            match self.listener.accept() {
                Ok((stream, from)) => {
                    if self.connections.len() >= MAX_CONNECTIONS
                        || stream.set_nonblocking(true).is_err()
                    {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.connections.insert(
                        from,
                        Connection {
                            stream,
                            incoming: Vec::new(),
                            outgoing: Vec::new(),
                            last_read: now,
                        },
                    );
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(error = %err, "media TCP accept failed");
                    break;
                }
            }
        }
        let mut closed = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        for (from, connection) in &mut self.connections {
            let alive = read_frames(connection, &mut buffer, now, |frame| {
                deliver(*from, BytesMut::from(frame))
            }) && write_pending(connection);
            if !alive || now.saturating_duration_since(connection.last_read) > IDLE {
                closed.push(*from);
            }
        }
        for from in closed {
            self.connections.remove(&from);
        }
    }

    /// Queues `payload` framed on the connection from `to`; `false` when `to` is no TCP
    /// connection (the caller sends it over UDP).
    pub(super) fn send(&mut self, to: SocketAddr, payload: &[u8]) -> bool {
        let Some(connection) = self.connections.get_mut(&to) else {
            return false;
        };
        let Ok(length) = u16::try_from(payload.len()) else {
            self.dropped += 1;
            return true;
        };
        if connection.outgoing.len() + payload.len() + 2 > MAX_PENDING {
            self.dropped += 1;
            return true;
        }
        connection.outgoing.extend_from_slice(&length.to_be_bytes());
        connection.outgoing.extend_from_slice(payload);
        true
    }

    /// Writes what is queued on every connection.
    pub(super) fn flush(&mut self) {
        self.connections
            .retain(|_, connection| connection.outgoing.is_empty() || write_pending(connection));
    }

    /// Connections open now.
    pub(super) fn connections(&self) -> usize {
        self.connections.len()
    }
}

/// Reads what the connection has and hands each whole frame on; `false` once it ended or a
/// frame cannot be one.
fn read_frames(
    connection: &mut Connection,
    buffer: &mut [u8],
    now: Instant,
    mut frame: impl FnMut(&[u8]),
) -> bool {
    loop {
        match connection.stream.read(buffer) {
            Ok(0) => return false,
            Ok(read) => {
                connection.last_read = now;
                connection.incoming.extend_from_slice(&buffer[..read]);
                let mut start = 0;
                while let Some(header) = connection.incoming.get(start..start + 2) {
                    let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
                    let Some(body) = connection.incoming.get(start + 2..start + 2 + length) else {
                        break;
                    };
                    if !body.is_empty() {
                        frame(body);
                    }
                    start += 2 + length;
                }
                connection.incoming.drain(..start);
                if connection.incoming.len() > MAX_FRAME + 2 {
                    return false;
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Writes as much of the queue as the socket takes; `false` once the connection failed.
fn write_pending(connection: &mut Connection) -> bool {
    while !connection.outgoing.is_empty() {
        match connection.stream.write(&connection.outgoing) {
            Ok(0) => return false,
            Ok(written) => {
                connection.outgoing.drain(..written);
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Adds, after each UDP host candidate of `sdp`, the passive TCP candidate at the same address
/// and `port` (RFC 6544), with a lower priority so that UDP wins where it works.
pub(super) fn with_tcp_candidates(sdp: &str, port: u16) -> String {
    let mut out = String::with_capacity(sdp.len() + 256);
    for line in sdp.split_inclusive('\n') {
        out.push_str(line);
        let text = line.trim_end();
        let Some(candidate) = text.strip_prefix("a=candidate:") else {
            continue;
        };
        let fields: Vec<&str> = candidate.split(' ').collect();
        // foundation component transport priority address port "typ" type ...
        if fields.len() < 8
            || !fields[2].eq_ignore_ascii_case("udp")
            || fields[6] != "typ"
            || fields[7] != "host"
        {
            continue;
        }
        let component: u32 = fields[1].parse().unwrap_or(1);
        let priority = (90u32 << 24) | (0xffff << 8) | (256 - component.min(255));
        out.push_str(&format!(
            "a=candidate:tcp{} {} tcp {} {} {} typ host tcptype passive\r\n",
            fields[0], fields[1], priority, fields[4], port
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_udp_host_candidate_gets_a_passive_tcp_one_after_it() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 2130706431 198.18.0.1 40000 typ host\r\na=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:1 1 udp 2130706431 198.18.0.1 40000 typ host\r\n";
        let out = with_tcp_candidates(sdp, 40000);
        assert_eq!(
            out.matches(
                "a=candidate:tcp1 1 tcp 1526726655 198.18.0.1 40000 typ host tcptype passive\r\n"
            )
            .count(),
            2,
            "{out}"
        );
        let lines: Vec<&str> = out.lines().collect();
        let udp = lines.iter().position(|l| l.contains(" udp ")).unwrap();
        assert!(lines[udp + 1].contains(" tcp "), "right after its UDP one");
        // Nothing else changes.
        assert_eq!(
            out.replace(
                "a=candidate:tcp1 1 tcp 1526726655 198.18.0.1 40000 typ host tcptype passive\r\n",
                ""
            ),
            sdp
        );
    }

    #[test]
    fn frames_are_split_out_whole_across_reads_and_written_back_framed() {
        let mut side = TcpSide::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = side.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        // Two frames, the second cut across two writes; an empty frame is skipped.
        client.write_all(&[0, 3, 1, 2, 3, 0, 0, 0, 4, 9]).unwrap();
        let mut got: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let start = Instant::now();
        while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
            side.service(Instant::now(), |from, frame| {
                got.push((from, frame.to_vec()))
            });
        }
        client.write_all(&[8, 7, 6]).unwrap();
        while got.len() < 2 && start.elapsed() < Duration::from_secs(5) {
            side.service(Instant::now(), |from, frame| {
                got.push((from, frame.to_vec()))
            });
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, [1, 2, 3]);
        assert_eq!(got[1].1, [9, 8, 7, 6]);
        let from = got[0].0;
        assert_eq!(from, client.local_addr().unwrap());
        assert!(side.send(from, &[5, 5]));
        assert!(
            !side.send("127.0.0.1:9".parse().unwrap(), &[1]),
            "not a connection"
        );
        side.flush();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).unwrap();
        assert_eq!(back, [0, 2, 5, 5]);
        // A length that can never be met is not held forever: the connection closes when it
        // ends.
        drop(client);
        let start = Instant::now();
        while side.connections() > 0 && start.elapsed() < Duration::from_secs(5) {
            side.service(Instant::now(), |_, _| {});
        }
        assert_eq!(side.connections(), 0);
    }
}
