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
  let client = null;
  let loss = 0;
  let delayMs = 0;
  let closed = false;
  const counts = { forwarded: 0, dropped: 0 };
  socket.on('message', (msg, from) => {
    if (!target) return;
    const fromServer = from.address === target.address && from.port === target.port;
    if (!fromServer) client = { address: from.address, port: from.port };
    const to = fromServer ? client : target;
    if (!to) return;
    if (random() < loss) {
      counts.dropped += 1;
      return;
    }
    counts.forwarded += 1;
    if (delayMs > 0) setTimeout(() => !closed && socket.send(msg, to.port, to.address), delayMs);
    else socket.send(msg, to.port, to.address);
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
