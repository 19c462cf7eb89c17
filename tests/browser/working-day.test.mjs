// A working day on the consoles against the real `relais` binary: the agent's microphone and
// camera toggles (and what the kiosk shows when the agent's camera is off), the notice when the
// citizen hangs up, the agent's state list following the server, a console opened in a second
// tab, and the layouts of a laptop (agent, 1366 × 768), of the kiosk (1280 × 800 and portrait
// totems) and of the wallboard on a TV (1280 × 720, 1920 × 1080). Screenshots of each go to
// tests/artifacts/working-day/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchChromium, launchFirefox, waitFor, sleep } from './browsers.mjs';
import { expectMedia, hook, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

const SHOTS = resolve(import.meta.dirname, '..', 'artifacts', 'working-day');

// A service whose wrap-up lasts long enough to look at it.
const EXTRA = `
[[services]]
id = "ccas"
name = "CCAS — action sociale"
offer_timeout_secs = 8
wrap_up_secs = 60
[[services.skills]]
skill = "ccas"
min_proficiency = 1
`;

let server;
let chromium;

before(async () => {
  server = await startServer({ extraConfig: EXTRA });
  chromium = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

async function shot(console_, name) {
  const file = join(SHOTS, `${name}.png`);
  await console_.page.screenshot({ path: file });
  return file;
}

const viewport = (console_, width, height) => console_.page.setViewport({ width, height });

/// Records the page's websockets and lets a test cut them and keep them from coming back.
function socketControl() {
  const Native = window.WebSocket;
  window.testSockets = [];
  window.testBlockSockets = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(window.testBlockSockets ? String(url).replace(/\/ws$/, '/no-websocket-here') : url, protocols);
      window.testSockets.push(this);
    }
  };
}

async function agentFor(browser, sub, skills, { ready = true, preload = null } = {}) {
  const token = await server.token('agent', sub, ['--skills', skills]);
  const agent = await openConsole(browser, server.url, '/agent', token, `agent ${sub}`, { isolated: browser === chromium, preload });
  await agent.waitState('not_ready');
  if (ready) {
    await setAgentState(agent, 'ready');
    await agent.waitState('available');
  }
  return agent;
}

async function kioskFor(sub) {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', token, `kiosk ${sub}`);
  await kiosk.waitState('start');
  return kiosk;
}

async function kioskCalls(kiosk, service) {
  await kiosk.click(`service-${service}`);
  await kiosk.waitState('check');
  await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
  await kiosk.click('call');
  await kiosk.waitState(['waiting', 'call']);
}

/// A kiosk calls `service`, the agent answers, media flows both ways.
async function connectedCall(agent, kiosk, service) {
  await kioskCalls(kiosk, service);
  await agent.waitState('ringing');
  await agent.click('accept');
  await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
  await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
}

/// The agent's state list: the text of the selected entry, whether the list can be used, and
/// the values it offers (enabled and shown).
const stateList = (agent) =>
  agent.page.$eval('[data-testid="state-select"]', (select) => ({
    shown: select.selectedOptions[0]?.textContent.trim() ?? null,
    disabled: select.disabled,
    choices: [...select.options].filter((o) => !o.disabled && !o.hidden).map((o) => o.value),
    labels: Object.fromEntries([...select.options].filter((o) => !o.disabled && !o.hidden).map((o) => [o.value, o.textContent.trim()])),
  }));

const button = (console_, testid) =>
  console_.page.$eval(`[data-testid="${testid}"]`, (b) => ({ label: b.textContent.trim(), pressed: b.getAttribute('aria-pressed'), disabled: b.disabled }));

/// Where an element is, and the viewport, in CSS pixels (the page scrolled to its top first).
async function box(console_, selector) {
  return console_.page.evaluate((sel) => {
    window.scrollTo(0, 0);
    const el = document.querySelector(sel);
    const r = el.getBoundingClientRect();
    const hidden = Boolean(el.closest('[hidden]')) || getComputedStyle(el).visibility === 'hidden';
    return {
      top: r.top,
      bottom: r.bottom,
      left: r.left,
      right: r.right,
      width: r.width,
      height: r.height,
      hidden,
      vw: window.innerWidth,
      vh: window.innerHeight,
      scrollHeight: document.scrollingElement.scrollHeight,
    };
  }, selector);
}

function assertInViewport(b, what) {
  assert.ok(!b.hidden && b.height > 0, `${what} is shown`);
  assert.ok(b.top >= 0 && b.left >= 0 && b.bottom <= b.vh && b.right <= b.vw, `${what} is inside the ${b.vw}×${b.vh} viewport without scrolling (${JSON.stringify(b)})`);
}

test('the agent mutes and turns the camera off: labels, aria-pressed and the tracks follow', { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'amelie', 'caf:3');
  const kiosk = await kioskFor('borne-toggles');
  try {
    await connectedCall(agent, kiosk, 'caf');
    assert.deepEqual(await button(agent, 'mute'), { label: 'Couper le micro', pressed: 'false', disabled: false });
    assert.deepEqual(await button(agent, 'camera'), { label: 'Couper la caméra', pressed: 'false', disabled: false });
    const enabled = async () => Object.fromEntries((await hook(agent, 'senders')).map((s) => [s.kind, s.enabled]));
    assert.deepEqual(await enabled(), { audio: true, video: true }, 'both tracks are sent enabled');

    await agent.click('mute');
    assert.deepEqual(await button(agent, 'mute'), { label: 'Réactiver le micro', pressed: 'true', disabled: false });
    assert.deepEqual(await enabled(), { audio: false, video: true }, 'the microphone track is disabled, not the camera');
    await agent.click('camera');
    assert.deepEqual(await button(agent, 'camera'), { label: 'Réactiver la caméra', pressed: 'true', disabled: false });
    assert.deepEqual(await enabled(), { audio: false, video: false }, 'the camera track is disabled too');
    assert.equal(await text(agent, 'self-off'), 'Votre caméra est coupée', 'the self-view says the camera is off');
    await shot(agent, 'agent-muted-camera-off');

    await agent.click('mute');
    await agent.click('camera');
    assert.deepEqual(await button(agent, 'mute'), { label: 'Couper le micro', pressed: 'false', disabled: false });
    assert.deepEqual(await button(agent, 'camera'), { label: 'Couper la caméra', pressed: 'false', disabled: false });
    assert.deepEqual(await enabled(), { audio: true, video: true }, 'both tracks are enabled again');
    assert.equal(await text(agent, 'self-off'), null);

    // The kiosk's microphone toggle too; it starts unmuted on the next call.
    await kiosk.click('mute');
    assert.deepEqual(await button(kiosk, 'mute'), { label: 'Réactiver le micro', pressed: 'true', disabled: false });
    assert.deepEqual((await hook(kiosk, 'senders')).filter((s) => s.kind === 'audio').map((s) => s.enabled), [false]);
    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await kiosk.click('home');
    await kiosk.waitState('start');
    assert.deepEqual(await button(kiosk, 'mute'), { label: 'Couper le micro', pressed: 'false', disabled: false }, 'the next call starts with the microphone on');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

/// The kiosk's notice over the agent's picture, or null while it is hidden.
const cameraNotice = (kiosk) => text(kiosk, 'camera-off-title');

async function cameraOffOnKiosk(agentBrowser, sub, service, skills, name) {
  const agent = await agentFor(agentBrowser, sub, skills);
  const kiosk = await kioskFor(`borne-camera-${sub}`);
  try {
    await connectedCall(agent, kiosk, service);
    // The agent's picture comes: no notice (the fake camera is not black).
    await sleep(3000);
    assert.equal(await cameraNotice(kiosk), null, 'no notice while the picture comes');
    assert.equal(await hook(kiosk, 'picture'), 'picture');

    await agent.click('camera');
    const started = Date.now();
    await waitFor(() => cameraNotice(kiosk), (t) => t === 'Le conseiller a coupé sa caméra', 10000, 'the kiosk says the camera is off');
    console.log(`${name}: camera off → kiosk notice in ${Date.now() - started} ms (${await hook(kiosk, 'picture')})`);
    assert.match(await text(kiosk, 'camera-off'), /Vous entendez toujours le conseiller/);
    // Audio still flows meanwhile.
    const before = (await kiosk.stats()).audioPackets;
    await sleep(1000);
    assert.ok((await kiosk.stats()).audioPackets > before, 'the kiosk still receives the voice');
    await shot(kiosk, `kiosk-1280x800-agent-camera-off-${name}`);

    await agent.click('camera');
    await waitFor(() => cameraNotice(kiosk), (t) => t === null, 10000, 'the notice goes when the picture is back');
    assert.equal(await hook(kiosk, 'picture'), 'picture');
    await kiosk.click('hangup');
    await kiosk.waitState('ended');
  } finally {
    await kiosk.close();
    await agent.close();
  }
}

test("the kiosk says so when the agent's camera is off (agent in Chromium)", { timeout: 60000 }, async () => {
  await cameraOffOnKiosk(chromium, 'bruno', 'cpam', 'cpam:3', 'chromium');
});

test("the agent's toggles and the kiosk's notice with the agent in Firefox ESR", { timeout: 90000 }, async () => {
  const firefox = await launchFirefox();
  try {
    const agent = await agentFor(firefox, 'fanny', 'ants:3');
    const kiosk = await kioskFor('borne-firefox');
    try {
      await connectedCall(agent, kiosk, 'ants');
      await agent.click('mute');
      assert.deepEqual(await button(agent, 'mute'), { label: 'Réactiver le micro', pressed: 'true', disabled: false });
      await agent.click('camera');
      assert.deepEqual(await button(agent, 'camera'), { label: 'Réactiver la caméra', pressed: 'true', disabled: false });
      assert.deepEqual(Object.fromEntries((await hook(agent, 'senders')).map((s) => [s.kind, s.enabled])), { audio: false, video: false });
      const started = Date.now();
      await waitFor(() => cameraNotice(kiosk), (t) => t === 'Le conseiller a coupé sa caméra', 10000, 'the kiosk says the camera is off');
      console.log(`firefox: camera off → kiosk notice in ${Date.now() - started} ms (${await hook(kiosk, 'picture')})`);
      await shot(kiosk, 'kiosk-1280x800-agent-camera-off-firefox');
      await agent.click('camera');
      await agent.click('mute');
      assert.deepEqual(Object.fromEntries((await hook(agent, 'senders')).map((s) => [s.kind, s.enabled])), { audio: true, video: true });
      await waitFor(() => cameraNotice(kiosk), (t) => t === null, 10000, 'the notice goes when the picture is back');
      await kiosk.click('hangup');
      await kiosk.waitState('ended');
    } finally {
      await kiosk.close();
      await agent.close();
    }
  } finally {
    await firefox.close();
  }
});

test('the agent is told when the citizen hangs up', { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'celine', 'ccas:3');
  const kiosk = await kioskFor('borne-hangup');
  try {
    await connectedCall(agent, kiosk, 'ccas');
    assert.equal(await text(agent, 'wrapup-note'), null);
    await kiosk.click('hangup');
    await agent.waitState('wrap_up');
    await waitFor(() => text(agent, 'wrapup-note'), (t) => t === "L'usager a raccroché.", 3000, 'the wrap-up says the citizen hung up');
    await waitFor(() => agent.page.$eval('[data-testid="announce"]', (e) => e.textContent), (t) => t === "L'usager a raccroché.", 3000, 'said to screen readers');
    assert.equal(await agent.page.$eval('[data-testid="announce"]', (e) => e.getAttribute('role')), 'status');
    assert.equal(await agent.page.$eval('[data-testid="wrapup-note"]', (e) => e.getAttribute('role')), 'status');
    await shot(agent, 'agent-1280x800-citizen-hung-up');

    // Ending the wrap-up takes the note away; the next call starts without it.
    await agent.click('wrapup-done');
    await agent.waitState('available');
    assert.equal(await text(agent, 'wrapup-note'), null);
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('the kiosk tells the truth about the wait; a call refused comes back to the agent with the reason', { timeout: 60000 }, async () => {
  const kiosk = await kioskFor('borne-truth');
  let agent = null;
  try {
    // Nobody serves the service: a position, no promise of an answer, the options.
    await kioskCalls(kiosk, 'ccas');
    await kiosk.waitState('waiting');
    await waitFor(() => text(kiosk, 'position'), (t) => t === '1', 5000, 'the kiosk shows position 1');
    assert.equal(await text(kiosk, 'eta'), "Aucun conseiller n'est disponible pour le moment.");
    assert.match(await text(kiosk, 'no-agent'), /votre place est gardée/);
    assert.doesNotMatch(await kiosk.page.$eval('.waiting-box', (e) => e.textContent), /bientôt/);
    await shot(kiosk, 'kiosk-1280x800-no-agent');

    // An agent comes, is offered the call and refuses it: the kiosk keeps its place in view.
    agent = await agentFor(chromium, 'jules', 'ccas:3', { ready: false });
    await setAgentState(agent, 'ready');
    await agent.waitState('ringing');
    assert.equal(await text(agent, 'offer-again'), null, 'a first offer is a plain one');
    await agent.click('reject');
    await agent.waitState('available');
    await waitFor(() => text(kiosk, 'position'), (t) => t === '1', 5000, 'the kiosk shows its position after the refusal');
    assert.equal(await text(kiosk, 'no-agent'), null, 'an agent serves the service now');
    assert.notEqual(await text(kiosk, 'eta'), "Aucun conseiller n'est disponible pour le moment.");

    // Nobody else can take it: it rings the same agent again, who is told why.
    await agent.waitState('ringing', 20000);
    assert.match(await text(agent, 'offer-again'), /déjà été proposé/);
    await shot(agent, 'agent-1280x800-offered-again');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await kiosk.click('hangup');
    await agent.waitState('wrap_up');
  } finally {
    await kiosk.close();
    await agent?.close();
  }
});

test("the agent's state list shows the real state and only the changes allowed now", { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'denis', 'ccas:3', { ready: false, preload: socketControl });
  const kiosk = await kioskFor('borne-states');
  try {
    // Just signed in: not ready (login); it may become available or pause.
    let list = await stateList(agent);
    assert.equal(list.shown, 'Indisponible (connexion)');
    assert.equal(list.disabled, false);
    assert.deepEqual(list.choices, ['ready', 'pause', 'lunch', 'training', 'meeting', 'back_office']);

    await setAgentState(agent, 'ready');
    await agent.waitState('available');
    list = await stateList(agent);
    assert.equal(list.shown, 'Disponible');
    assert.deepEqual(list.choices, ['pause', 'lunch', 'training', 'meeting', 'back_office'], 'no "Disponible" again, the pauses');

    await setAgentState(agent, 'lunch');
    await agent.waitState('not_ready');
    list = await stateList(agent);
    assert.equal(list.shown, 'Repas');
    assert.deepEqual(list.choices, ['ready', 'pause', 'training', 'meeting', 'back_office']);
    await setAgentState(agent, 'ready');
    await agent.waitState('available');

    await kioskCalls(kiosk, 'ccas');
    await agent.waitState('ringing');
    list = await stateList(agent);
    assert.equal(list.shown, 'Appel entrant');
    assert.ok(!list.choices.includes('ready'), `no "Disponible" while a call is offered (${list.choices})`);
    await agent.click('accept');
    await agent.waitState('call');
    list = await stateList(agent);
    assert.equal(list.shown, 'En communication');
    assert.equal(list.disabled, true, 'no change of state on a call');
    assert.deepEqual(list.choices, []);
    await shot(agent, 'agent-1280x800-state-on-call');

    await kiosk.click('hangup');
    await agent.waitState('wrap_up');
    list = await stateList(agent);
    assert.equal(list.shown, "Fin d'appel");
    assert.equal(list.disabled, false);
    assert.equal(list.labels.ready, "Disponible (terminer la fin d'appel)", 'the wrap-up may be ended');
    assert.ok(list.choices.includes('pause'));
    await setAgentState(agent, 'ready');
    await agent.waitState('available');
    assert.equal((await stateList(agent)).shown, 'Disponible');

    // The connection drops and stays down: offline, nothing to choose.
    await agent.page.evaluate(() => {
      window.testBlockSockets = true;
      for (const ws of window.testSockets) ws.close();
    });
    await agent.waitState('offline');
    list = await stateList(agent);
    assert.equal(list.shown, 'Hors ligne');
    assert.equal(list.disabled, true);
    assert.deepEqual(list.choices, []);
    await shot(agent, 'agent-1280x800-offline');
    // Back: the server's state again.
    await agent.page.evaluate(() => {
      window.testBlockSockets = false;
    });
    await agent.waitState('not_ready', 20000);
    assert.match((await stateList(agent)).shown, /^Indisponible \(/);
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('a console opened in a second tab: the first one says so, disables its controls, can take the session back', { timeout: 60000 }, async () => {
  const token = await server.token('agent', 'emma', ['--skills', 'mairie:3']);
  const first = await openConsole(chromium, server.url, '/agent', token, 'agent emma, first tab');
  await first.waitState('not_ready');
  await setAgentState(first, 'ready');
  await first.waitState('available');
  assert.equal(await text(first, 'conn'), 'En ligne');
  const second = await openConsole(chromium, server.url, '/agent', token, 'agent emma, second tab');
  try {
    await second.waitState('available');
    await first.waitState('replaced');
    assert.equal(await text(first, 'conn-text'), 'Session ouverte dans un autre onglet');
    assert.notEqual(await text(first, 'conn-text'), 'En ligne');
    assert.match(await text(first, 'replaced'), /Session ouverte dans un autre onglet/);
    const list = await stateList(first);
    assert.equal(list.shown, 'Session ouverte dans un autre onglet');
    assert.equal(list.disabled, true);
    for (const id of ['hangup', 'mute', 'camera', 'accept', 'reject']) {
      assert.equal((await button(first, id)).disabled, true, `${id} is disabled in the replaced tab`);
    }
    await shot(first, 'agent-1280x800-session-replaced');

    // Taking it back: the first tab is online again, the second one is told.
    await first.click('reclaim');
    await first.waitState('available');
    assert.equal(await text(first, 'conn-text'), 'En ligne');
    await second.waitState('replaced');
    assert.equal((await stateList(first)).shown, 'Disponible');
  } finally {
    await second.close();
    await first.close();
  }
});

test('layouts: the agent on a laptop, the kiosk at 1280 × 800 and on portrait totems', { timeout: 90000 }, async () => {
  const agent = await agentFor(chromium, 'fabien', 'caf:3');
  const kiosk = await kioskFor('borne-layout');
  try {
    await viewport(agent, 1366, 768);
    // The kiosk's screens on a 1080 × 1920 totem: the start and the check screens use the height.
    await viewport(kiosk, 1080, 1920);
    await sleep(300);
    const lastService = await box(kiosk, '#services li:last-child button');
    console.log(`kiosk 1080×1920 start: last service ends at ${Math.round(lastService.bottom)} px (${Math.round((100 * lastService.bottom) / lastService.vh)} %)`);
    assertInViewport(lastService, 'the last service');
    assert.ok(lastService.bottom > 0.6 * lastService.vh, `the services reach below 60 % of the height (${Math.round(lastService.bottom)} of ${lastService.vh})`);
    await shot(kiosk, 'kiosk-1080x1920-start');
    await kiosk.click('service-caf');
    await kiosk.waitState('check');
    await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
    const callButton = await box(kiosk, '[data-testid="call"]');
    console.log(`kiosk 1080×1920 check: call button ends at ${Math.round(callButton.bottom)} px`);
    assertInViewport(callButton, 'the call button');
    assert.ok(callButton.bottom > 0.6 * callButton.vh, `the call button is below 60 % of the height (${Math.round(callButton.bottom)})`);
    await shot(kiosk, 'kiosk-1080x1920-check');
    await kiosk.click('call');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);

    // The agent's hang-up button is in view on a 1366 × 768 laptop, and so are the others.
    const hangup = await box(agent, '[data-testid="hangup"]');
    console.log(`agent 1366×768 call: hang-up at ${Math.round(hangup.top)}–${Math.round(hangup.bottom)} px, page ${hangup.scrollHeight} px tall`);
    assertInViewport(hangup, "the agent's hang-up button");
    assertInViewport(await box(agent, '[data-testid="mute"]'), "the agent's mute button");
    assertInViewport(await box(agent, '#remote-video'), "the citizen's picture");
    assert.ok(hangup.height >= 56, `the hang-up target is 56 px tall at least (${hangup.height})`);
    await shot(agent, 'agent-1366x768-call');

    for (const [w, h] of [[1080, 1920], [768, 1366]]) {
      await viewport(kiosk, w, h);
      await sleep(300);
      const video = await box(kiosk, '#remote-video');
      const kioskHangup = await box(kiosk, '[data-testid="hangup"]');
      const chat = await box(kiosk, '[data-testid="chat-send"]');
      console.log(`kiosk ${w}×${h} call: picture ${Math.round(video.top)}–${Math.round(video.bottom)} px, hang-up ends at ${Math.round(kioskHangup.bottom)} px, chat at ${Math.round(chat.bottom)}, page ${video.scrollHeight} px`);
      assertInViewport(kioskHangup, `the kiosk's hang-up button at ${w}×${h}`);
      assertInViewport(chat, `the kiosk's chat at ${w}×${h}`);
      assert.ok(video.bottom > 0.5 * h, `the picture reaches below half the height at ${w}×${h} (${Math.round(video.bottom)})`);
      assert.ok(kioskHangup.bottom > 0.6 * h, `the call buttons are below 60 % of the height at ${w}×${h} (${Math.round(kioskHangup.bottom)})`);
      assert.ok(video.width >= 0.85 * w, `the picture spans the width at ${w}×${h} (${Math.round(video.width)})`);
      await shot(kiosk, `kiosk-${w}x${h}-call`);
    }
    // Landscape 1280 × 800 as before: the picture, the buttons and the chat in view.
    await viewport(kiosk, 1280, 800);
    await sleep(300);
    const landscape = await box(kiosk, '[data-testid="hangup"]');
    assertInViewport(landscape, "the kiosk's hang-up button at 1280×800");
    const picture = await box(kiosk, '#remote-video');
    console.log(`kiosk 1280×800 call: picture ${Math.round(picture.width)}×${Math.round(picture.height)}, hang-up ends at ${Math.round(landscape.bottom)} px, page ${landscape.scrollHeight} px`);
    assert.ok(picture.height >= 0.6 * 800, `the picture keeps most of the height (${Math.round(picture.height)})`);
    await shot(kiosk, 'kiosk-1280x800-call');

    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await viewport(kiosk, 768, 1366);
    await sleep(300);
    await shot(kiosk, 'kiosk-768x1366-ended');
    await kiosk.click('home');
    await kiosk.waitState('start');
    await sleep(300);
    const last768 = await box(kiosk, '#services li:last-child button');
    assertInViewport(last768, 'the last service at 768×1366');
    assert.ok(last768.bottom > 0.6 * 1366, `the services reach below 60 % of the height at 768×1366 (${Math.round(last768.bottom)})`);
    await shot(kiosk, 'kiosk-768x1366-start');
    await viewport(kiosk, 1280, 800);
    await sleep(300);
    await shot(kiosk, 'kiosk-1280x800-start');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('the wallboard fills a TV at 1280 × 720 and 1920 × 1080 without scrolling, in large type', { timeout: 90000 }, async () => {
  const wallboard = await openConsole(chromium, server.url, '/supervisor', await server.token('supervisor', 'sophie'), 'wallboard');
  const agents = [];
  let kiosk = null;
  try {
    await wallboard.waitState('live');
    agents.push(await agentFor(chromium, 'gael', 'cpam:3'));
    agents.push(await agentFor(chromium, 'hugo', 'caf:3,mairie:2', { ready: false }));
    agents.push(await agentFor(chromium, 'ines', 'ants:3'));
    kiosk = await kioskFor('borne-wallboard');
    await connectedCall(agents[0], kiosk, 'cpam');
    await waitFor(() => hook(wallboard, 'liveCalls'), (calls) => calls.length === 1, 10000, 'the wallboard lists the call');
    await waitFor(
      () => wallboard.page.$$eval('[data-testid="agent-rows"] tr[data-agent]', (rows) => rows.length),
      (n) => n >= 3,
      10000,
      'the wallboard lists the agents',
    );
    for (const [w, h] of [[1280, 720], [1920, 1080]]) {
      await viewport(wallboard, w, h);
      await sleep(1200);
      const m = await wallboard.page.evaluate(() => {
        const px = (el) => parseFloat(getComputedStyle(el).fontSize);
        const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
        const labels = [...document.querySelectorAll('[data-testid="tiles-head"] span, .agents th, .live h2, .agents h2, .chart h2')].filter(visible);
        const values = [...document.querySelectorAll('.tile .kpi dd')].filter(visible);
        const names = [...document.querySelectorAll('.tile h3, [data-testid="agent-rows"] td')].filter(visible);
        const main = document.querySelector('main.wallboard');
        const bottom = Math.max(...[...main.querySelectorAll('.tiles, .live, .agents, .chart')].map((e) => e.getBoundingClientRect().bottom));
        return {
          scrollHeight: document.scrollingElement.scrollHeight,
          scrollWidth: document.scrollingElement.scrollWidth,
          innerHeight: window.innerHeight,
          innerWidth: window.innerWidth,
          labelCount: labels.length,
          smallestLabel: Math.min(...labels.map(px)),
          smallestValue: Math.min(...values.map(px)),
          smallestName: Math.min(...names.map(px)),
          contentBottom: bottom,
          tiles: document.querySelectorAll('.tile').length,
        };
      });
      console.log(`wallboard ${w}×${h}: ${JSON.stringify(m)}`);
      await shot(wallboard, `wallboard-${w}x${h}`);
      assert.ok(m.tiles >= 5, 'a few queues');
      assert.ok(m.scrollHeight <= m.innerHeight, `no vertical scrolling at ${w}×${h} (${m.scrollHeight} > ${m.innerHeight})`);
      assert.ok(m.scrollWidth <= m.innerWidth, `no horizontal scrolling at ${w}×${h} (${m.scrollWidth})`);
      assert.ok(m.labelCount > 5, 'labels are shown');
      const scale = h / 720;
      assert.ok(m.smallestLabel >= 19.5 * scale, `labels ≥ ${20 * scale} px at ${w}×${h} (smallest ${m.smallestLabel})`);
      assert.ok(m.smallestName >= 19.5 * scale, `names ≥ ${20 * scale} px at ${w}×${h} (smallest ${m.smallestName})`);
      assert.ok(m.smallestValue >= 28 * scale, `figures ≥ ${28 * scale} px at ${w}×${h} (smallest ${m.smallestValue})`);
      assert.ok(m.contentBottom >= 0.9 * m.innerHeight, `no empty bottom third at ${w}×${h} (content ends at ${Math.round(m.contentBottom)} of ${m.innerHeight})`);
    }
    await kiosk.click('hangup');
    await kiosk.waitState('ended');
  } finally {
    await kiosk?.close();
    for (const agent of agents) await agent.close();
    await wallboard.close();
  }
});

test('the agent signs out at the end of the day: the console forgets the token, the wallboard forgets the agent', { timeout: 60000 }, async () => {
  const wallboard = await openConsole(chromium, server.url, '/supervisor', await server.token('supervisor', 'sylvie'), 'wallboard');
  const agent = await agentFor(chromium, 'karim', 'caf:3');
  try {
    await wallboard.waitState('live');
    const listed = () => wallboard.page.$$eval('[data-testid="agent-rows"] tr[data-agent="karim"]', (rows) => rows.length);
    await waitFor(listed, (n) => n === 1, 10000, 'the wallboard lists the agent');
    assert.equal(await text(agent, 'signout'), 'Se déconnecter');
    await agent.click('signout');
    await agent.waitState('signin');
    assert.match(await text(agent, 'signin-note'), /Vous êtes déconnecté/);
    assert.equal(await agent.page.evaluate(() => sessionStorage.getItem('relais.token')), null, 'no token left behind');
    assert.equal(await text(agent, 'signout'), null, 'nothing to sign out of');
    await waitFor(listed, (n) => n === 0, 10000, 'the wallboard no longer lists the agent');
    await shot(agent, 'agent-1280x800-signed-out');
  } finally {
    await agent.close();
    await wallboard.close();
  }
});

test('the wrap-up keeps the case number, the notes and a code of the service; the history finds them', { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'lea', 'ccas:3');
  const kiosk = await kioskFor('borne-case');
  try {
    await connectedCall(agent, kiosk, 'ccas');
    await kiosk.click('hangup');
    await agent.waitState('wrap_up');
    const codes = await agent.page.$$eval('#dispositions option', (options) => options.map((o) => o.value));
    assert.deepEqual(codes, ['renseignement', 'dossier-transmis', 'rendez-vous', 'reorientation', 'sans-suite'], 'the service codes');
    await agent.page.type('[data-testid="case-ref"]', 'CCAS-2026-0815');
    await agent.page.type('[data-testid="case-notes"]', 'Aide au chauffage : dossier complet.');
    // Saved as typed: the wrap-up may run out before the agent presses « Terminer ».
    await waitFor(() => text(agent, 'case-status'), (t) => t === 'Dossier et notes enregistrés.', 5000, 'the notes are saved as typed');
    // A code the service does not list is refused, and the agent is told its codes.
    await agent.page.type('[data-testid="disposition"]', 'dossier-perdu');
    await agent.click('wrapup-done');
    await waitFor(() => text(agent, 'case-status'), (t) => /^Code de clôture inconnu : « dossier-perdu »\. Choisissez : renseignement, dossier-transmis/.test(t || ''), 5000, 'an unknown code is refused');
    assert.equal(await agent.state(), 'wrap_up', 'the wrap-up goes on');
    await agent.page.$eval('[data-testid="disposition"]', (input) => {
      input.value = '';
    });
    await agent.page.type('[data-testid="disposition"]', 'dossier-transmis');
    await shot(agent, 'agent-1280x800-wrap-up-case');
    await agent.click('wrapup-done');
    await agent.waitState('available');
    const lastRow = () =>
      agent.page.$$eval('[data-testid="today-rows"] tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
    await waitFor(lastRow, (rows) => rows.length >= 1 && rows[0][6] === 'dossier-transmis', 10000, "today's calls show the code");
    let rows = await lastRow();
    assert.equal(rows[0][7], 'CCAS-2026-0815');
    assert.equal(rows[0][8], 'Aide au chauffage : dossier complet.');

    // A search by case number (a prefix), then by another service: none.
    await agent.page.type('[data-testid="history-case"]', 'ccas-2026');
    await agent.click('history-search');
    await waitFor(() => text(agent, 'history-today'), (t) => t === 'Revenir au jour', 5000, 'the search is shown');
    rows = await lastRow();
    assert.equal(rows.length, 1);
    assert.equal(rows[0][7], 'CCAS-2026-0815');
    await agent.page.select('[data-testid="history-service"]', 'caf');
    await agent.click('history-search');
    await waitFor(lastRow, (r) => r.length === 1 && r[0][0] === 'Aucun appel ne correspond à cette recherche.', 5000, 'nothing in another service');
    await shot(agent, 'agent-1280x800-history-search');
    await agent.click('history-today');
    await waitFor(lastRow, (r) => r.length >= 1 && r[0][7] === 'CCAS-2026-0815', 5000, "back to today's calls");
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('both sides see the quality of the link during a call, in figures and in words; the kiosk sets its volume on screen', { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'malik', 'caf:3');
  const kiosk = await kioskFor('borne-quality');
  try {
    await connectedCall(agent, kiosk, 'caf');
    // On loopback: a good link, with a round trip, a loss share and a bitrate.
    const sample = await waitFor(() => hook(agent, 'quality'), (q) => q?.quality === 'good' && q.kbps > 10, 10000, "the agent's link is measured");
    assert.ok(sample.rtt >= 0 && sample.rtt < 0.3, `round trip ${sample.rtt}`);
    assert.ok(sample.loss >= 0 && sample.loss < 0.03, `loss ${sample.loss}`);
    assert.match(await text(agent, 'quality'), /^Connexion bonne · \d+ ms · [\d,]+ % de perte · [\d,]+ (k|M)bit\/s$/);
    assert.equal(await text(agent, 'quality-warning'), null);
    await waitFor(() => hook(kiosk, 'quality'), (q) => q?.quality === 'good', 10000, "the kiosk's link is measured");
    assert.equal(await text(kiosk, 'quality'), 'Connexion : bonne');
    await shot(kiosk, 'kiosk-1280x800-quality');
    // The citizen turns the agent's voice down on screen.
    await kiosk.click('volume-down');
    await kiosk.click('volume-down');
    assert.equal(await text(kiosk, 'volume-level'), '60 %');
    assert.equal(await kiosk.page.$eval('#remote-video', (v) => Math.round(v.volume * 10) / 10), 0.6);
    await kiosk.click('volume-up');
    assert.equal(await kiosk.page.$eval('#remote-video', (v) => Math.round(v.volume * 10) / 10), 0.8);
    assert.equal(await kiosk.page.$eval('[data-testid="volume-up"]', (b) => b.disabled), false);
    // The thresholds: 300 ms or 3 % is fair, 600 ms or 8 % is poor.
    const grades = await agent.page.evaluate(async () => {
      const { linkQuality } = await import('/console/relais.js');
      return [
        linkQuality({ rtt: 0.05, loss: 0 }),
        linkQuality({ rtt: 0.4, loss: 0.01 }),
        linkQuality({ rtt: 0.1, loss: 0.05 }),
        linkQuality({ rtt: 0.7, loss: 0 }),
        linkQuality({ rtt: 0.1, loss: 0.12 }),
        linkQuality({}),
      ];
    });
    assert.deepEqual(grades, ['good', 'fair', 'fair', 'poor', 'poor', 'unknown']);
    await kiosk.click('hangup');
    await agent.waitState(['wrap_up', 'available']);
    assert.equal(await text(agent, 'quality'), null, 'no badge without a call');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});

test('the agent chooses and tries its microphone and camera; the call in progress switches to them', { timeout: 60000 }, async () => {
  const agent = await agentFor(chromium, 'nadia', 'caf:3');
  const kiosk = await kioskFor('borne-devices');
  try {
    await agent.click('devices-open');
    await waitFor(() => agent.page.$$eval('#mic-select option', (o) => o.length), (n) => n >= 1, 5000, 'the microphones are listed');
    const mics = await agent.page.$$eval('#mic-select option', (options) => options.map((o) => ({ id: o.value, label: o.textContent })));
    console.log(`microphones: ${JSON.stringify(mics.map((m) => m.label))}`);
    assert.ok(mics.length >= 2, 'the fake devices give several microphones');
    // The level meter moves with the (fake) microphone's sound.
    await waitFor(() => agent.page.$eval('[data-testid="device-level"]', (e) => Number(e.dataset.level || 0)), (l) => l > 0, 5000, 'the level meter moves');
    await shot(agent, 'agent-1280x800-devices');
    // The loudspeaker test plays (the browser refuses nothing).
    await agent.click('speaker-test');
    await sleep(500);
    assert.equal(await text(agent, 'devices-error'), null, 'the test tone played');
    const wanted = mics[mics.length - 1].id;
    await agent.page.select('[data-testid="mic-select"]', wanted);
    await waitFor(() => agent.page.evaluate(() => JSON.parse(localStorage.getItem('relais.devices') || '{}').audioInput), (id) => id === wanted, 5000, 'the choice is kept');
    await agent.click('devices-close');

    // A call uses the chosen microphone; choosing another one switches the call to it.
    await connectedCall(agent, kiosk, 'caf');
    assert.equal((await hook(agent, 'sendingDevices')).audio, wanted, 'the call sends the chosen microphone');
    await agent.click('devices-open');
    const other = mics[0].id;
    await agent.page.select('[data-testid="mic-select"]', other);
    await waitFor(() => hook(agent, 'sendingDevices'), (d) => d.audio === other, 5000, 'the call switched microphone');
    await expectMedia(kiosk, 'kiosk');
    await agent.click('devices-close');
    await kiosk.click('hangup');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});
