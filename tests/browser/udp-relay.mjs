// A UDP relay between a browser and the server's media port that drops a share of the
// datagrams both ways and may hold them a while (this kernel has no `netem`): a rural link's
// loss and delay, set and changed while a call runs. The loss is drawn from a seeded generator, so a run can be repeated.
import dgram from 'node:dgram';

export async function startRelay(host, { seed = 7 } = {}) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, host, resolve));
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  let target = null;
  let loss = 0;
  let delayMs = 0;
  let closed = false;
  const counts = { forwarded: 0, dropped: 0, clients: 0 };
  // A browser checks from each of its local addresses: like a NAT, the relay gives each one its
  // own address toward the server, so that what the server answers goes back to the socket
  // that asked (one shared upstream address would hand one socket's answers to another).
  const upstreams = new Map();
  const pass = (out, msg, to) => {
    if (random() < loss) {
      counts.dropped += 1;
      return;
    }
    counts.forwarded += 1;
    const send = () => !closed && out.send(msg, to.port, to.address);
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };
  const upstreamFor = (client) => {
    const key = `${client.address}:${client.port}`;
    let upstream = upstreams.get(key);
    if (!upstream) {
      upstream = dgram.createSocket('udp4');
      upstream.bind(0, host);
      upstream.on('message', (msg, from) => {
        if (target && from.address === target.address && from.port === target.port) pass(socket, msg, client);
      });
      upstream.on('error', () => {});
      upstreams.set(key, upstream);
      counts.clients = upstreams.size;
    }
    return upstream;
  };
  socket.on('message', (msg, from) => {
    if (!target || closed) return;
    pass(upstreamFor({ address: from.address, port: from.port }), msg, target);
  });
  return {
    host,
    port: socket.address().port,
    counts,
    /// Where the server's media port is.
    point(address, port) {
      target = { address, port };
    },
    /// The share of datagrams dropped, each way, from now on.
    setLoss(share) {
      loss = share;
    },
    /// Milliseconds each datagram is held, each way, from now on.
    setDelay(ms) {
      delayMs = ms;
    },
    close: () => {
      closed = true;
      socket.close();
      for (const upstream of upstreams.values()) upstream.close();
    },
  };
}

/// A page preload: the server's candidate in every SDP the page receives is replaced by the
/// relay's, which `testRelayFor(address, port)` (exposed by the test) points at the server and
/// returns as `{host, port}`.
export function throughRelay() {
  const native = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = async function (description) {
    let desc = description;
    const found = desc?.sdp?.match(/a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/i);
    if (found) {
      const relay = await window.testRelayFor(found[1], Number(found[2]));
      desc = { type: desc.type, sdp: desc.sdp.split(`${found[1]} ${found[2]}`).join(`${relay.host} ${relay.port}`) };
    }
    return native.call(this, desc);
  };
}
