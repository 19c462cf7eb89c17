// Blind transfer against the real `relais` binary in Chromium: a kiosk calls the CAF, alice
// answers (video both ways, a supervisor listens in), then transfers the call to the CPAM. The
// kiosk keeps its RTCPeerConnection and its camera, shows that it is being transferred and its
// place in the CPAM queue; alice goes to wrap-up; the supervisor's panel closes with a notice.
// bob answers: his video arrives on the kiosk's existing peer and keeps flowing. Prints the time
// from bob's "Décrocher" to the kiosk's first decoded frame of his video.
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


/// Samples the page's inbound statistics every 40 ms in the page itself (timestamps on the
/// clock every page and this process share) until `stopSampling`.
function startSampling(console_) {
  return console_.page.evaluate(() => {
    window.transferSamples = [];
    window.transferSampler = setInterval(async () => {
      const s = await window.relaisTest.mediaStats();
      window.transferSamples.push({ at: Date.now(), frames: s.framesDecoded, audio: s.audioPackets, sent: s.framesSent, video: s.video });
    }, 40);
  });
}

function stopSampling(console_) {
  return console_.page.evaluate(() => {
    clearInterval(window.transferSampler);
    return window.transferSamples;
  });
}

/// A screenshot as at 200 % zoom (half the CSS pixels, twice the device pixels).
async function zoomShot(console_, name) {
  await console_.page.setViewport({ width: 640, height: 400, deviceScaleFactor: 2 });
  await console_.shot(name);
  await console_.page.setViewport({ width: 1280, height: 800 });
}

test('an agent transfers a call: the kiosk keeps its peer and decodes the next agent', { timeout: 45000 }, async () => {
  const started = Date.now();
  const supervisor = await openConsole(chromium, server.url, '/supervisor', await server.token('supervisor', 'sophie'), 'wallboard');
  const alice = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'alice', ['--skills', 'caf:3']), 'agent alice');
  const bob = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'bob', ['--skills', 'cpam:3']), 'agent bob');
  const kiosk = await openConsole(chromium, server.url, '/kiosk', await server.token('kiosk', 'borne-transfert', ['--site', 'mairie-test']), 'kiosk');
  try {
    await supervisor.waitState('live');
    await Promise.all([alice.waitState('not_ready'), bob.waitState('not_ready'), kiosk.waitState('start')]);
    await setAgentState(alice, 'ready');
    await alice.waitState('available');

    // The kiosk calls the CAF; alice answers; video and audio both ways.
    await kiosk.click('service-caf');
    await kiosk.waitState('check');
    await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
    await kiosk.click('call');
    await alice.waitState('ringing');
    await alice.click('accept');
    await Promise.all([kiosk.waitState('call'), alice.waitState('call')]);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(alice, 'alice')]);
    const peerBefore = await hook(kiosk, 'peer');
    assert.equal(peerBefore.made, 1, 'the kiosk made one peer connection for the call');
    const videoBefore = (await kiosk.stats()).video.filter((v) => v.framesDecoded > 0);
    assert.equal(videoBefore.length, 1, "the kiosk decodes one video, alice's");

    // A supervisor listens in; the transfer will end its supervision.
    const [live] = await waitFor(() => hook(supervisor, 'liveCalls'), (calls) => calls.length === 1, 10000, 'the wallboard lists the call');
    await supervisor.click(`monitor-${live.call}`);
    await waitFor(() => hook(supervisor, 'supervision'), (s) => s?.mode === 'monitor', 5000, 'the supervisor monitors');

    // alice transfers to the CPAM (bob is logged in but not ready yet, so the kiosk waits).
    await alice.click('transfer-open');
    await alice.page.waitForSelector('[data-testid="transfer-service-cpam"]', { timeout: 5000 });
    const offered = await alice.page.$$eval('[data-testid="transfer-services"] input', (inputs) => inputs.map((i) => i.value));
    assert.ok(!offered.includes('caf'), `the call's own service is not offered (${offered})`);
    assert.ok(!offered.includes('urssaf'), `a closed service is not offered (${offered})`);
    await alice.click('transfer-service-cpam');
    await alice.shot('x1-agent-transfer-choice');
    await zoomShot(alice, 'x1-agent-transfer-choice-zoom200');
    await alice.click('transfer-confirm');

    await kiosk.waitState('transferring', 5000);
    assert.equal(await text(kiosk, 'transfer-title'), 'Le conseiller vous passe au service Assurance maladie (CPAM)…');
    assert.match(await text(kiosk, 'transfer'), /Restez en ligne\./);
    await waitFor(() => text(kiosk, 'transfer-position'), (p) => p === '1', 5000, 'the kiosk shows its place in the CPAM queue');
    assert.notEqual(await text(kiosk, 'remote-wait'), null, "alice's picture is covered, not frozen");
    assert.equal(await kiosk.page.$eval('[data-testid="hangup"]', (b) => !b.disabled && !b.closest('[hidden]')), true, 'the kiosk can still hang up');
    assert.equal(await kiosk.page.$eval('#self-video', (v) => v.srcObject?.getVideoTracks()[0]?.readyState), 'live', 'the camera preview stays');

    await alice.waitState('wrap_up');
    assert.equal(await text(alice, 'wrapup-note'), 'Appel transféré vers Assurance maladie (CPAM)');
    assert.deepEqual(await hook(alice, 'peer').then((p) => p.current), null, "alice's media is closed");

    await waitFor(() => hook(supervisor, 'supervision'), (s) => s === null, 5000, 'the supervision panel closed');
    assert.match(await hook(supervisor, 'note'), /L'appel a été transféré/);
    await kiosk.shot('x2-kiosk-transferring');
    await supervisor.shot('x3-wallboard-transferred');
    await alice.shot('x3-agent-wrapup-transferred');
    await zoomShot(kiosk, 'x2-kiosk-transferring-zoom200');

    // The kiosk's picture is frozen meanwhile: nothing comes from alice any more.
    const frozen = (await kiosk.stats()).framesDecoded;
    await sleep(600);
    const baseline = (await kiosk.stats()).framesDecoded;
    assert.ok(baseline - frozen <= 2, `no frames while nobody answers (${frozen} → ${baseline})`);

    // bob answers.
    await setAgentState(bob, 'ready');
    await bob.waitState('ringing', 10000);
    assert.match(await text(bob, 'offer-service'), /CPAM/);
    await Promise.all([startSampling(kiosk), startSampling(bob)]);
    const clickAt = Date.now();
    await bob.click('accept');
    await Promise.all([bob.waitState('call'), kiosk.waitState('call', 10000)]);
    const first = await waitFor(
      () => kiosk.page.evaluate((base) => window.transferSamples.find((s) => s.frames > base) || null, baseline),
      Boolean,
      10000,
      "the kiosk decodes bob's video",
    );
    const firstFrameMs = first.at - clickAt;
    console.log(`blind transfer → new agent's first frame at kiosk: ${firstFrameMs} ms`);
    const bobFirstSent = (await stopSampling(bob)).find((s) => s.sent > 0);
    if (bobFirstSent) console.log(`  (bob's first video frame sent at ${bobFirstSent.at - clickAt} ms after his click)`);
    // Three seconds of bob's video, then look for a stall.
    await sleep(3000);
    const samples = await stopSampling(kiosk);
    const after = samples.filter((s) => s.at >= first.at);
    let stall = 0;
    let lastGrowth = after[0];
    for (const s of after) {
      if (s.frames > lastGrowth.frames) {
        stall = Math.max(stall, s.at - lastGrowth.at);
        lastGrowth = s;
      }
    }
    stall = Math.max(stall, after[after.length - 1].at - lastGrowth.at);
    const last = after[after.length - 1];
    console.log(`after the transfer: ${last.frames - first.frames} frames in ${last.at - first.at} ms, longest stall ${stall} ms`);
    assert.ok(last.frames - first.frames >= 30, `framesDecoded keeps growing after bob answers (${first.frames} → ${last.frames})`);
    assert.ok(stall < 2000, `no stall over 2 s in the kiosk's video after bob's media starts (longest ${stall} ms)`);
    assert.ok(last.audio > first.audio, `bob's audio reaches the kiosk (${first.audio} → ${last.audio})`);

    // Same peer connection, same receiver: bob's video came on the slot alice's had.
    assert.deepEqual(await hook(kiosk, 'peer'), peerBefore, 'the kiosk kept its RTCPeerConnection');
    const videoAfter = last.video.filter((v) => v.framesDecoded > 0);
    assert.deepEqual(
      videoAfter.map((v) => [v.mid, v.track]),
      videoBefore.map((v) => [v.mid, v.track]),
      "bob's video arrives on the transceiver alice's used",
    );
    const bobSending = await bob.stats();
    assert.ok(bobSending.framesSent > 0, 'bob sends video');
    await expectMedia(bob, 'bob');
    assert.ok((await hook(kiosk, 'participants')).some((p) => p.role === 'agent' && p.name === 'bob'), 'the kiosk sees bob');
    await waitFor(() => hook(kiosk, 'videoWait'), (w) => w === false, 3000, "the kiosk's picture is shown again");
    assert.equal(await text(kiosk, 'transfer'), null, 'the transfer notice is gone');
    await kiosk.shot('x4-kiosk-bob');

    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await bob.waitState('wrap_up');
    console.log(`transfer test took ${Date.now() - started} ms`);
  } finally {
    await kiosk.close();
    await bob.close();
    await alice.close();
    await supervisor.close();
  }
});
