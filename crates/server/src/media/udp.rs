//! Batched UDP for a media shard: one `recvmmsg` reads up to a batch of datagrams, one
//! `sendmmsg` writes up to a batch; both non-blocking. System calls are the dominant cost of
//! forwarding on virtual machines, so the shard amortises them over many packets.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg,
    sendmmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;
use relais_media::BytesMut;

/// Datagrams read or written per system call at most.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: larger than any path MTU in use.
const DATAGRAM_MAX: usize = 2048;

/// Kernel buffer asked for each direction of a shard's socket. The default (~200 KiB) holds
/// about 150 video packets: a few milliseconds of a busy shard, less than one scheduling hiccup
/// of a shared core.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// Asks the kernel to stamp each received datagram with its arrival time (`SO_TIMESTAMPNS`),
/// which [`Receiver::arrivals`] then reports, and to report how many datagrams it dropped for
/// a full receive buffer (`SO_RXQ_OVFL`), which [`Receiver::overflowed`] reports.
pub fn enable_receive_reports(socket: &UdpSocket) -> std::io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
    setsockopt(socket, sockopt::RxqOvfl, &1).map_err(std::io::Error::from)
}

/// Sizes the socket's receive and send buffers to [`SOCKET_BUFFER`]: beyond the system limit
/// (`net.core.rmem_max`) when the process may (`CAP_NET_ADMIN`), else up to that limit.
/// Returns the sizes the kernel granted (it reports twice what is usable).
pub fn size_buffers(socket: &UdpSocket) -> (usize, usize) {
    if setsockopt(socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if setsockopt(socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::SndBuf, &SOCKET_BUFFER);
    }
    let receive = nix::sys::socket::getsockopt(socket, sockopt::RcvBuf).unwrap_or(0);
    let send = nix::sys::socket::getsockopt(socket, sockopt::SndBuf).unwrap_or(0);
    (receive, send)
}

/// Receive state reused between calls.
pub struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    buffers: Vec<[u8; DATAGRAM_MAX]>,
    meta: Vec<(usize, Option<SocketAddr>, Option<Duration>)>,
    /// The kernel's count of datagrams dropped for a full receive buffer, as last reported.
    overflowed: u32,
}

impl Receiver {
    pub fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(TimeSpec, u32))),
            buffers: vec![[0u8; DATAGRAM_MAX]; BATCH],
            meta: Vec::with_capacity(BATCH),
            overflowed: 0,
        }
    }

    /// Datagrams the kernel dropped because the receive buffer was full, since the socket was
    /// opened (as of the last report the kernel attached to a datagram).
    pub fn overflowed(&self) -> u32 {
        self.overflowed
    }

    /// Reads what is waiting (up to [`BATCH`] datagrams) and hands each to `each`, with the
    /// kernel's arrival time when it stamped one. Returns how many were read; 0 when nothing
    /// was waiting.
    pub fn receive(
        &mut self,
        socket: &UdpSocket,
        mut each: impl FnMut(SocketAddr, BytesMut, Option<Duration>),
    ) -> std::io::Result<usize> {
        self.meta.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
                .buffers
                .iter_mut()
                .map(|buf| [IoSliceMut::new(&mut buf[..])])
                .collect();
            let result = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            );
            match result {
                Ok(messages) => {
                    for message in messages {
                        let addr = message.address.and_then(to_socket_addr);
                        let mut arrival = None;
                        if let Ok(cmsgs) = message.cmsgs() {
                            for cmsg in cmsgs {
                                match cmsg {
                                    ControlMessageOwned::ScmTimestampns(at) => {
                                        arrival = Some(Duration::from(at));
                                    }
                                    ControlMessageOwned::RxqOvfl(count) => {
                                        self.overflowed = self.overflowed.max(count);
                                    }
                                    _ => {}
                                }
                            }
                        }
                        self.meta.push((message.bytes, addr, arrival));
                    }
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => return Ok(0),
                Err(err) => return Err(std::io::Error::from(err)),
            }
        }
        let count = self.meta.len();
        for (index, &(len, addr, arrival)) in self.meta.iter().enumerate() {
            let Some(addr) = addr else { continue };
            // Truncated datagrams (larger than the buffer) are cut; the engine rejects them.
            let len = len.min(DATAGRAM_MAX);
            each(addr, BytesMut::from(&self.buffers[index][..len]), arrival);
        }
        Ok(count)
    }
}

/// Send state reused between calls.
pub struct Sender {
    headers: MultiHeaders<SockaddrStorage>,
}

impl Sender {
    pub fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Sends `queue` (datagram, destination) in batches; returns how many were sent. What the
    /// kernel refuses for lack of buffer space is dropped (media is loss-tolerant; senders
    /// recover through NACK and keyframes) and counted by the caller.
    pub fn send(&mut self, socket: &UdpSocket, queue: &[(SocketAddr, BytesMut)]) -> (usize, usize) {
        let mut sent = 0;
        let mut dropped = 0;
        for chunk in queue.chunks(BATCH) {
            let slices: Vec<[IoSlice<'_>; 1]> = chunk
                .iter()
                .map(|(_, data)| [IoSlice::new(&data[..])])
                .collect();
            let addrs: Vec<Option<SockaddrStorage>> = chunk
                .iter()
                .map(|(addr, _)| Some(SockaddrStorage::from(*addr)))
                .collect();
            let mut offset = 0;
            while offset < chunk.len() {
                let result = sendmmsg(
                    socket.as_raw_fd(),
                    &mut self.headers,
                    slices[offset..].iter(),
                    &addrs[offset..],
                    &[] as &[ControlMessage<'_>],
                    MsgFlags::MSG_DONTWAIT,
                );
                match result {
                    Ok(results) => {
                        let done = results.count();
                        if done == 0 {
                            dropped += chunk.len() - offset;
                            break;
                        }
                        sent += done;
                        offset += done;
                    }
                    Err(Errno::EINTR) => continue,
                    Err(_) => {
                        // The first datagram of the rest failed (unreachable, no buffer): drop
                        // it and carry on with the others.
                        dropped += 1;
                        offset += 1;
                    }
                }
            }
        }
        (sent, dropped)
    }
}

fn to_socket_addr(storage: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    storage.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}
