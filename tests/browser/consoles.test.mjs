// The three web consoles against the real `relais` binary, in Chromium and Firefox ESR: a kiosk
// calls, an agent answers, the wallboard follows; a reject goes to a second agent; a cancel
// counts as an abandon. Screenshots of every page in every state go to tests/artifacts/consoles/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, launchFirefox, waitFor, sleep } from './browsers.mjs';
import { expectMedia, openConsole, setAgentState, startServer, waitTile } from './consoles-harness.mjs';

let server;
let chromium;
let wallboard;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
  const token = await server.token('supervisor', 'sophie');
  wallboard = await openConsole(chromium, server.url, '/supervisor', token, 'wallboard');
  await wallboard.waitState('live');
  await wallboard.shot('wallboard-start');
});

after(async () => {
  await wallboard?.close().catch((err) => console.error(err.message));
  await chromium?.close();
  await server?.stop();
});

async function kioskFor(sub) {
  const token = await server.token('kiosk', sub, ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', token, `kiosk ${sub}`);
  await kiosk.waitState('start');
  return kiosk;
}

async function agentFor(browser, sub, skills, label = `agent ${sub}`) {
  const token = await server.token('agent', sub, ['--skills', skills]);
  const agent = await openConsole(browser, server.url, '/agent', token, label, { isolated: browser === chromium });
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');
  return agent;
}

/// Kiosk: choose a service, pass the camera check, call; resolves once the call waits.
async function kioskCalls(kiosk, service, name) {
  await kiosk.click(`service-${service}`);
  await kiosk.waitState('check');
  // The check screen enables "call" once camera and microphone are acquired.
  await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
  await waitFor(() => kiosk.page.$eval('video#check-video', (v) => v.videoWidth > 0), Boolean, 10000, 'self-view shows the camera');
  if (name) await kiosk.shot(`${name}-kiosk-check`);
  await kiosk.click('call');
  await kiosk.waitState(['waiting', 'call']);
}

/// Scenario 1 and 2: a call answered by an agent in `agentBrowser`, both sides get media, the
/// kiosk hangs up, the agent wraps up, the wallboard counts the answered call.
async function answeredCall({ agentBrowser, service, skills, agentSub, kioskSub, name }) {
  const agent = await agentFor(agentBrowser, agentSub, skills);
  await agent.shot(`${name}-agent-available`);
  const kiosk = await kioskFor(kioskSub);
  await kiosk.shot(`${name}-kiosk-start`);
  try {
    await kioskCalls(kiosk, service, name);
    await kiosk.shot(`${name}-kiosk-waiting`);

    // The agent's console rings, audibly (WebAudio ringer running) and visibly.
    await agent.waitState('ringing');
    assert.equal(await agent.page.evaluate(() => window.relaisTest.ringing()), true, 'the ringer runs');
    assert.match(await agent.page.$eval('[data-testid="offer-service"]', (e) => e.textContent), /\S/);
    await waitTile(wallboard, service, { waiting: '1', 'agents-reserved': '1' });
    await agent.shot(`${name}-agent-ringing`);
    await wallboard.shot(`${name}-wallboard-ringing`);
    await agent.click('accept');

    await agent.waitState('call');
    await kiosk.waitState('call');
    assert.equal(await agent.page.evaluate(() => window.relaisTest.ringing()), false, 'the ringer stopped');
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);
    await waitTile(wallboard, service, { waiting: '0', 'agents-on_call': '1' });
    await kiosk.shot(`${name}-kiosk-call`);
    await agent.shot(`${name}-agent-call`);
    await wallboard.shot(`${name}-wallboard-call`);

    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await kiosk.shot(`${name}-kiosk-ended`);
    await agent.waitState('wrap_up');
    await agent.page.locator('[data-testid="disposition"]').fill('renseignement');
    await agent.shot(`${name}-agent-wrapup`);
    await agent.click('wrapup-done');
    await agent.waitState('available');
    await waitFor(
      () => agent.page.$$eval('[data-testid="today-rows"] tr', (rows) => rows.map((r) => r.dataset.outcome)),
      (outcomes) => outcomes.length === 1 && outcomes[0] === 'answered',
      5000,
      "the agent's calls of the day list the answered call",
    );
    await agent.shot(`${name}-agent-after`);

    await waitTile(wallboard, service, { 'today-answered': '1', 'agents-on_call': '0', 'agents-available': '1', waiting: '0' });
    await wallboard.shot(`${name}-wallboard-answered`);

    // The kiosk goes back to its start screen on its own.
    await kiosk.waitState('start', 12000);
    await kiosk.shot(`${name}-kiosk-back`);
  } finally {
    await kiosk.close();
    await agent.close();
  }
}

test('kiosk (Chromium) calls, agent (Chromium) answers, both get media, the wallboard follows', async () => {
  await answeredCall({ agentBrowser: chromium, service: 'caf', skills: 'caf:3', agentSub: 'alice', kioskSub: 'borne-1', name: 't1' });
});

test('the same call with the agent in Firefox ESR', async () => {
  const firefox = await launchFirefox();
  try {
    await answeredCall({ agentBrowser: firefox, service: 'cpam', skills: 'cpam:3', agentSub: 'bob', kioskSub: 'borne-2', name: 't2-firefox' });
  } finally {
    await firefox.close();
  }
});

test('the agent rejects: the call is offered to a second agent', async () => {
  const carol = await agentFor(chromium, 'carol', 'ants:3');
  const dave = await agentFor(chromium, 'dave', 'ants:3');
  const kiosk = await kioskFor('borne-3');
  try {
    await kioskCalls(kiosk, 'ants');
    const [first, second] = await waitFor(
      async () => [await carol.state(), await dave.state()],
      (states) => states.includes('ringing'),
      10000,
      'one agent rings',
    ).then((states) => (states[0] === 'ringing' ? [carol, dave] : [dave, carol]));
    assert.equal(await second.state(), 'available', `${second.label} does not ring at the same time`);
    await first.shot('t3-agent-first-ringing');
    await first.click('reject');
    await first.waitState('available');
    await second.waitState('ringing', 10000);
    assert.equal(await first.state(), 'available', `${first.label} is not offered the call again`);
    await second.shot('t3-agent-second-ringing');
    await kiosk.shot('t3-kiosk-waiting');

    // The kiosk gives up while the second agent rings: the offer is withdrawn.
    await kiosk.click('cancel');
    await kiosk.waitState('ended');
    await second.waitState('available');
    assert.equal(await second.page.evaluate(() => window.relaisTest.ringing()), false, 'the ringer stopped');
    await second.shot('t3-agent-second-withdrawn');
  } finally {
    await kiosk.close();
    await carol.close();
    await dave.close();
  }
});

test('the kiosk cancels while waiting: the wallboard counts an abandon', async () => {
  const kiosk = await kioskFor('borne-4');
  try {
    // The start screen in English, then back to French.
    await kiosk.click('lang');
    await kiosk.shot('t4-kiosk-start-english');
    assert.equal(await kiosk.page.evaluate(() => document.documentElement.lang), 'en');
    await kiosk.click('lang');
    assert.equal(await kiosk.page.$eval('[data-testid="service-urssaf"]', (b) => b.disabled), true, 'a closed service cannot be chosen');

    await kioskCalls(kiosk, 'mairie');
    await kiosk.waitState('waiting');
    await waitFor(() => kiosk.page.$eval('[data-testid="position"]', (e) => e.textContent), (t) => t === '1', 5000, 'kiosk shows position 1');
    await waitTile(wallboard, 'mairie', { waiting: '1' });
    await kiosk.shot('t4-kiosk-waiting');
    await wallboard.shot('t4-wallboard-waiting');
    // Waiting 5 s or more makes it an abandon (shorter ones are counted apart).
    await sleep(5200);
    await kiosk.click('cancel');
    await kiosk.waitState('ended');
    await kiosk.shot('t4-kiosk-cancelled');
    await waitTile(wallboard, 'mairie', { waiting: '0', 'today-abandoned': '1' });
    await wallboard.shot('t4-wallboard-abandoned');
    await kiosk.waitState('start', 12000);
  } finally {
    await kiosk.close();
  }
});
