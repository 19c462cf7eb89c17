// A kiosk whose network changes during a call (its 4G modem gets a new address, the town
// hall's Wi-Fi switches access point), against the real `relais` binary: its media goes
// through a UDP relay; mid-call the old path goes dead and a second relay (a new address as
// the server sees it) takes over. The kiosk's console notices its connection stalled,
// negotiates again on the new path, and the call goes on with the same id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, waitFor } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, kioskCalls } from './consoles-harness.mjs';
import { startRelay, throughRelay } from './udp-relay.mjs';

const RELAY_HOST = process.env.E2E_MEDIA_IP === '198.18.0.1' ? '198.18.0.2' : '127.0.0.1';

let server;
let chromium;
let oldPath;
let newPath;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
  oldPath = await startRelay(RELAY_HOST, { seed: 3 });
  newPath = await startRelay(RELAY_HOST, { seed: 5 });
});

after(async () => {
  oldPath?.close();
  newPath?.close();
  await chromium?.close();
  await server?.stop();
});

test("a kiosk whose network changes mid-call gets its media back on the new path, in the same call", { timeout: 120000 }, async () => {
  const agentToken = await server.token('agent', 'lea', ['--skills', 'ants:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent lea');
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');
  let path = oldPath;
  const kioskToken = await server.token('kiosk', 'borne-4g', ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', kioskToken, 'kiosk borne-4g', {
    preload: throughRelay,
    expose: {
      testRelayFor: (address, port) => {
        path.point(address, port);
        return { host: path.host, port: path.port };
      },
    },
  });
  try {
    await kioskCalls(kiosk, 'ants');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
    const call = (await hook(kiosk, 'call')).id;
    assert.ok(oldPath.counts.forwarded > 100, 'the media goes through the first path');

    // The old path goes dead; the next negotiation finds the new one.
    path = newPath;
    oldPath.setLoss(1);
    const changedAt = Date.now();
    const before = (await agent.stats()).framesDecoded;
    await waitFor(() => agent.stats(), (s) => s.framesDecoded > before + 10, 30000, "the agent decodes the citizen again");
    await waitFor(() => kiosk.stats(), (s) => s.connectionState === 'connected', 10000, 'the kiosk connected again');
    const backMs = Date.now() - changedAt;
    assert.ok(newPath.counts.forwarded > 100, `the media goes through the new path (${newPath.counts.forwarded} datagrams)`);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
    assert.equal((await hook(kiosk, 'call')).id, call, 'the same call');
    assert.equal(await agent.state(), 'call');
    assert.ok(backMs < 15000, `media back within 15 s of the change (${backMs} ms)`);
    console.log(`network change mid-call: media back both ways ${backMs} ms after the old path went dead`);
    await agent.click('hangup');
    await agent.waitState('wrap_up');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});
