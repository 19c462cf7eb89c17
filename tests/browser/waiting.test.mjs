// The wait with media in real browsers: a Chromium kiosk connects its media as soon as its call
// is queued and hears the server's hold audio before any agent; the agent's answer then only
// adds the agent's leg, so the pictures come at once. The same measure with the media negotiated
// at the answer gives the figure to compare. A kiosk whose microphone sends only silence is
// told so, and the agent sees it on the offer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, waitFor, sleep } from './browsers.mjs';
import { kioskCalls, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

let chromium;

before(async () => {
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
});

async function agentOn(server, sub) {
  const token = await server.token('agent', sub, ['--skills', 'caf']);
  const agent = await openConsole(chromium, server.url, '/agent', token, `agent ${sub}`);
  await agent.waitState('not_ready');
  return agent;
}

async function kioskOn(server, sub, options = {}) {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  return openConsole(chromium, server.url, '/kiosk', token, `kiosk ${sub}`, options);
}

/// Milliseconds from `t0` until `done(stats)` holds, polling the page's statistics every 20 ms.
async function msUntil(console_, t0, done, limitMs, what) {
  const deadline = t0 + limitMs;
  while (Date.now() < deadline) {
    const stats = await console_.stats();
    if (done(stats)) return Date.now() - t0;
    await sleep(20);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

/// How long the agent lets the offer ring before accepting, as a person does (the same in
/// every variant, so the figures compare).
const RING_MS = 1500;

/// A kiosk calls, the agent becomes ready and accepts after `RING_MS`: (accept → first kiosk
/// frame decoded at the agent, accept → first agent frame decoded at the kiosk, peer
/// connections the agent made from the offer to the pictures), in ms.
async function answerAndTime(server, agent, kiosk) {
  const madeBefore = (await agent.page.evaluate(() => window.relaisTest.peer())).made;
  await setAgentState(agent, 'ready');
  await agent.waitState('ringing');
  await sleep(RING_MS);
  const madeRinging = (await agent.page.evaluate(() => window.relaisTest.peer())).made;
  const t0 = Date.now();
  await agent.click('accept');
  const [atAgent, atKiosk] = await Promise.all([
    msUntil(agent, t0, (s) => s.framesDecoded > 0, 20000, 'the agent decodes the kiosk'),
    msUntil(kiosk, t0, (s) => s.framesDecoded > 0, 20000, 'the kiosk decodes the agent'),
  ]);
  await kiosk.waitState('call');
  const madeAfter = (await agent.page.evaluate(() => window.relaisTest.peer())).made;
  return { atAgent, atKiosk, ringing: madeRinging - madeBefore, answer: madeAfter - madeRinging };
}

async function hangUp(agent, kiosk) {
  await kiosk.click('hangup');
  await kiosk.waitState('ended');
  await agent.waitState('wrap_up');
  await agent.click('wrapup-done');
  await agent.waitState('available');
}

test('a Chromium kiosk hears hold audio while it waits, and the answer brings the pictures at once', async () => {
  const server = await startServer({ extraConfig: '\n[waiting]\nmedia = true\n' });
  const agent = await agentOn(server, 'alice');
  const kiosk = await kioskOn(server, 'borne-attente');
  try {
    await kiosk.waitState('start');
    await kioskCalls(kiosk, 'caf');
    await kiosk.waitState('waiting');
    // Connected and hearing the wait with nobody to answer: packets keep arriving.
    const first = await waitFor(() => kiosk.stats(), (s) => s.audioPackets >= 50, 15000, 'hold audio reaches the waiting kiosk');
    await sleep(1000);
    const later = await kiosk.stats();
    assert.ok(later.audioPackets >= first.audioPackets + 35, `hold audio keeps coming: ${first.audioPackets} → ${later.audioPackets} packets in 1 s`);
    assert.equal(later.connectionState, 'connected');
    assert.equal(await kiosk.state(), 'waiting', 'still on the waiting screen');
    assert.equal(await kiosk.page.$eval('#wait-audio', (a) => Boolean(a.srcObject) && !a.paused), true, 'the wait plays');
    // The link check: round trip and what the kiosk sends, measured on that connection.
    const net = await waitFor(() => text(kiosk, 'wait-net'), (t) => t && /\d+ ms/.test(t), 10000, 'the network check shows');
    console.log(`# waiting kiosk network check: ${net}`);
    // The fake camera and microphone send a picture and a tone: no warning.
    await sleep(6000);
    assert.equal(await text(kiosk, 'device-warning'), null, 'no device warning for working devices');
    await kiosk.shot('waiting-with-media');

    const { atAgent, atKiosk, ringing, answer } = await answerAndTime(server, agent, kiosk);
    console.log(`# waiting media on, agent media while ringing: accept → first kiosk frame at the agent ${atAgent} ms, accept → first agent frame at the kiosk ${atKiosk} ms`);
    assert.equal(ringing, 1, 'the agent connected its peer while the offer rang');
    assert.equal(answer, 0, 'and made none at the answer');
    assert.ok(atKiosk < 300, `the agent's picture at the kiosk within 300 ms of the answer (${atKiosk} ms)`);
    assert.equal(await kiosk.page.$eval('#wait-audio', (a) => a.srcObject), null, 'the wait audio stopped with the call screen');
    await hangUp(agent, kiosk);
  } finally {
    await kiosk.close();
    await agent.close();
    await server.stop();
  }
});

test("with the agent's media negotiated at the answer (the figure to compare)", async () => {
  const server = await startServer({ extraConfig: '\n[waiting]\nmedia = true\nring_media = false\n' });
  const agent = await agentOn(server, 'agathe');
  const kiosk = await kioskOn(server, 'borne-sans-sonnerie');
  try {
    await kioskCalls(kiosk, 'caf');
    await kiosk.waitState('waiting');
    await waitFor(() => kiosk.stats(), (s) => s.audioPackets >= 25, 15000, 'the kiosk waits with its media');
    const { atAgent, atKiosk, ringing, answer } = await answerAndTime(server, agent, kiosk);
    console.log(`# waiting media on, agent media at the answer: accept → first kiosk frame at the agent ${atAgent} ms, accept → first agent frame at the kiosk ${atKiosk} ms`);
    assert.equal(ringing, 0, 'no peer while ringing');
    assert.equal(answer, 1);
    await hangUp(agent, kiosk);
  } finally {
    await kiosk.close();
    await agent.close();
    await server.stop();
  }
});

test('with the media negotiated at the answer (the figure to compare)', async () => {
  const server = await startServer({ extraConfig: '\n[waiting]\nmedia = false\n' });
  const agent = await agentOn(server, 'bruno');
  const kiosk = await kioskOn(server, 'borne-sans-attente');
  try {
    await kiosk.waitState('start');
    await kioskCalls(kiosk, 'caf');
    await kiosk.waitState('waiting');
    await sleep(1500);
    assert.equal((await kiosk.stats()).audioPackets, 0, 'no media while waiting');
    const { atAgent, atKiosk } = await answerAndTime(server, agent, kiosk);
    console.log(`# waiting media off: accept → first kiosk frame at the agent ${atAgent} ms, accept → first agent frame at the kiosk ${atKiosk} ms`);
    await hangUp(agent, kiosk);
  } finally {
    await kiosk.close();
    await agent.close();
    await server.stop();
  }
});

test('a kiosk whose microphone sends only silence is told, and the agent sees it on the offer', async () => {
  const server = await startServer({ extraConfig: '\n[waiting]\nmedia = true\ncheck_secs = 3\n' });
  const agent = await agentOn(server, 'chloe');
  // The microphone is there but sends nothing but silence (a muted or broken device).
  const kiosk = await kioskOn(server, 'borne-muette', {
    preload: () => {
      const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = async (constraints) => {
        const stream = await original(constraints);
        // Disabled for good: the page's own unmute (enabled = true) cannot bring the sound back.
        const setEnabled = Object.getOwnPropertyDescriptor(MediaStreamTrack.prototype, 'enabled').set;
        for (const track of stream.getAudioTracks()) {
          setEnabled.call(track, false);
          Object.defineProperty(track, 'enabled', { get: () => true, set: () => {}, configurable: true });
        }
        return stream;
      };
    },
  });
  try {
    await kiosk.waitState('start');
    await kioskCalls(kiosk, 'caf');
    await kiosk.waitState('waiting');
    const warning = await waitFor(() => text(kiosk, 'device-warning'), Boolean, 15000, 'the kiosk warns of its microphone');
    assert.match(warning, /entendons pas/);
    await kiosk.shot('waiting-microphone-silent');
    await setAgentState(agent, 'ready');
    await agent.waitState('ringing');
    assert.match(await text(agent, 'offer-warnings'), /micro du demandeur muet/);
    await agent.shot('offer-microphone-silent');
    await agent.click('reject');
  } finally {
    await kiosk.close();
    await agent.close();
    await server.stop();
  }
});
