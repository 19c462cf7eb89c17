// Being called back, in real browsers against the real `relais` binary: a Chromium kiosk that
// waits for a service that calls back is offered it, types a number on the screen's keypad
// (a wrong one is refused on screen) and leaves; the call is recorded `callback_requested`.
// An agent in Firefox ESR is offered the callback with the number, takes it (no media), says
// the citizen was reached, and wraps up; the task's record says `callback`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, launchFirefox, waitFor } from './browsers.mjs';
import { kioskCalls, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

const RAPPEL = `
[[services]]
id = "rappel"
name = "Mairie — être rappelé"
name_en = "Town hall — call back"
offer_timeout_secs = 15
wrap_up_secs = 30
callback_after_secs = 0
[[services.skills]]
skill = "caf"
min_proficiency = 1
`;

let server;
let chromium;
let firefox;

before(async () => {
  server = await startServer({ extraConfig: RAPPEL });
  chromium = await launchChromium();
  firefox = await launchFirefox();
});

after(async () => {
  await chromium?.close();
  await firefox?.close();
  await server?.stop();
});

const visible = (console_, testid) =>
  console_.page.evaluate((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    return Boolean(el) && !el.hidden && el.getClientRects().length > 0;
  }, testid);

async function typeNumber(kiosk, digits) {
  for (const key of digits) await kiosk.page.locator(`#callback-keypad [data-key="${key}"]`).click();
}

async function records() {
  const token = await server.token('supervisor', 'sophie');
  const reply = await fetch(`${server.url}/api/calls?format=json`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(reply.status, 200);
  return (await reply.json()).calls;
}

test('a waiting citizen leaves a number, an agent phones back and records that the citizen was reached', { timeout: 120000 }, async () => {
  const kioskToken = await server.token('kiosk', 'borne-rappel', ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', kioskToken, 'kiosk borne-rappel');
  const agentToken = await server.token('agent', 'nadia', ['--skills', 'caf']);
  const agent = await openConsole(firefox, server.url, '/agent', agentToken, 'agent nadia');
  try {
    await agent.waitState('not_ready');
    await kioskCalls(kiosk, 'rappel');
    await kiosk.waitState('waiting');
    await waitFor(() => visible(kiosk, 'callback-offer'), Boolean, 10000, 'the kiosk offers a callback');
    await kiosk.click('callback-open');
    await waitFor(() => visible(kiosk, 'callback-form'), Boolean, 5000, 'the keypad is shown');
    assert.equal(await visible(kiosk, 'cancel'), false, 'one thing at a time on screen');

    // A number too short is refused on screen; the call still waits.
    await typeNumber(kiosk, '0612');
    await kiosk.click('callback-confirm');
    await waitFor(() => visible(kiosk, 'callback-error'), Boolean, 5000, 'a wrong number is refused');
    assert.match(await text(kiosk, 'callback-error'), /10 chiffres/);
    assert.equal(await kiosk.state(), 'waiting');
    for (let i = 0; i < 4; i += 1) await kiosk.click('callback-erase');
    assert.equal(await text(kiosk, 'callback-number'), '');

    await typeNumber(kiosk, '0612345678');
    assert.equal(await text(kiosk, 'callback-number'), '06 12 34 56 78');
    const choices = await kiosk.page.$$eval('#callback-when label', (labels) => labels.map((l) => l.textContent));
    assert.equal(choices[0], 'Dès que possible');
    await kiosk.shot('callback-keypad');
    await kiosk.click('callback-confirm');
    await kiosk.waitState('ended');
    assert.match(await text(kiosk, 'ended-text'), /06 12 34 56 78/);

    const placed = (await records()).find((r) => r.kiosk === 'borne-rappel');
    assert.equal(placed?.outcome, 'callback_requested', JSON.stringify(placed));

    // The agent is offered the callback with the number; taking it opens no media.
    await setAgentState(agent, 'ready');
    await agent.waitState('ringing');
    assert.match(await text(agent, 'offer-callback'), /06 12 34 56 78/);
    await agent.click('accept');
    await agent.waitState('callback');
    await agent.shot('callback-task');
    assert.equal(await text(agent, 'callback-phone'), '06 12 34 56 78');
    const href = await agent.page.$eval('[data-testid="callback-phone"]', (a) => a.getAttribute('href'));
    assert.equal(href, 'tel:0612345678');
    // The console reloads while the agent phones: the callback is shown again.
    await agent.page.reload();
    await agent.waitState('callback', 20000);
    assert.equal(await text(agent, 'callback-phone'), '06 12 34 56 78');
    await agent.click('callback-reached');
    await agent.waitState('wrap_up');
    await agent.click('wrapup-done');
    await agent.waitState('available');

    const task = await waitFor(
      async () => (await records()).find((r) => r.kiosk === 'borne-rappel' && r.callback),
      Boolean,
      10000,
      'the callback task has its record',
    );
    assert.equal(task.outcome, 'answered');
    assert.equal(task.agent, 'nadia');
    assert.equal(task.enqueued_at_ms, placed.enqueued_at_ms, 'the task kept the call’s place');
    console.log(`# callback: requested after ${placed.wait_ms} ms of wait; task answered after ${task.wait_ms} ms counted from the original call`);
  } finally {
    await kiosk.close();
    await agent.close();
  }
});
