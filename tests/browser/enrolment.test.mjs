// A kiosk enrolled once, against the real `relais` binary: an administrator creates it through
// the API and gets a one-time code; the kiosk, opened with no token, shows an installer screen
// (never a token prompt), takes the code and reaches its start screen with only its services;
// Chromium started again on the same profile is still enrolled and calls an agent; the code
// does not work twice; revoking the kiosk sends it back to the installer screen at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, waitFor } from './browsers.mjs';
import { kioskCalls, openConsole, setAgentState, startServer, text } from './consoles-harness.mjs';

let server;
let chromium;
let profile;

before(async () => {
  server = await startServer();
  chromium = await launchChromium();
  profile = await mkdtemp(join(tmpdir(), 'relais-kiosk-profile-'));
});

after(async () => {
  await chromium?.close();
  await server?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function api(method, path, token, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

const visibleText = (kiosk) => kiosk.page.evaluate(() => document.body.innerText);

test('a kiosk is enrolled with a one-time code, stays enrolled across a browser restart, calls an agent, and a revocation sends it back to the installer screen', { timeout: 120000 }, async () => {
  const admin = await server.token('admin', 'ines');
  const created = await api('POST', '/api/admin/kiosks', admin, { kiosk: 'borne-enrolee', site: 'mairie-de-chambon', services: ['caf'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const code = created.body.code;

  const agentToken = await server.token('agent', 'paul', ['--skills', 'caf:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent paul');
  await agent.waitState('not_ready');
  await setAgentState(agent, 'ready');
  await agent.waitState('available');

  // Unconfigured: an installer screen, no token prompt.
  let kioskBrowser = await launchChromium([], { profile });
  let kiosk = await openConsole(kioskBrowser, server.url, '/kiosk', null, 'kiosk (new)', { isolated: false });
  await kiosk.waitState('signin');
  const installer = await visibleText(kiosk);
  assert.match(installer, /Borne à installer/);
  assert.match(installer, /code d'installation/i);
  assert.doesNotMatch(installer, /jeton/i, 'no token prompt');
  await kiosk.shot('kiosk-installer');

  // A wrong code is refused on screen; the right one, typed with spaces in lower case, enrols.
  await kiosk.page.type('[data-testid="pairing-code"]', 'ZZZZZ-ZZZZZ');
  await kiosk.click('signin');
  await waitFor(() => kiosk.page.$eval('#signin-error', (e) => (e.hidden ? '' : e.textContent)), (t) => t.includes('Ce code ne marche pas'), 5000, 'the wrong code is refused');
  assert.equal(await kiosk.state(), 'signin');
  await kiosk.page.$eval('[data-testid="pairing-code"]', (input) => (input.value = ''));
  await kiosk.page.type('[data-testid="pairing-code"]', code.toLowerCase().replace('-', ' '));
  await kiosk.click('signin');
  await kiosk.waitState('start');
  assert.ok(await kiosk.page.$('[data-testid="service-caf"]'), 'its service is offered');
  assert.equal(await kiosk.page.$('[data-testid="service-cpam"]'), null, 'services it may not call are not offered');
  await kiosk.close();
  await kioskBrowser.close();

  // The code worked once.
  const again = await api('POST', '/api/kiosk/pair', null, { code });
  assert.equal(again.status, 400);

  // Chromium started again on the same profile: still enrolled, and it calls an agent.
  kioskBrowser = await launchChromium([], { profile });
  kiosk = await openConsole(kioskBrowser, server.url, '/kiosk', null, 'kiosk borne-enrolee', { isolated: false });
  try {
    await kioskCalls(kiosk, 'caf');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([agent.waitState('call'), kiosk.waitState('call')]);
    const listed = await api('GET', '/api/admin/kiosks', admin);
    const row = listed.body.kiosks.find((k) => k.kiosk === 'borne-enrolee');
    assert.equal(row.online, true, JSON.stringify(row));
    assert.ok(row.last_seen_ms > 0, JSON.stringify(row));
    // Its camera and microphone, as it said when it opened them, and its browser.
    assert.deepEqual([row.devices?.camera, row.devices?.microphone], ['ok', 'ok'], JSON.stringify(row));
    assert.match(row.devices.browser, /Chrome\/\d+/);
    await agent.click('hangup');
    await agent.waitState('wrap_up');
    await kiosk.waitState(['ended', 'start']);

    // Revoked: the kiosk is back on the installer screen, and says why.
    const revoked = await api('POST', '/api/admin/kiosks/borne-enrolee/revoke', admin, {});
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await kiosk.waitState('signin', 15000);
    assert.match(await text(kiosk, 'install'), /Cette borne n'est plus reconnue/);
    await kiosk.shot('kiosk-revoked');
    await kiosk.page.reload();
    await kiosk.waitState('signin');
  } finally {
    await kiosk.close();
    await kioskBrowser.close();
    await agent.close();
  }
});
