// Warm transfer against the real `relais` binary in Chromium: a kiosk calls the CAF, alice
// answers (video both ways), then consults bob through the transfer box. The kiosk shows its
// hold screen and decodes nothing while alice and bob see each other; alice hands the call to
// bob: the kiosk comes off hold and decodes bob's video on the RTCPeerConnection it already
// had; alice goes to wrap-up. Prints the time from alice's "Transférer l'appel à bob" to the
// kiosk's first decoded frame of bob's video. A second case consults and takes the citizen
// back ("Reprendre l'usager"), once after the colleague answered and once while it rings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, waitFor, sleep } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

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

/// Keeps the pushes a page receives (type and the fields that tell their order apart).
function recordPushes() {
  const Native = window.WebSocket;
  window.pushesSeen = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        try {
          const m = JSON.parse(event.data);
          if (m.type === 'ok' || m.type === 'error') return;
          const names = m.participants?.map((p) => p.name).join(',');
          window.pushesSeen.push([m.type, m.on ?? m.status ?? m.state ?? names ?? ''].join(' '));
        } catch {
          // not JSON: not a push
        }
      });
    }
  };
}

const pushes = (console_) => console_.page.evaluate(() => window.pushesSeen.slice());

/// Samples the page's inbound statistics every 40 ms in the page itself until `stopSampling`.
function startSampling(console_) {
  return console_.page.evaluate(() => {
    window.warmSamples = [];
    window.warmSampler = setInterval(async () => {
      const s = await window.relaisTest.mediaStats();
      window.warmSamples.push({ at: Date.now(), frames: s.framesDecoded });
    }, 40);
  });
}

function stopSampling(console_) {
  return console_.page.evaluate(() => {
    clearInterval(window.warmSampler);
    return window.warmSamples;
  });
}

const frames = async (console_) => (await console_.stats()).framesDecoded;
const value = (console_, selector, fn) => console_.page.$eval(selector, fn);

/// A kiosk calls the CAF and `agent` answers; both decode each other's video.
async function answeredCall(kiosk, agent) {
  await kiosk.click('service-caf');
  await kiosk.waitState('check');
  await waitFor(() => value(kiosk, '[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
  await kiosk.click('call');
  await agent.waitState('ringing');
  await agent.click('accept');
  await Promise.all([kiosk.waitState('call'), agent.waitState('call')]);
  await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, agent.label)]);
}

/// `agent` opens the transfer box and asks to consult `colleague` first.
async function consultThroughTheBox(agent, colleague, shot = null) {
  await agent.click('transfer-open');
  await agent.page.waitForSelector(`[data-testid="transfer-service-agent:${colleague}"]`, { timeout: 5000 });
  await agent.click(`transfer-service-agent:${colleague}`);
  assert.notEqual(await text(agent, 'transfer-mode-warm'), null, 'a colleague may be consulted first');
  assert.equal(await text(agent, 'transfer-confirm'), `Transférer vers ${colleague} (collègue disponible)`, 'a direct transfer unless asked otherwise');
  await agent.click('transfer-mode-warm');
  assert.equal(await text(agent, 'transfer-confirm'), `Consulter ${colleague}`);
  if (shot) await agent.shot(shot);
  await agent.click('transfer-confirm');
  await waitFor(() => text(agent, 'consult-title'), (t) => t === `Consultation de ${colleague} — l'usager est en attente`, 5000, `${agent.label} shows the consultation`);
  assert.equal(await text(agent, 'transfer-box'), null, 'the transfer box closed');
}

async function expectOnHold(kiosk) {
  await kiosk.waitState('hold', 5000);
  const notice = await text(kiosk, 'hold');
  assert.match(notice, /Votre conseiller consulte un collègue\./);
  assert.match(notice, /Attendez, s’il vous plaît\. Ne raccrochez pas\./);
  assert.equal(await value(kiosk, '[data-testid="hangup"]', (b) => !b.disabled && !b.closest('[hidden]')), true, 'the kiosk can still hang up');
  assert.equal(await value(kiosk, '[data-testid="chat-input"]', (i) => i.disabled), true, 'the chat pauses on hold');
  assert.notEqual(await text(kiosk, 'remote-wait'), null, "the agent's frozen picture is covered");
}

test('a warm transfer: the kiosk waits on hold, then gets bob on the same peer', { timeout: 60000 }, async () => {
  const started = Date.now();
  const alice = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'alice', ['--skills', 'caf:3']), 'alice');
  const bob = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'bob', ['--skills', 'cpam:3']), 'bob');
  const kiosk = await openConsole(chromium, server.url, '/kiosk', await server.token('kiosk', 'borne-accompagnee', ['--site', 'mairie-test']), 'kiosk', {
    preload: recordPushes,
  });
  try {
    await Promise.all([alice.waitState('not_ready'), bob.waitState('not_ready'), kiosk.waitState('start')]);
    await setAgentState(alice, 'ready');
    await alice.waitState('available');
    await answeredCall(kiosk, alice);
    await setAgentState(bob, 'ready');
    await bob.waitState('available');
    const peerBefore = await hook(kiosk, 'peer');
    assert.equal(peerBefore.made, 1, 'the kiosk made one peer connection for the call');

    // alice consults bob: the kiosk goes on hold at once, bob's console rings.
    await consultThroughTheBox(alice, 'bob', 'w0-agent-transfer-warm-choice');
    await expectOnHold(kiosk);
    assert.equal(await text(alice, 'consult-status'), 'Appel de bob…');
    assert.equal(await value(alice, '[data-testid="consult-complete"]', (b) => b.disabled), true, 'no hand-over before bob answers');
    assert.notEqual(await text(alice, 'remote-hold'), null, "the citizen's frozen picture is covered");

    await bob.waitState('ringing', 5000);
    assert.equal(await text(bob, 'offer-title'), 'Consultation demandée par alice');
    assert.match(await text(bob, 'offer-consult'), /l'usager est en attente/);
    await bob.click('accept');
    await bob.waitState('call');
    await waitFor(() => text(alice, 'consult-status'), (t) => t === 'bob est en ligne avec vous', 10000, 'alice sees bob joined');
    await waitFor(() => text(bob, 'consult-title'), (t) => t === "Consultation avec alice — l'usager est en attente", 5000, 'bob sees the consultation');
    assert.equal(await text(bob, 'hangup'), 'Terminer la consultation');
    assert.equal(await value(alice, '[data-testid="consult-complete"]', (b) => b.disabled), false, 'alice may hand the call over');
    await waitFor(() => value(alice, '#remote-video', (v) => v.getAttribute('aria-label')), (l) => l === 'bob (conseiller)', 5000, "alice's main picture is bob's");
    assert.equal(await text(alice, 'main-caption'), 'bob (conseiller)');

    // On hold: alice decodes bob's video, the kiosk decodes nothing.
    await waitFor(() => frames(alice), (n) => n > 0, 5000, 'alice decodes');
    await sleep(400);
    const [kioskHeld, aliceHeld] = [await frames(kiosk), await frames(alice)];
    await sleep(2000);
    const [kioskLater, aliceLater] = [await frames(kiosk), await frames(alice)];
    console.log(`on hold, over 2 s: kiosk ${kioskHeld} → ${kioskLater} frames, alice ${aliceHeld} → ${aliceLater}`);
    assert.ok(aliceLater - aliceHeld >= 20, `alice decodes bob's video (${aliceHeld} → ${aliceLater})`);
    assert.ok(kioskLater - kioskHeld <= 2, `the kiosk decodes nothing on hold (${kioskHeld} → ${kioskLater})`);
    await expectMedia(bob, 'bob (alice\'s video)');
    await kiosk.shot('w1-kiosk-hold');
    await alice.shot('w1-agent-consulting');
    await bob.shot('w1-colleague-consulted');

    // alice hands the call over.
    await startSampling(kiosk);
    const clickAt = Date.now();
    await alice.click('consult-complete');
    await waitFor(() => text(kiosk, 'hold'), (t) => t === null, 5000, 'the hold screen goes');
    await kiosk.waitState('call');
    const first = await waitFor(
      () => kiosk.page.evaluate((base) => window.warmSamples.find((s) => s.frames > base) || null, kioskLater),
      Boolean,
      10000,
      "the kiosk decodes bob's video",
    );
    console.log(`warm transfer: complete clicked → kiosk's first frame of bob: ${first.at - clickAt} ms`);
    await sleep(1500);
    const samples = await stopSampling(kiosk);
    const last = samples[samples.length - 1];
    assert.ok(last.frames - first.frames >= 15, `the kiosk keeps decoding bob (${first.frames} → ${last.frames})`);
    assert.deepEqual(await hook(kiosk, 'peer'), peerBefore, 'the kiosk kept its RTCPeerConnection');
    assert.ok((await hook(kiosk, 'participants')).some((p) => p.role === 'agent' && p.name === 'bob'), 'the kiosk sees bob');
    assert.equal(await value(kiosk, '[data-testid="chat-input"]', (i) => i.disabled), false, 'the chat is back');
    await waitFor(() => value(kiosk, '#call-status', (e) => e.textContent), (t) => t === 'bob (conseiller) vous répond.', 3000, 'the kiosk says who answers');

    await alice.waitState('wrap_up');
    assert.equal(await text(alice, 'wrapup-note'), 'Appel transféré vers bob');
    assert.equal((await hook(alice, 'peer')).current, null, "alice's media is closed");
    await waitFor(() => hook(bob, 'consult'), (c) => c?.status === 'completed', 5000, 'bob is told he has the call');
    assert.equal(await text(bob, 'consult-title'), "alice vous a transféré l'appel");
    assert.equal(await text(bob, 'hangup'), 'Raccrocher');
    assert.equal(await bob.state(), 'call');
    await expectMedia(bob, "bob (the kiosk's video)");
    await kiosk.shot('w2-kiosk-bob');
    await bob.shot('w2-colleague-has-the-call');

    const seen = await pushes(kiosk);
    const off = seen.indexOf('hold false');
    assert.ok(off > seen.indexOf('hold true'), `the kiosk went on hold and off (${seen})`);
    assert.ok(seen.indexOf('participants bob', off) > off, `participants with bob after the hold ends (${seen})`);

    // bob has the call: his hang-up ends it for everyone.
    await bob.click('hangup');
    await kiosk.waitState('ended');
    await bob.waitState('wrap_up');
    console.log(`warm transfer test took ${Date.now() - started} ms`);
  } finally {
    await kiosk.close();
    await bob.close();
    await alice.close();
  }
});

test('a consultation cancelled: the citizen is back with its agent, the colleague available', { timeout: 60000 }, async () => {
  const carla = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'carla', ['--skills', 'caf:3']), 'carla');
  const dan = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'dan', ['--skills', 'cpam:3']), 'dan');
  const kiosk = await openConsole(chromium, server.url, '/kiosk', await server.token('kiosk', 'borne-reprise', ['--site', 'mairie-test']), 'kiosk');
  try {
    await Promise.all([carla.waitState('not_ready'), dan.waitState('not_ready'), kiosk.waitState('start')]);
    await setAgentState(carla, 'ready');
    await carla.waitState('available');
    await answeredCall(kiosk, carla);
    await setAgentState(dan, 'ready');
    await dan.waitState('available');
    const peerBefore = await hook(kiosk, 'peer');

    // dan answers, then carla takes the citizen back.
    await consultThroughTheBox(carla, 'dan');
    await expectOnHold(kiosk);
    await dan.waitState('ringing', 5000);
    await carla.shot('w3-agent-consult-ringing');
    // The hold screen in English too.
    await kiosk.click('lang');
    assert.match(await text(kiosk, 'hold'), /Your adviser is consulting a colleague\.\s+Please wait, do not hang up\./);
    await kiosk.click('lang');
    assert.match(await text(kiosk, 'hold'), /Votre conseiller consulte un collègue\./);
    await dan.click('accept');
    await waitFor(() => text(carla, 'consult-status'), (t) => t === 'dan est en ligne avec vous', 10000, 'carla sees dan joined');
    await waitFor(() => frames(dan), (n) => n > 0, 10000, "dan decodes carla's video");
    const held = await frames(kiosk);
    await carla.click('consult-cancel');
    await waitFor(() => text(kiosk, 'hold'), (t) => t === null, 5000, 'the hold screen goes');
    await kiosk.waitState('call');
    await dan.waitState('available', 5000);
    assert.equal(await text(dan, 'idle-note'), 'Consultation avec carla terminée.');
    assert.equal(await text(dan, 'consult'), null);
    await waitFor(() => text(carla, 'consult-status'), (t) => t === "Consultation terminée — l'usager est de nouveau en ligne", 5000, 'carla is told');
    assert.equal(await text(carla, 'consult-complete'), null, 'no more hand-over button');
    assert.equal(await carla.state(), 'call');
    await waitFor(() => frames(kiosk), (n) => n > held + 10, 10000, "the kiosk decodes carla's video again");
    assert.equal(await value(kiosk, '[data-testid="chat-input"]', (i) => i.disabled), false, 'the chat is back');
    assert.deepEqual(await hook(kiosk, 'peer'), peerBefore, 'the kiosk kept its RTCPeerConnection');
    await carla.shot('w3-agent-consult-cancelled');

    // Once more, withdrawn while dan's console rings.
    await waitFor(() => value(carla, '[data-testid="transfer-open"]', (b) => b.disabled), (d) => d === false, 10000, 'the transfer box can open again');
    await consultThroughTheBox(carla, 'dan');
    await expectOnHold(kiosk);
    await dan.waitState('ringing', 5000);
    await carla.click('consult-cancel');
    await waitFor(() => text(kiosk, 'hold'), (t) => t === null, 5000, 'the hold screen goes');
    await dan.waitState('available', 5000);
    await waitFor(() => text(carla, 'consult-status'), (t) => t === "Consultation annulée — l'usager est de nouveau en ligne", 5000, 'carla is told');
    assert.equal(await carla.state(), 'call');

    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await carla.waitState('wrap_up');
  } finally {
    await kiosk.close();
    await dan.close();
    await carla.close();
  }
});
