// Consoles opened over plain HTTP from an address other than localhost, against the real
// `relais` binary: the browser gives such pages no camera and no microphone. The kiosk must say
// that HTTPS is missing to whoever installs it (not let a citizen choose a service and then
// blame the camera), and the agent console must say it too; both in the test namespace, where
// the server listens on 198.18.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './browsers.mjs';
import { hook, openConsole, startServer, text } from './consoles-harness.mjs';

const IN_NAMESPACE = process.env.E2E_MEDIA_IP === '198.18.0.1';

let server;
let chromium;

before(async () => {
  if (!IN_NAMESPACE) return;
  server = await startServer({ env: { RELAIS_HTTP__LISTEN: '198.18.0.1:0' } });
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

test('over plain HTTP off localhost, the kiosk and the agent console say HTTPS is required instead of blaming the camera', { skip: !IN_NAMESPACE && 'needs the test namespace (scripts/netns.sh)', timeout: 60000 }, async () => {
  assert.match(server.url, /^http:\/\/198\.18\.0\.1:/);
  const kioskToken = await server.token('kiosk', 'borne-http', ['--site', 'mairie-test']);
  const kiosk = await openConsole(chromium, server.url, '/kiosk', kioskToken, 'kiosk borne-http');
  const agentToken = await server.token('agent', 'hugo', ['--skills', 'caf:3']);
  const agent = await openConsole(chromium, server.url, '/agent', agentToken, 'agent hugo');
  try {
    assert.equal(await kiosk.page.evaluate(() => window.isSecureContext), false, 'the page is not a secure context');
    await kiosk.waitState('insecure');
    const shown = await kiosk.page.$eval('[data-testid="insecure"]', (el) => ({ hidden: el.hidden, text: el.innerText }));
    assert.equal(shown.hidden, false);
    assert.match(shown.text, /Borne non sécurisée/);
    assert.match(shown.text, /https/);
    assert.match(shown.text, /administrateur/);
    assert.equal(await kiosk.page.$('[data-testid="service-caf"]:not([hidden])'), null, 'no service to choose');
    assert.equal(await kiosk.page.$eval('[data-screen="start"]', (el) => el.hidden), true, 'the start screen stays hidden');
    assert.deepEqual(await hook(kiosk, 'missingTexts'), { fr: [], en: [], ar: [] });

    await agent.waitState('not_ready');
    assert.match(await text(agent, 'insecure'), /^HTTPS requis — contactez votre administrateur/);
    await kiosk.shot('kiosk-insecure');
    await agent.shot('agent-insecure');
  } finally {
    await kiosk.close();
    await agent.close();
  }
});
