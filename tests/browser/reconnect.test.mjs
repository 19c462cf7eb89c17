// A kiosk whose websocket drops keeps its call, against the real `relais` binary: waiting, it
// comes back at its place in the queue (after a network blink and after a reload of its
// page); during a call, its media goes on while the agent is told the citizen's signal is
// interrupted, and a reload of the kiosk's page negotiates the media again on the same call.
// An agent's likewise: the kiosk is told the agent is reconnecting, and a reloaded agent
// console gets its call back with its media.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, sleep, waitFor } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, text, kioskCalls } from './consoles-harness.mjs';

let server;
let chromium;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

/// Page script: keeps the page's websockets within reach of the test (`testSockets`), and
/// while `testBlockSockets` is set, new ones fail (a network that lets nothing through).
const reachableSockets = () => {
  const Native = window.WebSocket;
  window.testSockets = [];
  window.testBlockSockets = false;
  function Reachable(url, protocols) {
    const ws = new Native(window.testBlockSockets ? `${url}-blocked` : url, protocols);
    window.testSockets.push(ws);
    return ws;
  }
  Reachable.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Reachable[k] = Native[k];
  window.WebSocket = Reachable;
};

/// Drops the page's websocket; with `block`, its reconnections fail until `unblock`.
const dropSocket = (console_, block = false) =>
  console_.page.evaluate((b) => {
    window.testBlockSockets = b;
    for (const ws of window.testSockets) ws.close();
  }, block);
const unblock = (console_) => console_.page.evaluate(() => (window.testBlockSockets = false));
const online = (console_) => waitFor(() => console_.page.evaluate(() => document.body.dataset.conn), (c) => c === 'online', 15000, `${console_.label} online again`);
const callOf = (console_) => hook(console_, 'call');

async function kioskWaiting(sub) {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', token, sub, { preload: reachableSockets });
  await kioskCalls(kiosk, 'mairie');
  await kiosk.waitState('waiting');
  return kiosk;
}

/// Samples a counter of `read` for `ms` and returns how much it grew.
async function growth(read, ms) {
  const before = await read();
  await sleep(ms);
  return (await read()) - before;
}

test('a kiosk whose websocket drops or whose page reloads keeps its call: at its place while it waits, with its media during the call', { timeout: 150000 }, async () => {
  const agentToken = await server.token('agent', 'marc', ['--skills', 'mairie:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent marc', { preload: reachableSockets });
  await agent.waitState('not_ready');
  const first = await kioskWaiting('borne-attente-1');
  const second = await kioskWaiting('borne-attente-2');
  try {
    await waitFor(() => text(second, 'position'), (p) => p === '2', 10000, 'the second kiosk is second');
    const placed = await callOf(second);

    // A network blink: the websocket drops and comes back by itself.
    const blinkAt = Date.now();
    await dropSocket(second);
    await online(second);
    const blinkMs = Date.now() - blinkAt;
    assert.equal(await second.state(), 'waiting', 'still waiting, no "call ended" screen');
    assert.deepEqual(await callOf(second), placed, 'the same call at the same place');
    assert.equal(await text(second, 'position'), '2');

    // The page reloads (a kiosk's browser restarted by its watchdog): same call, same place.
    const reloadAt = Date.now();
    await second.page.reload();
    await second.waitState('waiting');
    await waitFor(() => text(second, 'position'), (p) => p === '2', 10000, 'the reloaded kiosk shows its place');
    const reloadMs = Date.now() - reloadAt;
    assert.equal((await callOf(second)).id, placed.id, 'the reloaded page has the call it placed');
    // It waits with its media (the default): the new page connects it again and hears the wait.
    await waitFor(() => second.stats(), (s) => s.connectionState === 'connected' && s.audioPackets >= 25, 15000, 'the reloaded kiosk hears the wait again');
    const heard = await growth(async () => (await second.stats()).audioPackets, 1000);
    assert.ok(heard >= 35, `hold audio keeps coming after the reload (${heard} packets in 1 s)`);

    // The first kiosk gives up: the second moves up, as its position pushes go on.
    await first.click('cancel');
    await waitFor(() => text(second, 'position'), (p) => p === '1', 10000, 'the second kiosk moves up');

    // An agent answers it; its websocket drops and stays down for a while.
    await setAgentState(agent, 'ready');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), second.waitState('call')]);
    await Promise.all([expectMedia(second, 'kiosk'), expectMedia(agent, 'agent')]);
    const downAt = Date.now();
    await dropSocket(second, true);
    await waitFor(() => text(agent, 'call-status'), (t) => /Signal interrompu côté usager/.test(t || ''), 10000, 'the agent is told');
    const told = Date.now() - downAt;
    const frames = await growth(async () => (await agent.stats()).framesDecoded, 3000);
    const voice = await growth(async () => (await agent.stats()).audioPackets, 1000);
    assert.ok(frames > 30, `the citizen's video goes on without the websocket (${frames} frames in 3 s)`);
    assert.ok(voice > 20, `and the voice (${voice} packets in 1 s)`);
    assert.equal(await second.state(), 'call', 'the kiosk stays in the call');
    await unblock(second);
    await online(second);
    await waitFor(() => text(agent, 'call-status'), (t) => !t, 10000, "the agent's note goes once the kiosk is back");
    const downMs = Date.now() - downAt;
    assert.equal(await agent.state(), 'call');

    // The kiosk's page reloads mid-call: the same call, media negotiated again.
    const madeBefore = (await agent.page.evaluate(() => window.relaisTest.peer())).made;
    const midCallAt = Date.now();
    await second.page.reload();
    await second.waitState('call', 15000);
    await waitFor(() => second.stats(), (s) => s.framesDecoded >= 5 && s.connectionState === 'connected', 10000, 'the reloaded kiosk decodes the agent');
    const beforeFrames = (await agent.stats()).framesDecoded;
    await waitFor(() => agent.stats(), (s) => s.framesDecoded > beforeFrames + 5, 10000, 'the agent decodes the reloaded kiosk');
    const mediaBackMs = Date.now() - midCallAt;
    assert.ok(mediaBackMs < 5000, `media back within 5 s of the reload (${mediaBackMs} ms)`);
    assert.equal((await callOf(second)).id, placed.id, 'the same call');
    assert.equal((await agent.page.evaluate(() => window.relaisTest.peer())).made, madeBefore, "the agent's peer connection is kept");

    // The agent's websocket drops: the kiosk is told, the media goes on.
    await dropSocket(agent, true);
    await waitFor(() => text(second, 'call-status'), (t) => t === 'Le conseiller se reconnecte. Restez en ligne.', 10000, 'the kiosk is told');
    const kioskFrames = await growth(async () => (await second.stats()).framesDecoded, 2000);
    assert.ok(kioskFrames > 20, `the agent's video goes on (${kioskFrames} frames in 2 s)`);
    await unblock(agent);
    await online(agent);
    await waitFor(() => text(second, 'call-status'), (t) => !t, 10000, "the kiosk's note goes once the agent is back");
    assert.equal(await agent.state(), 'call');
    assert.equal((await agent.page.evaluate(() => window.relaisTest.peer())).made, madeBefore, 'the media went on: no new peer connection');

    // The agent reloads its console mid-call: the call is given back with its media.
    const agentReloadAt = Date.now();
    await agent.page.reload();
    await agent.waitState('call', 15000);
    await waitFor(() => agent.stats(), (s) => s.framesDecoded >= 5 && s.connectionState === 'connected', 10000, 'the reloaded agent decodes the kiosk');
    const kioskBefore = (await second.stats()).framesDecoded;
    await waitFor(() => second.stats(), (s) => s.framesDecoded > kioskBefore + 5, 10000, 'the kiosk decodes the reloaded agent');
    const agentBackMs = Date.now() - agentReloadAt;
    assert.ok(agentBackMs < 5000, `media back within 5 s of the agent's reload (${agentBackMs} ms)`);
    assert.equal(await second.state(), 'call', 'the kiosk stayed in the call');
    console.log(
      `kiosk reconnects: blink → online ${blinkMs} ms; reload while waiting → place shown ${reloadMs} ms; ` +
        `agent told of the drop ${told} ms; down and back ${downMs} ms; reload mid-call → media both ways ${mediaBackMs} ms; ` +
        `agent reload mid-call → media both ways ${agentBackMs} ms`,
    );
    await agent.click('hangup');
    await agent.waitState('wrap_up');
  } finally {
    await first.close();
    await second.close();
    await agent.close();
  }
});
