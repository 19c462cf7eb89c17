//! Batched UDP for a media shard: one `recvmmsg` reads up to a batch of datagrams, one
//! `sendmmsg` writes up to a batch; both non-blocking. System calls are the dominant cost of
//! forwarding on virtual machines, so the shard amortises them over many packets.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use relais_media::BytesMut;

/// Datagrams read or written per system call at most.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: larger than any path MTU in use.
const DATAGRAM_MAX: usize = 2048;

/// Receive state reused between calls.
pub struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    buffers: Vec<[u8; DATAGRAM_MAX]>,
    meta: Vec<(usize, Option<SocketAddr>)>,
}

impl Receiver {
    pub fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, None),
            buffers: vec![[0u8; DATAGRAM_MAX]; BATCH],
            meta: Vec::with_capacity(BATCH),
        }
    }

    /// Reads what is waiting (up to [`BATCH`] datagrams) and hands each to `each`. Returns how
    /// many were read; 0 when nothing was waiting.
    pub fn receive(
        &mut self,
        socket: &UdpSocket,
        mut each: impl FnMut(SocketAddr, BytesMut),
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
                        self.meta.push((message.bytes, addr));
                    }
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => return Ok(0),
                Err(err) => return Err(std::io::Error::from(err)),
            }
        }
        let count = self.meta.len();
        for (index, &(len, addr)) in self.meta.iter().enumerate() {
            let Some(addr) = addr else { continue };
            // Truncated datagrams (larger than the buffer) are cut; the engine rejects them.
            let len = len.min(DATAGRAM_MAX);
            each(addr, BytesMut::from(&self.buffers[index][..len]));
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
