// A kiosk on a poor link, against the real `relais` binary: its media goes through a UDP relay
// that drops a share of the datagrams both ways. Both sides show the link's quality; when the
// kiosk's own link stays too poor for video, the call goes on in audio only — the kiosk stops
// sending video, the server stops forwarding it video, each side keeps the other's last
// picture on screen and says why — and video comes back once the link is better. Screenshots
// go to tests/artifacts/poor-link/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchChromium, sleep, waitFor } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';
import { startRelay, throughRelay } from './udp-relay.mjs';

const SHOTS = resolve(import.meta.dirname, '..', 'artifacts', 'poor-link');
// The relay listens on the other end of the test namespace's veth pair (scripts/netns.sh).
const RELAY_HOST = process.env.E2E_MEDIA_IP === '198.18.0.1' ? '198.18.0.2' : '127.0.0.1';

let server;
let chromium;
let relay;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
  relay = await startRelay(RELAY_HOST);
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  relay?.close();
  await chromium?.close();
  await server?.stop();
});

const shot = (console_, name) => console_.page.screenshot({ path: join(SHOTS, `${name}.png`) });
const audioOnly = (console_) => hook(console_, 'audioOnly');

/// Whether a counter of `read` keeps growing over `ms`.
async function grows(read, ms = 2500) {
  const before = await read();
  await sleep(ms);
  const after = await read();
  return after > before;
}

test('a kiosk whose link turns poor goes on in audio only with still pictures, and gets video back when the link is better', { timeout: 150000 }, async () => {
  const agentToken = await server.token('agent', 'paul', ['--skills', 'caf:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent paul');
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');
  const kioskToken = await server.token('kiosk', 'borne-rurale', ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', kioskToken, 'kiosk borne-rurale', {
    preload: throughRelay,
    expose: {
      testRelayFor: (address, port) => {
        relay.point(address, port);
        return { host: relay.host, port: relay.port };
      },
    },
  });
  try {
    await kiosk.waitState('start');
    await kiosk.click('service-caf');
    await kiosk.waitState('check');
    await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
    await kiosk.click('call');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
    assert.ok(relay.counts.forwarded > 100, `the kiosk's media goes through the relay (${relay.counts.forwarded} datagrams)`);
    await waitFor(() => text(kiosk, 'quality'), (t) => t === 'Connexion : bonne', 10000, 'a good link at first');

    // The link turns poor: a quarter of the datagrams are lost each way.
    relay.setLoss(0.25);
    const poorAt = Date.now();
    await waitFor(() => text(kiosk, 'quality'), (t) => t === 'Connexion : faible', 15000, 'the kiosk says the link is poor');
    const sample = await hook(kiosk, 'quality');
    console.log(`poor link at the kiosk: ${JSON.stringify(sample)}`);
    await waitFor(() => audioOnly(kiosk), (a) => a.self, 30000, 'the kiosk goes on in audio only');
    const switched = (Date.now() - poorAt) / 1000;
    await waitFor(() => audioOnly(agent), (a) => a.peer && a.still, 5000, "the agent keeps the citizen's last picture");
    const atKiosk = await audioOnly(kiosk);
    assert.equal(atKiosk.still, true, "the kiosk keeps the agent's last picture");
    assert.equal(atKiosk.note, 'La connexion est trop faible pour la vidéo. Le son continue. L’image du conseiller est arrêtée.');
    assert.equal(await text(kiosk, 'quality-warning'), null, 'one message, not two');
    assert.equal(await text(kiosk, 'camera-off-title'), null, 'not mistaken for a camera turned off');
    const atAgent = await audioOnly(agent);
    assert.match(atAgent.note, /La connexion de l'usager est trop faible pour la vidéo : l'appel continue en audio/);
    assert.equal(atAgent.self, false, "the agent's own link is fine: it keeps sending video");
    // No video from the kiosk, none to it; the voices go on both ways.
    assert.equal(await grows(async () => (await kiosk.stats()).framesSent), false, 'the kiosk sends no video');
    assert.equal(await grows(async () => (await agent.stats()).framesDecoded), false, "the agent gets no video of the kiosk");
    assert.equal(await grows(async () => (await kiosk.stats()).framesDecoded), false, 'the kiosk gets no video');
    assert.ok(await grows(async () => (await agent.stats()).audioPackets), "the agent hears the citizen");
    assert.ok(await grows(async () => (await kiosk.stats()).audioPackets), 'the citizen hears the agent');
    await shot(kiosk, 'kiosk-audio-only');
    await shot(agent, 'agent-audio-only');

    // The link is good again: video comes back both ways.
    relay.setLoss(0);
    const betterAt = Date.now();
    await waitFor(() => audioOnly(kiosk), (a) => !a.self && !a.still, 40000, 'the kiosk gets video back');
    const back = (Date.now() - betterAt) / 1000;
    await waitFor(() => audioOnly(agent), (a) => !a.peer && !a.still, 5000, 'the agent sees the citizen again');
    assert.ok(await grows(async () => (await kiosk.stats()).framesSent), 'the kiosk sends video again');
    assert.ok(await grows(async () => (await agent.stats()).framesDecoded), 'the agent decodes the kiosk again');
    assert.ok(await grows(async () => (await kiosk.stats()).framesDecoded), 'the kiosk decodes the agent again');
    console.log(`25 % loss → audio only after ${switched.toFixed(1)} s; loss gone → video back after ${back.toFixed(1)} s; relay dropped ${relay.counts.dropped} of ${relay.counts.dropped + relay.counts.forwarded} datagrams`);
    await shot(kiosk, 'kiosk-video-back');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});
