// Supervision against the real `relais` binary in Chromium: a kiosk calls, an agent answers, a
// supervisor listens in from the wallboard ("Écouter") and decodes both the kiosk's and the
// agent's video while its own microphone and camera stay closed; then a written message goes
// from the kiosk to the agent and one comes back. Screenshots go to tests/artifacts/consoles/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, waitFor, sleep } from './browsers.mjs';
import { expectMedia, expectVideos, hook, openConsole, setAgentState, startServer } from './consoles-harness.mjs';

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



test('a supervisor monitors a call and decodes both videos; kiosk and agent chat', async () => {
  const supervisor = await openConsole(chromium, server.url, '/supervisor', await server.token('supervisor', 'sophie'), 'wallboard');
  const agent = await openConsole(chromium, server.url, '/agent', await server.token('agent', 'alice', ['--skills', 'caf:3']), 'agent alice');
  const kiosk = await openConsole(chromium, server.url, '/kiosk', await server.token('kiosk', 'borne-sup', ['--site', 'mairie-test']), 'kiosk');
  try {
    await supervisor.waitState('live');
    await agent.waitState('not_ready');
    await setAgentState(agent, 'ready');
    await agent.waitState('available');
    await kiosk.waitState('start');
    // The kiosk tells callers, before they call, that calls may be listened to.
    const notice = await waitFor(() => hook(kiosk, 'notice'), Boolean, 5000, 'the kiosk has a notice');
    assert.equal(await kiosk.page.$eval('[data-testid="notice"]', (e) => (e.hidden ? '' : e.textContent)), notice, 'the notice is on the start screen');

    await kiosk.click('service-caf');
    await kiosk.waitState('check');
    await waitFor(() => kiosk.page.$eval('[data-testid="call"]', (b) => !b.disabled), Boolean, 10000, 'call button enabled');
    await kiosk.click('call');
    await agent.waitState('ringing');
    await agent.click('accept');
    await Promise.all([kiosk.waitState('call'), agent.waitState('call')]);
    await Promise.all([expectMedia(kiosk, 'kiosk'), expectMedia(agent, 'agent')]);

    // The wallboard lists the call; the supervisor listens in.
    const [live] = await waitFor(() => hook(supervisor, 'liveCalls'), (calls) => calls.length === 1, 10000, 'the wallboard lists the call');
    assert.equal(live.agent, 'alice');
    await supervisor.click(`monitor-${live.call}`);
    await waitFor(() => hook(supervisor, 'supervision'), (s) => s?.mode === 'monitor', 5000, 'the supervisor monitors');
    await expectVideos(supervisor, 'supervisor', 2);
    const supervision = await hook(supervisor, 'supervision');
    assert.deepEqual(supervision.sending, { audio: false, video: false }, 'a monitoring supervisor sends nothing');
    assert.equal(supervision.tiles.length, 2, 'one tile for the kiosk, one for the agent');
    await waitFor(
      () => hook(supervisor, 'liveCalls'),
      (calls) => calls[0]?.supervisors.some((s) => s.name === 'sophie' && s.mode === 'monitor'),
      7000,
      'the call lists its supervisor',
    );
    assert.ok(!(await hook(kiosk, 'participants')).some((p) => p.role === 'supervisor'), 'the kiosk does not see a monitoring supervisor');
    assert.ok(!(await hook(agent, 'participants')).some((p) => p.role === 'supervisor'), 'the agent does not see a monitoring supervisor');
    await supervisor.shot('s1-wallboard-monitor');

    // Written messages, each way.
    const fromKiosk = 'Bonjour, je voudrais <b>changer</b> mon adresse.';
    await kiosk.page.locator('[data-testid="chat-input"]').fill(fromKiosk);
    await kiosk.click('chat-send');
    await waitFor(() => hook(agent, 'chat'), (messages) => messages.some((m) => !m.mine && m.text === fromKiosk), 5000, "the kiosk's message reaches the agent");
    assert.ok((await hook(kiosk, 'chat')).some((m) => m.mine && m.text === fromKiosk), 'the kiosk shows its own message');
    const fromAgent = 'Bien sûr : quelle est la nouvelle adresse ?';
    await agent.page.locator('[data-testid="chat-input"]').fill(fromAgent);
    await agent.click('chat-send');
    await waitFor(() => hook(kiosk, 'chat'), (messages) => messages.some((m) => !m.mine && m.text === fromAgent), 5000, "the agent's message reaches the kiosk");
    assert.match(await agent.page.$eval('[data-testid="chat-log"]', (e) => e.textContent), /<b>changer<\/b>/, 'message text is shown as text');
    await kiosk.shot('s1-kiosk-chat');
    await agent.shot('s1-agent-chat');

    await supervisor.click('leave');
    await waitFor(() => hook(supervisor, 'supervision'), (s) => s === null, 5000, 'the supervisor left');
    await kiosk.click('hangup');
    await kiosk.waitState('ended');
    await agent.waitState('wrap_up');
  } finally {
    await kiosk.close();
    await agent.close();
    await supervisor.close();
  }
});
