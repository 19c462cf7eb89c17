// A kiosk on a slow rural link, against the real `relais` binary: its media goes through a UDP
// relay that adds 25 ms each way and drops 1 % of the datagrams, and the kiosk's datagrams to
// the relay (its uplink) are shaped by tc `tbf` in the test namespace:
// 1 Mbit/s, then 300 kbit/s for 10 s, then 1 Mbit/s again. The browser's sending rate must
// follow the link, the agent's picture must not freeze for long, the voices must go on and the
// call must survive; the figures are printed (docs/benchmarks.md keeps them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { launchChromium, sleep, waitFor } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, kioskCalls } from './consoles-harness.mjs';
import { startRelay, throughRelay } from './udp-relay.mjs';

const run = promisify(execFile);
const IN_NAMESPACE = process.env.E2E_MEDIA_IP === '198.18.0.1';
const RELAY_HOST = '198.18.0.2';

let server;
let chromium;
let kioskBrowser;
let relay;
let dir;
let shaped = false;

/// A camera picture that costs every bit it is given: 16 × 16 blocks of new noise each frame
/// (Chromium's own fake camera compresses to under 200 kbit/s, which no link here would limit).
async function noisyCamera(file, { width = 640, height = 360, frames = 30 } = {}) {
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state & 0xff;
  };
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\n`);
  const frameSize = (width * height * 3) / 2;
  const parts = [header];
  for (let f = 0; f < frames; f++) {
    parts.push(Buffer.from('FRAME\n'));
    const frame = Buffer.alloc(frameSize, 128);
    for (let by = 0; by < height; by += 16) {
      for (let bx = 0; bx < width; bx += 16) {
        const luma = random();
        for (let y = by; y < by + 16; y++) frame.fill(luma, y * width + bx, y * width + bx + 16);
      }
    }
    parts.push(frame);
  }
  await writeFile(file, Buffer.concat(parts));
}

before(async () => {
  if (!IN_NAMESPACE) return;
  dir = await mkdtemp(join(tmpdir(), 'relais-shaped-'));
  const camera = join(dir, 'noise.y4m');
  await noisyCamera(camera);
  server = await startServer();
  chromium = await launchChromium();
  kioskBrowser = await launchChromium([`--use-file-for-fake-video-capture=${camera}`]);
  relay = await startRelay(RELAY_HOST);
});

after(async () => {
  if (shaped) await run('tc', ['qdisc', 'del', 'dev', 'lo', 'root']).catch(() => {});
  relay?.close();
  await kioskBrowser?.close();
  await chromium?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const tc = (...args) => run('tc', args);

/// Shapes the kiosk's datagrams to the relay (everything in the namespace goes over `lo`; only
/// this flow, whichever of the browser's sockets sends it, is classified to the `tbf`).
async function shape(relayPort, rate) {
  await tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '20');
  shaped = true;
  await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit');
  await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  await tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', 'tbf', 'rate', rate, 'burst', '16kb', 'latency', '200ms');
  await tc(
    'filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'dport', String(relayPort), '0xffff',
    'flowid', '1:10',
  );
}
const reshape = (rate) => tc('qdisc', 'change', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', 'tbf', 'rate', rate, 'burst', '16kb', 'latency', '200ms');

/// Samples both sides every 100 ms for `secs`: what the kiosk sends, what the agent decodes
/// and hears, and whether the kiosk has gone on in audio only (its own link judged too poor
/// for video: then it sends no video on purpose, and says so).
async function watch(kiosk, agent, secs) {
  const samples = [];
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    const [k, a, only] = await Promise.all([kiosk.stats(), agent.stats(), hook(kiosk, 'audioOnly')]);
    samples.push({ at: Date.now(), sent: k.videoOut.bytesSent, target: k.videoOut.targetBitrate, height: k.videoOut.frameHeight, frames: a.framesDecoded, audio: a.audioPackets, freezes: a.freezes, state: a.connectionState, audioOnly: only.self });
    await sleep(100);
  }
  return samples;
}

/// The figures of a stretch of samples (from `skipSecs` on): the kiosk's video rate and target,
/// the longest stand-still of the agent's picture while the kiosk sends video (audio only is
/// no freeze: it is chosen and shown) and the longest silence of its audio, freezes (Chrome's
/// count, over 500 ms by its own rule), the time spent in audio only.
function figures(samples, skipSecs = 0) {
  const from = samples[0].at + skipSecs * 1000;
  const s = samples.filter((x) => x.at >= from);
  const first = s[0];
  const last = s[s.length - 1];
  const secs = (last.at - first.at) / 1000;
  const longest = (key) => {
    let since = first.at;
    let worst = 0;
    for (let i = 1; i < s.length; i++) {
      if (s[i][key] > s[i - 1][key] || (key === 'frames' && s[i].audioOnly)) {
        worst = Math.max(worst, s[i].at - since);
        since = s[i].at;
      }
    }
    return Math.max(worst, last.at - since);
  };
  return {
    sendKbps: Math.round(((last.sent - first.sent) * 8) / secs / 1000),
    targetKbps: Math.round(s.reduce((sum, x) => sum + x.target, 0) / s.length / 1000),
    height: last.height,
    videoStallMs: longest('frames'),
    audioGapMs: longest('audio'),
    freezes: last.freezes.count - first.freezes.count,
    freezeSecs: Math.round((last.freezes.secs - first.freezes.secs) * 10) / 10,
    fps: Math.round((last.frames - first.frames) / secs),
    audioOnlyMs: s.slice(1).reduce((sum, x, i) => sum + (x.audioOnly ? x.at - s[i].at : 0), 0),
  };
}

test('a kiosk on a 1 Mbit/s uplink with delay and loss: video follows the link, does not freeze for long, and the voice goes on', { skip: !IN_NAMESPACE && 'needs the test namespace (scripts/netns.sh)', timeout: 150000 }, async () => {
  const agentToken = await server.token('agent', 'rose', ['--skills', 'cpam:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent rose');
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');
  const kioskToken = await server.token('kiosk', 'borne-adsl', ['--site', 'mairie-test']);
  let mediaPort = null;
  const kiosk = await openConsole(kioskBrowser, server.url, '/kiosk', kioskToken, 'kiosk borne-adsl', {
    preload: throughRelay,
    expose: {
      testRelayFor: (address, port) => {
        relay.point(address, port);
        mediaPort = port;
        return { host: relay.host, port: relay.port };
      },
    },
  });
  try {
    relay.setDelay(25);
    relay.setLoss(0.01);
    await kioskCalls(kiosk, 'cpam');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await waitFor(() => mediaPort, Boolean, 10000, 'the kiosk media goes through the relay');
    await shape(relay.port, '1mbit');
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);

    const capped = figures(await watch(kiosk, agent, 20), 8);
    await reshape('300kbit');
    const low = figures(await watch(kiosk, agent, 10), 0);
    await reshape('1mbit');
    // A link that poor for long enough sends the kiosk to audio only; video comes back by
    // itself once the link is better (the poor-link test checks how), and is measured then.
    const betterAt = Date.now();
    await waitFor(() => hook(kiosk, 'audioOnly'), (a) => !a.self, 40000, 'the kiosk sends video again');
    const videoBackMs = Date.now() - betterAt;
    const back = figures(await watch(kiosk, agent, 20), 8);
    const report = { '1 Mbit/s': capped, '300 kbit/s (10 s)': low, '1 Mbit/s again': { ...back, afterMs: videoBackMs } };
    console.log(`shaped kiosk uplink (25 ms each way, 1 % loss), video sent by the kiosk and received by the agent:\n${JSON.stringify(report, null, 1)}`);
    console.log(`relay: ${relay.counts.forwarded} datagrams forwarded, ${relay.counts.dropped} dropped`);

    // What must hold.
    assert.ok(capped.sendKbps < 1000, `the kiosk sends under the 1 Mbit/s cap (${capped.sendKbps} kbit/s)`);
    assert.ok(capped.sendKbps > 150, `and uses it (${capped.sendKbps} kbit/s)`);
    assert.ok(low.sendKbps < 300 && low.sendKbps < capped.sendKbps, `the rate drops with the link (${low.sendKbps} kbit/s, ${capped.sendKbps} before)`);
    assert.ok(back.sendKbps > low.sendKbps, `and comes back with it (${back.sendKbps} kbit/s)`);
    for (const [phase, f] of Object.entries(report)) {
      assert.ok(f.videoStallMs < 2000, `${phase}: no freeze over 2 s (longest ${f.videoStallMs} ms)`);
    }
    assert.ok(back.fps > 5, `the video recovers (${back.fps} frames/s)`);
    for (const [phase, f] of Object.entries(report)) {
      assert.ok(f.audioGapMs < 1000, `${phase}: the voice goes on (longest silence ${f.audioGapMs} ms)`);
    }
    assert.equal(await kiosk.state(), 'call', 'the call survives');
    assert.equal((await agent.stats()).connectionState, 'connected');
  } finally {
    if (shaped) {
      await tc('qdisc', 'del', 'dev', 'lo', 'root');
      shaped = false;
    }
    await kiosk.close();
    await agent.close();
  }
});
