//! A UDP relay between one client and the server that drops chosen RTP packets from the client,
//! to prove lost packets are recovered by NACK and retransmission.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// What the relay did.
#[derive(Debug, Default)]
pub struct RelayLog {
    /// Sequence numbers of the RTP packets it dropped (first transmissions only).
    pub dropped: Vec<u16>,
}

/// A running relay.
pub struct Relay {
    /// Where the client should send (replaces the server's candidate in the answer).
    pub addr: SocketAddr,
    pub log: Arc<Mutex<RelayLog>>,
}

/// Whether a datagram is RTP (not RTCP, STUN or DTLS), by RFC 7983 and RFC 5761.
fn rtp_sequence(datagram: &[u8]) -> Option<u16> {
    if datagram.len() < 12 || !(128..=191).contains(&datagram[0]) {
        return None;
    }
    let pt = datagram[1] & 0x7f;
    if (64..=95).contains(&pt) {
        return None;
    }
    Some(u16::from_be_bytes([datagram[2], datagram[3]]))
}

impl Relay {
    /// Relays to `server`, dropping the first transmission of every video-sized RTP packet
    /// whose sequence number is a multiple of `drop_every`.
    pub async fn start(server: SocketAddr, drop_every: u16) -> Relay {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = front.local_addr().unwrap();
        let log = Arc::new(Mutex::new(RelayLog::default()));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        {
            let (front, back, log, client) = (
                Arc::clone(&front),
                Arc::clone(&back),
                Arc::clone(&log),
                Arc::clone(&client),
            );
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let mut seen = std::collections::BTreeSet::new();
                while let Ok((n, from)) = front.recv_from(&mut buf).await {
                    *client.lock().unwrap() = Some(from);
                    let data = &buf[..n];
                    if n > 600
                        && let Some(seq) = rtp_sequence(data)
                        && seq % drop_every == 0
                        && seen.insert(seq)
                    {
                        log.lock().unwrap().dropped.push(seq);
                        continue;
                    }
                    let _ = back.send_to(data, server).await;
                }
            });
        }
        {
            let (front, back, client) =
                (Arc::clone(&front), Arc::clone(&back), Arc::clone(&client));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, _)) = back.recv_from(&mut buf).await {
                    let to = *client.lock().unwrap();
                    if let Some(to) = to {
                        let _ = front.send_to(&buf[..n], to).await;
                    }
                }
            });
        }
        Relay { addr, log }
    }

    /// Rewrites the server's host candidate in an SDP answer to point at the relay.
    pub fn rewrite_answer(&self, answer: &str, server: SocketAddr) -> String {
        answer.replace(
            &format!("{} {} typ host", server.ip(), server.port()),
            &format!("{} {} typ host", self.addr.ip(), self.addr.port()),
        )
    }
}
