// Sign-in with the organisation's identity provider, in Chromium and Firefox ESR: a real
// OpenID provider (npm `oidc-provider`) started here; an agent signs in through its login page,
// lands in the console with the skills an administrator gave it and takes a call; the session
// cookie is out of the page's reach; signing out ends the session at Relais and at the
// provider; an account without a Relais role is told so; a supervisor and administrator opens
// the wallboard and the administration console, where it creates a service that a kiosk sees
// and calls without a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, launchFirefox, waitFor } from './browsers.mjs';
import { openConsole, startServer, text, kioskCalls, setAgentState } from './consoles-harness.mjs';
import { freePort, signInAtProvider, startProvider } from './oidc-provider.mjs';

async function start() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startProvider(url);
  const server = await startServer({
    extraConfig: idp.oidcToml,
    env: { RELAIS_HTTP__LISTEN: `127.0.0.1:${port}`, RELAIS_HTTP__PUBLIC_URL: url },
  }).catch(async (err) => {
    await idp.stop();
    throw err;
  });
  assert.equal(server.url.replace(/\/$/, ''), url);
  const admin = await server.token('admin', 'ines');
  const put = await fetch(`${url}/api/admin/agents/marie`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ skills: [['caf', 3]], teams: ['nord'] }),
  });
  assert.equal(put.status, 200, 'the agent profile is saved');
  return { url, idp, server };
}

/// Opens `path` signed out, goes through Relais's sign-in page and the provider's login page.
async function signIn(browser, url, path, login, label) {
  const console_ = await openConsole(browser, url, path, null, label);
  await console_.waitState('signin');
  await Promise.all([console_.page.waitForNavigation(), console_.click('signin-browser')]);
  await console_.page.waitForSelector('[data-testid="signin-oidc"]');
  await Promise.all([console_.page.waitForNavigation(), console_.click('signin-oidc')]);
  await signInAtProvider(console_.page, login);
  return console_;
}

async function agentSignsInTakesACallAndSignsOut(browser, name, { call = true } = {}) {
  const { url, idp, server } = await start();
  try {
    const started = Date.now();
    const agent = await signIn(browser, url, '/agent', 'marie', `${name}-agent`);
    await agent.waitState('not_ready', 20000);
    const signedInMs = Date.now() - started;
    assert.equal(new URL(agent.page.url()).pathname, '/agent');
    assert.equal(await agent.page.$eval('#who', (e) => e.textContent), 'marie');
    assert.ok(!(await agent.page.evaluate(() => document.cookie)).includes('relais_session'), 'the session cookie is HttpOnly');
    const session = await agent.page.evaluate(async () => (await fetch('/auth/session')).json());
    assert.deepEqual([session.subject, session.name, session.method, session.roles], ['marie', 'Marie Curie', 'oidc', ['agent']]);
    assert.ok(idp.requests.includes('/token') && idp.requests.includes('/jwks'), `Relais exchanged the code and checked the keys: ${idp.requests}`);
    console.log(`# ${name}: /agent → provider login → console in ${signedInMs} ms`);

    if (call) {
      // The skills of the profile reach the dispatcher: a kiosk's call to caf rings here.
      await setAgentState(agent, 'ready');
      await agent.waitState('available');
      const kiosk = await openConsole(browser, url, '/kiosk', await server.token('kiosk', 'borne-oidc'), `${name}-kiosk`);
      await kioskCalls(kiosk, 'caf');
      await agent.waitState('ringing', 15000);
      await kiosk.click('cancel');
      await agent.waitState('available', 15000);
      await kiosk.close();
    }

    // Signing out: off the queues, session ended at Relais and at the provider, back to the
    // sign-in page that says so.
    await agent.click('signout');
    await agent.page.waitForSelector('button[name="logout"][value="yes"]', { timeout: 15000 });
    await Promise.all([agent.page.waitForNavigation(), agent.page.click('button[name="logout"][value="yes"]')]);
    await agent.page.waitForSelector('[data-testid="signed-out"]', { timeout: 15000 });
    assert.equal(new URL(agent.page.url()).origin, url);
    const after = await agent.page.evaluate(async () => (await fetch('/auth/session')).status);
    assert.equal(after, 401, 'the session has ended');
    assert.ok(idp.requests.includes('/session/end'), `the provider's log-out was used: ${idp.requests}`);
    await agent.page.goto(`${url}/agent`);
    await agent.waitState('signin');
    await agent.close();
  } finally {
    await server.stop();
    await idp.stop();
  }
}

test('an agent signs in with the identity provider in Chromium, takes a call and signs out', async () => {
  const browser = await launchChromium();
  try {
    await agentSignsInTakesACallAndSignsOut(browser, 'chromium');
  } finally {
    await browser.close();
  }
});

test('an agent signs in with the identity provider in Firefox ESR and signs out', async () => {
  const browser = await launchFirefox();
  try {
    await agentSignsInTakesACallAndSignsOut(browser, 'firefox', { call: false });
  } finally {
    await browser.close();
  }
});

test('roles come from the provider: none refused, a supervisor and administrator changes services live; new provider keys are read again', async () => {
  const started = await start();
  const { url, server } = started;
  let { idp } = started;
  const browser = await launchChromium();
  try {
    // No Relais role: told so on the sign-in page, no session.
    const intrus = await signIn(browser, url, '/agent', 'intrus', 'intrus');
    await intrus.page.waitForSelector('[data-testid="signin-error"]');
    assert.match(await text(intrus, 'signin-error'), /n'a pas accès à Relais/);
    assert.equal(await intrus.page.evaluate(async () => (await fetch('/auth/session')).status), 401);
    await intrus.close();

    // Supervisor and administrator: the wallboard, then the administration console in the
    // same browser session.
    const wallboard = await signIn(browser, url, '/supervisor', 'sylvie', 'sylvie-wallboard');
    await wallboard.waitState('live', 20000);
    const page = wallboard.page;
    await page.goto(`${url}/admin`);
    await waitFor(() => page.evaluate(() => window.relaisTest?.state()), (s) => s === 'console', 15000, 'admin console').catch(async (err) => {
      throw new Error(`${err.message}; the page says: ${await text(wallboard, 'signin-error')}`);
    });
    assert.equal(await page.$eval('[data-testid="who"]', (e) => e.textContent), 'Sylvie Germain');

    // A new service with hours that make it open now, created from the console.
    await page.click('[data-testid="service-new"]');
    await page.$eval('[data-testid="service-text"]', (e) => {
      e.value = 'id = "mairie-test"\nname = "Accueil de la mairie (test)"\noffer_timeout_secs = 8\n';
    });
    await page.click('[data-testid="service-save"]');
    await page.waitForSelector('tr[data-service="mairie-test"]', { timeout: 10000 });
    const kiosk = await openConsole(browser, url, '/kiosk', await server.token('kiosk', 'borne-admin'), 'admin-kiosk');
    await kiosk.waitState('start');
    await waitFor(() => kiosk.page.$('[data-testid="service-mairie-test"]'), Boolean, 10000, 'the kiosk shows the new service');

    // A refused change says why and changes nothing.
    await page.click('[data-testid="service-edit-mairie-test"]');
    await page.$eval('[data-testid="service-text"]', (e) => {
      e.value = 'id = "mairie-test"\nname = "x"\noverflow_to = "nulle-part"\n';
    });
    await page.click('[data-testid="service-save"]');
    await page.waitForSelector('[data-testid="service-error"]:not([hidden])');
    assert.match(await text(wallboard, 'service-error'), /nulle-part/);
    const audit = await page.evaluate(async () => (await fetch('/api/audit')).json());
    const entries = audit.entries ?? audit;
    assert.equal(entries.filter((e) => e.action === 'service_saved' && e.actor === 'sylvie').length, 1, 'one change audited, by the signed-in administrator');
    // A kiosk enrolled from the console: its one-time pairing code is shown.
    await page.type('[data-testid="kiosk-id"]', 'borne-mairie-test');
    await page.type('[data-testid="kiosk-site"]', 'mairie-de-test');
    await page.type('[data-testid="kiosk-services"]', 'mairie-test');
    await page.click('[data-testid="kiosk-create"]');
    await page.waitForSelector('tr[data-kiosk="borne-mairie-test"]', { timeout: 10000 });
    const code = await page.$eval('[data-testid="pairing"]', (e) => e.dataset.code);
    assert.match(code, /^[A-Z0-9]{5}-?[A-Z0-9]{5}$/i, `a pairing code: ${code}`);
    await kiosk.close();
    await wallboard.close();

    // The provider rotates its signing key (restarted with a new one): the next sign-in's ID
    // token names a key Relais has not read yet; it reads the keys again and lets marie in.
    const before = idp.kid;
    await idp.stop();
    idp = await startProvider(url, { port: idp.port });
    assert.notEqual(idp.kid, before);
    const agent = await signIn(browser, url, '/agent', 'marie', 'marie-after-rotation');
    await agent.waitState('not_ready', 20000);
    assert.ok(idp.requests.includes('/jwks'), `the new keys were read: ${idp.requests}`);
    await agent.close();
  } finally {
    await browser.close();
    await server.stop();
    await idp.stop();
  }
});
